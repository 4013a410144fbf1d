"""List columns of parquet tables (votes, probabilities) as 2-D numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sertools.classes import K


def isin(values: pd.Series, candidates: pd.Series) -> np.ndarray:
    """Boolean array: which of ``values`` occur in ``candidates`` (``Series.isin``, in Arrow).

    pandas' ``isin`` on Arrow-backed string columns builds a Python object per
    candidate: 0.1 s for the 20,000 file ids of a study corpus, paid by every
    label-manifest join; Arrow's hash lookup takes 2 ms.
    """
    found = pc.is_in(pa.array(values), value_set=pa.array(candidates))
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def list_column(mat: np.ndarray) -> pd.Series:
    """A list column (one list of ``mat.shape[1]`` numbers per row) backed by ``mat``'s values in Arrow.

    No Python object per row: building it and :func:`stack_lists` on it are one buffer copy each,
    where a column of per-row arrays costs a Python object per row both ways.
    """
    mat = np.ascontiguousarray(mat)
    n, width = mat.shape
    offsets = pa.array(np.arange(0, (n + 1) * width, width, dtype=np.int32))
    values = pa.ListArray.from_arrays(offsets, pa.array(mat.reshape(-1)))
    return pd.Series(pd.arrays.ArrowExtensionArray(values))


def stack_lists(column: Any, name: str, width: int = K) -> np.ndarray:
    """(N, ``width``) float64 array from a column of equal-length numeric lists.

    ``column`` is a pandas Series, a numpy object array or any sequence of
    lists/arrays; ``name`` names it in the error raised (ValueError) when an
    entry is not a list of ``width`` numbers. An empty column gives (0, width).
    """
    arrow = _arrow_lists(column)
    if arrow is not None:
        flat = arrow.flatten().to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        lengths = pc.list_value_length(arrow).to_numpy(zero_copy_only=False)
        if arrow.null_count == 0 and (lengths == width).all():
            return flat.reshape(len(arrow), width)
    values: Sequence[Any] = column.to_numpy() if hasattr(column, "to_numpy") else column
    if len(values) == 0:
        return np.zeros((0, width))
    try:  # one conversion of the whole column (several times faster than stacking row by row)
        fast = np.array(values.tolist() if hasattr(values, "tolist") else list(values), dtype=np.float64)
        if fast.ndim == 2 and fast.shape[1] == width:
            return fast
    except (ValueError, TypeError):
        pass  # ragged or non-numeric: the row-by-row path below names the problem
    try:
        out = np.stack([np.asarray(v, dtype=np.float64) for v in values])
    except ValueError as err:
        raise ValueError(f"{name}: every entry must be a list of {width} numbers ({err})") from None
    if out.ndim != 2 or out.shape[1] != width:
        raise ValueError(f"{name}: every entry must be a list of {width} numbers, got shape {out.shape}")
    return out


def _arrow_lists(column: Any) -> pa.ListArray | None:
    """The Arrow list array behind an Arrow-backed pandas list column (None for any other column)."""
    dtype = getattr(column, "dtype", None)
    if not isinstance(dtype, pd.ArrowDtype) or not pa.types.is_list(dtype.pyarrow_dtype):
        return None
    chunked = column.array.__arrow_array__()  # the pyarrow ChunkedArray behind the pandas column
    return chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)

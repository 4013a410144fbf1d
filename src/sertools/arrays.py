"""List columns of parquet tables (votes, probabilities) as 2-D numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sertools.classes import K


def stack_lists(column: Any, name: str, width: int = K) -> np.ndarray:
    """(N, ``width``) float64 array from a column of equal-length numeric lists.

    ``column`` is a pandas Series, a numpy object array or any sequence of
    lists/arrays; ``name`` names it in the error raised (ValueError) when an
    entry is not a list of ``width`` numbers. An empty column gives (0, width).
    """
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

"""The prediction dump: one parquet file of per-utterance model outputs per (variant, seed, split).

Columns (:data:`SCHEMA`): ``file_id``, ``split``, ``probs`` (9 float32 class
probabilities in :data:`sertools.classes.CLASSES` order), ``pred`` (the
predicted class index, normally the argmax of ``probs``), and the dimensional
head's ``arousal, valence, dominance`` on the 1-7 scale. Rows are sorted by
``file_id``; a split without utterances gives an empty file with the same
schema. The prediction stage writes it with :func:`write`; the metrics and
significance stages read it with :func:`read`, which checks it with
:func:`validate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sertools.arrays import stack_lists
from sertools.classes import CLASS_SETS, DIMENSIONS
from sertools.io import atomic_path
from sertools.measures import row_sums

__all__ = ["SCHEMA", "PredictionsError", "build", "read", "schema", "validate", "write"]

PathLike = str | Path


def schema(dimensions: Sequence[str] = DIMENSIONS) -> pa.Schema:
    """The dump's schema for a model predicting ``dimensions`` (A/V/D, or none)."""
    return pa.schema(
        [
            ("file_id", pa.string()),
            ("split", pa.string()),
            ("probs", pa.list_(pa.float32())),
            ("pred", pa.int64()),
            *((d, pa.float32()) for d in dimensions),
        ]
    )


#: the schema of a model with A/V/D (MSP-Podcast); a class set without A/V/D has no rating columns
SCHEMA = schema(DIMENSIONS)
SCHEMAS = (SCHEMA, schema(()))
#: the numbers of classes a dump's ``probs`` may have: those of the known class sets
WIDTHS = frozenset(c.k for c in CLASS_SETS.values())
_TEXT_COLUMNS = ("file_id", "split")


class PredictionsError(ValueError):
    """A prediction dump is missing, unreadable or does not follow :data:`SCHEMA`."""


def build(file_ids: Sequence[str], split: str, probs: np.ndarray, dims: np.ndarray) -> pa.Table:
    """The prediction table of one split, rows in the given order: ``probs`` (N, K) class
    probabilities (K: the model's classes), ``dims`` (N, 3) A/V/D ratings on the 1-7 scale
    (:data:`DIMENSIONS` order), or (N, 0) for a model without A/V/D (no rating columns)."""
    probs = np.asarray(probs, dtype=np.float32)
    k = probs.shape[-1]
    probs = probs.reshape(-1, k)
    dims = np.asarray(dims, dtype=np.float32)
    dimensions = DIMENSIONS if dims.shape[-1] else ()
    dims = dims.reshape(-1, len(dimensions)) if dimensions else dims.reshape(len(dims), 0)
    n = len(file_ids)
    if probs.shape[0] != n or dims.shape[0] != n:
        raise PredictionsError(
            f"{split}: {n} utterances, {probs.shape[0]} distributions, {dims.shape[0]} A/V/D rows"
        )
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    columns = {
        "file_id": pa.array(list(file_ids), pa.string()),
        "split": pa.array([split] * n, pa.string()),
        "probs": pa.ListArray.from_arrays(offsets, pa.array(probs.reshape(-1), pa.float32())),
        "pred": pa.array(probs.argmax(axis=1) if n else np.zeros(0, np.int64), pa.int64()),
    }
    columns.update({d: pa.array(dims[:, i], pa.float32()) for i, d in enumerate(dimensions)})
    return pa.table(columns, schema=schema(dimensions))


def write(path: PathLike, table: pa.Table) -> None:
    """Write a prediction table (a schema of :data:`SCHEMAS`) to ``path`` atomically."""
    if not any(table.schema.equals(s) for s in SCHEMAS):
        raise PredictionsError(f"{path}: prediction table schema {table.schema} is not {SCHEMA}")
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read(path: PathLike, what: str = "prediction dump") -> pd.DataFrame:
    """The prediction dump at ``path`` as a DataFrame, checked by :func:`validate`.

    ``what`` names the file in the error messages.
    """
    p = Path(path)
    if not p.is_file():
        raise PredictionsError(f"{what} not found: {p}")
    try:
        df = pd.read_parquet(p)
    except Exception as err:  # pyarrow raises several types for a broken file
        raise PredictionsError(f"{what} {p} is not a readable parquet file ({err})") from None
    validate(df, f"{what} {p}")
    return df


def validate(df: pd.DataFrame, where: str = "prediction dump") -> None:
    """Raise :class:`PredictionsError` unless ``df`` is a well-formed prediction dump.

    Checks: every :data:`SCHEMA` column present (the A/V/D columns all or none);
    text ``file_id``/``split``, integer ``pred`` in [0, K), floating dimensions;
    ``probs`` rows of K non-negative numbers summing to 1 (within
    ``sertools.measures.ROW_SUM_TOL``), K that of a known class set (:data:`WIDTHS`)
    and the same in every row; no duplicated ``file_id``.
    """
    dimensions = DIMENSIONS if any(d in df.columns for d in DIMENSIONS) else ()
    missing = [c for c in schema(dimensions).names if c not in df.columns]
    if missing:
        raise PredictionsError(f"{where}: lacks column(s) {missing}; has {list(df.columns)}")
    if not len(df):
        return
    for c in _TEXT_COLUMNS:
        if not (pd.api.types.is_string_dtype(df[c]) or pd.api.types.is_object_dtype(df[c])):
            raise PredictionsError(f"{where}: column {c!r} must hold text, has dtype {df[c].dtype}")
    for c in dimensions:
        if not pd.api.types.is_float_dtype(df[c]):
            raise PredictionsError(f"{where}: column {c!r} must be floating point, has dtype {df[c].dtype}")
    if not pd.api.types.is_integer_dtype(df["pred"]):
        raise PredictionsError(f"{where}: column 'pred' must hold integers, has dtype {df['pred'].dtype}")
    k = len(df["probs"].iloc[0])
    if k not in WIDTHS:
        raise PredictionsError(
            f"{where}: 'probs' rows have {k} entries; a class set has {' or '.join(map(str, sorted(WIDTHS)))}"
        )
    pred = df["pred"].to_numpy()
    if pred.min() < 0 or pred.max() >= k:
        raise PredictionsError(f"{where}: 'pred' values must lie in [0, {k - 1}]")
    try:
        probs = stack_lists(df["probs"], f"{where}: column 'probs'", width=k)
    except ValueError as err:
        raise PredictionsError(str(err)) from None
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise PredictionsError(f"{where}: 'probs' holds negative, NaN or infinite values")
    sums, bad = row_sums(probs)
    if bad.size:
        raise PredictionsError(
            f"{where}: {bad.size} 'probs' rows do not sum to 1 "
            f"(first: {df['file_id'].iloc[bad[0]]!r} sums to {sums[bad[0]]:.6g})"
        )
    dup = df["file_id"][df["file_id"].duplicated()]
    if len(dup):
        raise PredictionsError(f"{where}: duplicated file_id values, e.g. {dup.iloc[0]!r}")

"""The audio manifest (``results/manifest/manifest.parquet``): its one definition.

One row per labelled utterance with usable audio; the columns, their types and
invariants are listed in docs/corpus.md ("The audio manifest"). The manifest
stage writes it with :func:`write`; every reader goes through :func:`read`.
Both run :func:`validate`, which stops at the first problem with a
:class:`ManifestError` naming the file, the column and an offending utterance.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sertools.io import read_parquet_checked, require_columns, write_parquet
from sertools.splits import SPLITS

#: every column, in the order the manifest stage writes them, with its kind
COLUMNS: dict[str, str] = {
    "file_id": "str",
    "split": "str",
    "path": "str",
    "source_path": "str",
    "duration_s": "float",
    "frames": "int",
    "sample_rate": "int",
    "source_sample_rate": "int",
    "source_channels": "int",
    "source_subtype": "str",
    "converted": "bool",
}
DURATION_TOLERANCE_S = 1e-6


class ManifestError(ValueError):
    """A manifest that is missing, unreadable, or breaks the schema."""


def empty() -> pd.DataFrame:
    """A manifest with no rows (every column present)."""
    return pd.DataFrame([], columns=list(COLUMNS))


def write(df: pd.DataFrame, path: str | Path) -> None:
    """Validate ``df`` and write it atomically."""
    validate(df, path)
    write_parquet(path, df)


def read(
    path: str | Path, *, columns: Sequence[str] | None = None, require: Sequence[str] | None = None
) -> pd.DataFrame:
    """The manifest at ``path``, validated.

    ``columns``: read only these (default: all). ``require``: columns that must
    be present (default: ``columns``, or every column of the schema).
    """
    need = list(require if require is not None else columns if columns is not None else COLUMNS)
    df = read_parquet_checked(path, what="manifest", error=ManifestError, need=need, columns=columns)
    validate(df, path, require=need)
    return df


def validate(
    df: pd.DataFrame, path: str | Path = "<manifest>", *, require: Sequence[str] = tuple(COLUMNS)
) -> None:
    """Check ``df`` against the schema; raise :class:`ManifestError` naming ``path`` and the problem.

    Every column of ``require`` (default: all) must be present; every schema column that is
    present is checked: types, unique non-empty ``file_id``, known splits,
    positive frame counts and rates, one ``sample_rate`` for all rows and
    ``duration_s == frames / sample_rate``.
    """
    _require(list(df.columns), require, path)
    if len(df) == 0:
        return
    where = f"{path}: manifest"
    for name, kind in COLUMNS.items():
        if name in df.columns:
            _check_dtype(df[name], kind, where)

    def rows(column: str, mask: np.ndarray, problem: str) -> None:
        _first_bad_row(df, where, column, mask, problem)

    if "file_id" in df.columns:
        rows("file_id", df["file_id"].duplicated(keep="first").to_numpy(), "is listed more than once")
        rows("file_id", (df["file_id"].str.len() == 0).to_numpy(), "is empty")
    if "split" in df.columns:
        rows("split", pd.Index(SPLITS).get_indexer(df["split"]) < 0, f"is not one of {', '.join(SPLITS)}")
    for name in ("path", "source_path"):
        if name in df.columns:
            rows(name, (df[name].str.len() == 0).to_numpy(), "is empty")
    for name in ("frames", "sample_rate", "source_sample_rate", "source_channels"):
        if name in df.columns:
            rows(name, df[name].to_numpy() <= 0, "is not positive")
    if "sample_rate" in df.columns:
        rate = df["sample_rate"].to_numpy()
        rows("sample_rate", rate != rate[0], f"differs from the first row's {rate[0]}")
    if {"duration_s", "frames", "sample_rate"} <= set(df.columns):
        expected = df["frames"].to_numpy() / df["sample_rate"].to_numpy()
        off = ~(np.abs(df["duration_s"].to_numpy(dtype=np.float64) - expected) <= DURATION_TOLERANCE_S)
        rows("duration_s", off, "is not frames / sample_rate")


def _first_bad_row(df: pd.DataFrame, where: str, column: str, mask: np.ndarray, problem: str) -> None:
    """Raise naming the first row of ``mask`` (and how many there are), if any."""
    if not mask.any():
        return
    i = int(np.flatnonzero(mask)[0])
    who = f"{df['file_id'].iloc[i]!r}" if "file_id" in df.columns else f"row {i}"
    value = df[column].iloc[i]
    shown = value.tolist() if hasattr(value, "tolist") else value  # numpy -> plain Python
    raise ManifestError(
        f"{where}: column {column!r} of {who} ({shown!r}) {problem} ({int(mask.sum())} row(s))"
    )


def _require(columns: Sequence[str], need: Sequence[str], path: str | Path) -> None:
    require_columns(columns, need, path, what="manifest", error=ManifestError)


def _check_dtype(s: pd.Series, kind: str, where: str) -> None:
    ok = {
        "str": pd.api.types.is_string_dtype,
        "int": pd.api.types.is_integer_dtype,
        "bool": pd.api.types.is_bool_dtype,
        "float": lambda t: pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t),
    }[kind](s)
    if not ok:
        raise ManifestError(f"{where}: column {s.name!r} has type {s.dtype}, expected {kind}")

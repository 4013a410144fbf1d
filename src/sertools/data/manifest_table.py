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

from sertools.io import FrameChecks, read_table, require_columns, write_parquet
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
    """The manifest at ``path``, validated (``columns``, ``require``: see :func:`sertools.io.read_table`)."""
    return read_table(
        path,
        what="manifest",
        error=ManifestError,
        schema=COLUMNS,
        validate=validate,
        columns=columns,
        require=require,
    )


def validate(
    df: pd.DataFrame, path: str | Path = "<manifest>", *, require: Sequence[str] = tuple(COLUMNS)
) -> None:
    """Check ``df`` against the schema; raise :class:`ManifestError` naming ``path`` and the problem.

    Every column of ``require`` (default: all) must be present; every schema column that is
    present is checked: types, unique non-empty ``file_id``, known splits,
    positive frame counts and rates, one ``sample_rate`` for all rows and
    ``duration_s == frames / sample_rate``.
    """
    require_columns(list(df.columns), require, path, what="manifest", error=ManifestError)
    if len(df) == 0:
        return
    bad = FrameChecks(df, f"{path}: manifest", ManifestError)
    for name, kind in COLUMNS.items():
        if name in df.columns:
            bad.dtype(name, kind)
    bad.file_ids()
    bad.member("split", SPLITS)
    for name in ("path", "source_path"):
        if name in df.columns:
            bad.rows(name, (df[name].str.len() == 0).to_numpy(), "is empty")
    for name in ("frames", "sample_rate", "source_sample_rate", "source_channels"):
        if name in df.columns:
            bad.rows(name, df[name].to_numpy() <= 0, "is not positive")
    if "sample_rate" in df.columns:
        rate = df["sample_rate"].to_numpy()
        bad.rows("sample_rate", rate != rate[0], f"differs from the first row's {rate[0]}")
    if {"duration_s", "frames", "sample_rate"} <= set(df.columns):
        expected = df["frames"].to_numpy() / df["sample_rate"].to_numpy()
        off = ~(np.abs(df["duration_s"].to_numpy(dtype=np.float64) - expected) <= DURATION_TOLERANCE_S)
        bad.rows("duration_s", off, "is not frames / sample_rate")

"""The CREMA-D label table: its one definition (a typed artifact of its own).

One row per clip of the chosen modality (``crema_d.modality``); the columns,
their types and invariants are listed in docs/corpus.md ("CREMA-D", "The
CREMA-D label table"). The vote vectors are over the class set
:data:`sertools.classes.CREMA_D` (6 classes, no Other, no A/V/D), so the table
is not the MSP-Podcast label table (:mod:`sertools.labels.table`, 9 classes)
with a marker: the two share no reader by accident. The parquet schema metadata
names the table kind (``sertools.label_table: crema_d``) and the class names
(``sertools.classes``), which :func:`read` checks.

:func:`write` and :func:`read` run :func:`validate`, which stops at the first
problem with a :class:`CremaDTableError` naming the file, the column and an
offending clip. The per-rater columns (``raters``, ``rater_votes``,
``rater_levels``) are present only when the download has finishedResponses.csv.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sertools.arrays import stack_lists
from sertools.classes import CREMA_D, NO_AGREEMENT
from sertools.io import FrameChecks, atomic_path, read_table, require_columns
from sertools.splits import SPLITS

#: the modalities a table can hold (sertools.corpus.crema_d.MODALITIES)
MODALITY_NAMES: tuple[str, ...] = ("voice", "face", "audiovisual")
#: the intended levels of a file name (sertools.corpus.crema_d.LEVELS)
LEVEL_NAMES: tuple[str, ...] = ("LO", "MD", "HI", "XX")

#: every fixed column, in the order the label stage writes them, with its kind
COLUMNS: dict[str, str] = {
    "file_id": "str",
    "split": "str",
    "speaker": "str",
    "sex": "str",
    "age": "float",
    "sentence": "str",
    "intended": "str",
    "intended_level": "str",
    "modality": "str",
    "clip": "int",
    "n_responses": "int",
    "agreement": "float",
    "emo_vote": "str",
    "consensus": "str",
    "hard_label": "int",
    "entropy": "float",
    "mean_intensity": "float",
    "votes": "list",
    "p_votes": "list",
}
#: the per-rater columns (one entry per response, in the order of finishedResponses.csv)
RATER_COLUMNS: dict[str, str] = {"raters": "ragged", "rater_votes": "ragged", "rater_levels": "ragged"}
SUM_TOLERANCE = 1e-6
KIND_KEY = b"sertools.label_table"
KIND = b"crema_d"
_CLASSES_KEY = b"sertools.classes"


class CremaDTableError(ValueError):
    """A CREMA-D label table that is missing, unreadable, or breaks the schema."""


def write(df: pd.DataFrame, path: str | Path) -> None:
    """Validate ``df`` and write it atomically, with the table kind and class names in the metadata."""
    validate(df, path, require=tuple(COLUMNS))
    table = pa.Table.from_pandas(_plain_lists(df), preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[KIND_KEY] = KIND
    meta[_CLASSES_KEY] = ",".join(CREMA_D.names).encode()
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)


def _plain_lists(df: pd.DataFrame) -> pd.DataFrame:
    """The list columns as Python lists of plain values (one Arrow list type per column)."""
    out = df.copy()
    for name in ("votes", "rater_votes"):
        if name in out.columns:
            out[name] = [[int(v) for v in row] for row in out[name]]
    for name in ("p_votes", "rater_levels"):
        if name in out.columns:
            out[name] = [[float(v) for v in row] for row in out[name]]
    if "raters" in out.columns:
        out["raters"] = [[str(v) for v in row] for row in out["raters"]]
    return out


def read(path: str | Path, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The CREMA-D label table at ``path``, validated; an MSP-Podcast label table is refused."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        raise CremaDTableError(f"{path}: CREMA-D label table not found") from None
    except Exception as e:  # pyarrow raises several types for a file that is not parquet
        raise CremaDTableError(f"{path}: cannot read the CREMA-D label table as parquet ({e})") from None
    if meta.get(KIND_KEY) != KIND:
        raise CremaDTableError(
            f"{path}: not a CREMA-D label table (its metadata names classes "
            f"{meta.get(_CLASSES_KEY, b'?').decode()!r})"
        )
    return read_table(
        path,
        what="CREMA-D label table",
        error=CremaDTableError,
        schema=COLUMNS,
        validate=validate,
        columns=columns,
    )


def validate(
    df: pd.DataFrame, path: str | Path = "<CREMA-D label table>", *, require: Sequence[str] = tuple(COLUMNS)
) -> None:
    """Check ``df`` against the schema; raise :class:`CremaDTableError` naming ``path`` and the problem.

    Required columns present; types; unique ``file_id``; known splits, codes, levels and
    modalities; ``votes`` whole, non-negative and summing to ``n_responses`` (at least 1);
    ``p_votes`` = votes / n_responses; ``hard_label`` the index of ``consensus`` (null exactly
    for X); ``agreement`` in (0, 1], ``entropy`` in [0, 1]; the per-rater lists (if present)
    of one length per clip.
    """
    require_columns(list(df.columns), require, path, what="CREMA-D label table", error=CremaDTableError)
    bad = _Checks(df, f"{path}: CREMA-D label table", CremaDTableError)
    for name in df.columns:
        k = COLUMNS.get(name)
        if k is not None and k != "list":
            bad.dtype(name, k)
    bad.file_ids()
    bad.member("split", SPLITS)
    bad.member("consensus", CREMA_D.consensus_codes)
    bad.member("intended", CREMA_D.codes)
    bad.member("intended_level", LEVEL_NAMES)
    bad.member("modality", MODALITY_NAMES)
    if "hard_label" in df.columns and "consensus" in df.columns:
        hard = df["hard_label"].astype("Int64")
        known = hard.notna().to_numpy()
        value = hard.fillna(-1).to_numpy(dtype=np.int64)
        expected = pd.Index(CREMA_D.codes).get_indexer(pd.Index(df["consensus"]))
        is_x = (df["consensus"] == NO_AGREEMENT).to_numpy()
        bad.rows(
            "hard_label", np.where(is_x, known, value != expected), "does not match consensus (null for X)"
        )
    if "n_responses" in df.columns:
        bad.rows("n_responses", df["n_responses"].to_numpy() < 1, "is below 1")
    bad.outside("agreement", 0.0, 1.0, low_open=True)
    bad.outside("entropy", 0.0, 1.0)
    mats = {c: _matrix(df, c, path) for c in ("votes", "p_votes") if c in df.columns}
    for name, m in mats.items():
        bad.rows(
            name, ~np.isfinite(m).all(axis=1) | (m < 0).any(axis=1), "has a negative or non-finite entry"
        )
    if "votes" in mats:
        v = mats["votes"]
        bad.rows("votes", (v != np.round(v)).any(axis=1), "has a non-integer count")
        if "n_responses" in df.columns:
            bad.rows("votes", v.sum(axis=1) != df["n_responses"].to_numpy(), "does not add up to n_responses")
    if "p_votes" in mats:
        bad.rows("p_votes", np.abs(mats["p_votes"].sum(axis=1) - 1.0) > SUM_TOLERANCE, "does not sum to 1")
    present = [c for c in RATER_COLUMNS if c in df.columns]
    if present:
        lengths = np.array([[len(x) for x in df[c]] for c in present]).reshape(len(present), len(df))
        bad.rows(
            present[0], (lengths != lengths[0]).any(axis=0), f"differs in length among {', '.join(present)}"
        )


def _matrix(df: pd.DataFrame, column: str, path: str | Path) -> np.ndarray:
    """(N, 6) float64 array of a list column."""
    try:
        return stack_lists(df[column], column, width=CREMA_D.k)
    except ValueError as e:
        raise CremaDTableError(f"{path}: CREMA-D label table: {e}") from None


class _Checks(FrameChecks):
    """The shared checks and value ranges."""

    def outside(self, column: str, lo: float, hi: float, *, low_open: bool = False) -> None:
        if column not in self.df.columns:
            return
        x = self.df[column].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            out = np.isnan(x) | (x <= lo if low_open else x < lo - 1e-9) | (x > hi + 1e-9)
        self.rows(column, out, f"is outside {'(' if low_open else '['}{lo:g}, {hi:g}] or missing")

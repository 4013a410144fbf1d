"""The label table (``results/labels/labels.parquet``): its one definition.

One row per utterance; the columns, their types and invariants are listed in
docs/corpus.md ("The label table"). Besides the fixed columns of
:data:`COLUMNS`, the table holds one ``p_release_<name>`` distribution and one
``hard_guarded_release_<name>`` hard label per entry of
``labels.release_merged_weights``: such columns are recognised by their name
(:func:`kind`). The label stage writes it with
:func:`write`; every reader goes through :func:`read`. Both run
:func:`validate`, which stops at the first problem with a
:class:`LabelTableError` naming the file, the column and an offending
utterance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sertools.arrays import stack_lists
from sertools.classes import CLASSES, CODES, CONSENSUS_CODES, DIMENSIONS, NO_AGREEMENT, OTHER, K
from sertools.io import FrameChecks, atomic_path, read_table, require_columns
from sertools.splits import SPLITS

#: every column, in the order the label stage writes them, with its kind
COLUMNS: dict[str, str] = {
    "file_id": "str",
    "split": "str",
    "speaker": "str",
    "gender": "str",
    "consensus": "str",
    "hard_label": "int",
    "plurality": "str",
    "n_annotators": "int",
    "agreement": "float",
    "entropy_primary": "float",
    "entropy_merged": "float",
    # each attribute's mean rating and its standard deviation
    **{column: "float" for d in DIMENSIONS for column in (d, f"{d}_sd")},
    "votes_primary": "list",
    "votes_merged": "list",
    "p_primary": "list",
    "p_merged": "list",
    # the paper release's rules (sertools.labels.release); p_release_<name> follow p_release_secondary
    "p_release_primary": "list",
    "p_release_secondary": "list",
    "hard_consensus_x_other": "int",
    "hard_guarded_primary": "int",
    "hard_guarded_merged": "int",
    "hard_guarded_release_primary": "int",
    # hard_guarded_release_<name> follow
}
#: this package's own distributions (see distribution_columns for all)
DISTRIBUTIONS: tuple[str, ...] = ("p_primary", "p_merged")
#: the one distribution whose rows may be all zero (nobody gave a secondary label)
MAY_BE_EMPTY: tuple[str, ...] = ("p_release_secondary",)
#: named columns: a release distribution and its guarded hard label, per merge weight entry
_RELEASE_DISTRIBUTION = re.compile(r"^p_release_[A-Za-z0-9]+$")
_GUARDED = re.compile(r"^hard_guarded_(primary|merged|release_[A-Za-z0-9]+)$")
_NOT_A_COLUMN = ("hard_guarded_release_secondary",)  # the secondary distribution gets no hard label
SUM_TOLERANCE = 1e-6
_CLASSES_KEY = b"sertools.classes"
#: set by the label tables of other corpora (sertools.labels.crema_d_table), never by this one
_TABLE_KIND_KEY = b"sertools.label_table"


class LabelTableError(ValueError):
    """A label table that is missing, unreadable, or breaks the schema."""


def kind(column: str) -> str | None:
    """The kind (``str``, ``int``, ``float``, ``list``) of a schema column, by name; None if not one."""
    if column in COLUMNS:
        return COLUMNS[column]
    if column in _NOT_A_COLUMN:
        return None
    if _RELEASE_DISTRIBUTION.match(column):
        return "list"
    if _GUARDED.match(column):
        return "int"
    return None


def list_columns(columns: Iterable[str]) -> list[str]:
    """The list columns (votes, distributions) among ``columns``, in their order."""
    return [c for c in columns if kind(c) == "list"]


def distribution_columns(columns: Iterable[str]) -> list[str]:
    """The distribution columns (``p_...``) among ``columns``, in their order."""
    return [c for c in columns if kind(c) == "list" and c.startswith("p_")]


def hard_label_columns(columns: Iterable[str]) -> list[str]:
    """The release's hard-label columns (``hard_consensus_x_other``, ``hard_guarded_...``) among ``columns``."""
    return [c for c in columns if kind(c) == "int" and c.startswith("hard_") and c != "hard_label"]


def write(df: pd.DataFrame, path: str | Path) -> None:
    """Validate ``df`` and write it atomically (list columns from flat buffers, fast).

    The checks run while a second thread encodes the parquet file (both mostly outside
    the GIL); a failed check waits for the writer and leaves no file behind.
    """
    mats = {c: matrix(df, c, path) for c in list_columns(df.columns)}
    arrow = _to_arrow(df, mats)
    with atomic_path(path) as tmp:
        with ThreadPoolExecutor(max_workers=1) as pool:
            written = pool.submit(pq.write_table, arrow, tmp)
            _check(df, path, tuple(COLUMNS), mats)
        written.result()


def read(
    path: str | Path, *, columns: Sequence[str] | None = None, require: Sequence[str] | None = None
) -> pd.DataFrame:
    """The label table at ``path``, validated (``columns``, ``require``: see :func:`sertools.io.read_table`).

    Another corpus's label table (CREMA-D's, :mod:`sertools.labels.crema_d_table`) is refused by name.
    """
    _refuse_other_corpus(path)
    return read_table(
        path,
        what="label table",
        error=LabelTableError,
        schema=COLUMNS,
        validate=validate,
        columns=columns,
        require=require,
    )


def _refuse_other_corpus(path: str | Path) -> None:
    """Stop with a clear message when ``path`` is a label table of another kind (its metadata says so)."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # missing or not parquet: read_table names the problem
        return
    kind = meta.get(_TABLE_KIND_KEY)
    if kind is not None:
        raise LabelTableError(
            f"{path}: a {kind.decode()} label table (classes {meta.get(_CLASSES_KEY, b'').decode()}), not "
            "MSP-Podcast's 9-class label table: the stages after labels do not read it yet "
            '(docs/corpus.md, "CREMA-D")'
        )


def validate(
    df: pd.DataFrame, path: str | Path = "<label table>", *, require: Sequence[str] = tuple(COLUMNS)
) -> None:
    """Check ``df`` against the schema; raise :class:`LabelTableError` naming ``path`` and the problem.

    Every column of ``require`` (default: all fixed ones) must be present; every schema
    column that is present is checked (types, ranges, distributions summing to 1 -
    ``p_release_secondary`` may also be all zero -, unique ``file_id``, known splits
    and codes, ``hard_label`` and ``hard_consensus_x_other`` matching ``consensus``,
    hard labels being class indices).
    """
    _validated(df, path, require)


def _validated(df: pd.DataFrame, path: str | Path, require: Sequence[str]) -> dict[str, np.ndarray]:
    """:func:`validate`, returning the list columns as (N, 9) arrays."""
    mats = {c: matrix(df, c, path) for c in list_columns(df.columns)}
    _check(df, path, require, mats)
    return mats


def matrix(df: pd.DataFrame, column: str, path: str | Path = "<label table>") -> np.ndarray:
    """(N, 9) float64 array of a list column (votes or probabilities)."""
    try:
        return stack_lists(df[column], column)
    except ValueError as e:
        raise LabelTableError(f"{path}: label table: {e}") from None


# ----------------------------------------------------------------------------- checks


def _check(df: pd.DataFrame, path: str | Path, require: Sequence[str], mats: dict[str, np.ndarray]) -> None:
    require_columns(list(df.columns), require, path, what="label table", error=LabelTableError)
    bad = _Problems(df, f"{path}: label table", LabelTableError)
    for name in df.columns:
        k = kind(name)
        if k is not None and k != "list":
            bad.dtype(name, k)
    bad.file_ids()
    bad.member("split", SPLITS)
    bad.member("consensus", CONSENSUS_CODES)
    bad.member("plurality", CONSENSUS_CODES)
    if "hard_label" in df.columns:
        _check_hard_label(df, bad)
    for name in hard_label_columns(df.columns):
        value = df[name].to_numpy()
        bad.rows(name, (value < 0) | (value >= K), f"is not a class index 0-{K - 1}")
    if "hard_consensus_x_other" in df.columns and "consensus" in df.columns:
        expected = pd.Index(CODES).get_indexer(pd.Index(df["consensus"]))
        expected = np.where((df["consensus"] == NO_AGREEMENT).to_numpy(), OTHER, expected)
        bad.rows(
            "hard_consensus_x_other",
            df["hard_consensus_x_other"].to_numpy() != expected,
            "does not match the consensus code (X as Other)",
        )
    if "n_annotators" in df.columns:
        bad.rows("n_annotators", df["n_annotators"].to_numpy() < 1, "is below 1")
    bad.outside("agreement", 0.0, 1.0, low_open=True)
    for name in ("entropy_primary", "entropy_merged"):
        bad.outside(name, 0.0, 1.0)
    for name in DIMENSIONS:
        bad.outside(name, 1.0, 7.0, allow_nan=True)
        bad.outside(f"{name}_sd", 0.0, np.inf, allow_nan=True)
    _check_lists(df, mats, bad)


def _check_hard_label(df: pd.DataFrame, bad: _Problems) -> None:
    hard = df["hard_label"].astype("Int64")
    known = hard.notna().to_numpy()
    value = hard.fillna(-1).to_numpy(dtype=np.int64)
    bad.rows("hard_label", known & ((value < 0) | (value >= K)), f"is not a class index 0-{K - 1}")
    if "consensus" in df.columns:
        expected = pd.Index(CODES).get_indexer(pd.Index(df["consensus"]))  # class index; -1 for X
        is_x = (df["consensus"] == NO_AGREEMENT).to_numpy()
        mismatch = np.where(is_x, known, ~known | (value != expected))
        bad.rows("hard_label", mismatch, "does not match the consensus code (null exactly for X)")


def _check_lists(df: pd.DataFrame, mats: dict[str, np.ndarray], bad: _Problems) -> None:
    for name, m in mats.items():
        bad.rows(
            name, ~np.isfinite(m).all(axis=1) | (m < 0).any(axis=1), "has a negative or non-finite entry"
        )
    if "votes_primary" in mats:
        votes = mats["votes_primary"]
        bad.rows("votes_primary", (votes != np.round(votes)).any(axis=1), "has a non-integer vote count")
        if "n_annotators" in df.columns:
            n = df["n_annotators"].to_numpy()
            bad.rows("votes_primary", votes.sum(axis=1) != n, "does not add up to n_annotators")
    for name in distribution_columns(mats):
        total = mats[name].sum(axis=1)
        off = np.abs(total - 1.0) > SUM_TOLERANCE
        if name in MAY_BE_EMPTY:
            bad.rows(name, off & (total != 0.0), "sums to neither 1 nor 0")
        else:
            bad.rows(name, off, "does not sum to 1")


class _Problems(FrameChecks):
    """The checks of the label table: the shared ones and value ranges."""

    def outside(
        self, column: str, lo: float, hi: float, *, low_open: bool = False, allow_nan: bool = False
    ) -> None:
        if column not in self.df.columns:
            return
        x = self.df[column].to_numpy(dtype=np.float64, na_value=np.nan)
        nan = np.isnan(x)
        with np.errstate(invalid="ignore"):
            out = (x <= lo if low_open else x < lo - 1e-9) | (x > hi + 1e-9)
        mask = out | (nan & (not allow_nan))
        interval = f"{'(' if low_open else '['}{lo:g}, {hi:g}]"
        self.rows(column, mask, f"is outside {interval}" + ("" if allow_nan else " or missing"))


# ----------------------------------------------------------------------------- arrow


def _to_arrow(df: pd.DataFrame, mats: dict[str, np.ndarray]) -> pa.Table:
    """Arrow table with the vote columns as list<...> built from flat buffers (fast).

    ``mats``: the list columns as (N, 9) float64 arrays. The list values keep the frame's dtype
    (int64 primary votes, float64 otherwise); the columns keep the frame's order.
    """
    n = len(df)
    lists = list_columns(df.columns)
    offsets = pa.array(np.arange(0, (n + 1) * K, K, dtype=np.int32))
    table = pa.Table.from_pandas(df.drop(columns=lists), preserve_index=False)
    for name in lists:
        dtype = np.asarray(df[name].iloc[0]).dtype if n else np.float64
        values = mats[name].astype(dtype, copy=False)
        table = table.append_column(name, pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1))))
    meta = dict(table.schema.metadata or {})  # keeps pandas' dtypes (nullable Int64)
    meta[_CLASSES_KEY] = ",".join(CLASSES).encode()
    return table.select(list(df.columns)).replace_schema_metadata(meta)

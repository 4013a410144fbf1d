"""The ``labels`` stage: raw MSP-Podcast label files -> the label table and its summary.

:func:`build_labels` takes five steps: set aside the rows of partitions the run
does not use (before anything about their labels is checked), validate the
consensus rows, mark the invalid annotation rows (the first failing reason of
a row is the one counted), select the utterances, and summarise, with kept +
dropped = read for utterances and annotation rows. A split the run needs whose
utterances are all dropped stops the stage (:func:`check_nothing_lost`). The
decisions are listed under "Label decisions" in docs/corpus.md; docs/bad_input.md
lists what each kind of bad input does. The table's schema is
:mod:`sertools.labels.table`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sertools.arrays import list_column, stack_lists
from sertools.classes import CLASSES, CONSENSUS_CODES, primary_index
from sertools.corpus.msp import (
    LABELS_TXT_LAYOUT,
    RawLabels,
    canonical_split,
    is_labels_txt,
    read_label_files,
    source_text,
)
from sertools.io import write_json
from sertools.labels import distributions, release, table
from sertools.splits import DEVELOPMENT, SPLITS, TEST_SPLITS, TRAIN

log = logging.getLogger(__name__)

RATING_COLUMNS = {"act": "EmoAct", "val": "EmoVal", "dom": "EmoDom"}
NEUTRAL = CLASSES.index("Neutral")
#: how a labels.txt error names the part of a worker line that failed
_TXT_FIELDS = {
    "EmoClass_Major": "primary",
    "FileName": "file name",
    "EmoAct": "A:",
    "EmoVal": "V:",
    "EmoDom": "D:",
}


class LabelError(ValueError):
    """Invalid label data, named by file, line and column."""


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    labels: Mapping[str, Any],
    evaluation_splits: Sequence[str] | None = None,
) -> dict:
    """The ``labels`` rule: read ``inputs`` ``consensus`` and ``detailed`` (and
    ``partitions`` when the consensus is labels.txt), write ``outputs`` ``table``
    and ``summary``.

    ``inputs``/``outputs`` are Snakemake named lists or dicts; ``labels`` is the
    config section; ``evaluation_splits`` is ``evaluation.splits`` (default: every
    test split), which with Train and Development makes the splits the run uses.
    ``detailed`` is a labels_detailed file or labels.txt, and must be the kind
    ``labels.detailed_source`` asks for (``auto`` takes either). Returns the summary.
    """
    _check_detailed_source(inputs["detailed"], labels["detailed_source"])
    partitions = dict(inputs.items()).get("partitions")  # a Snakemake named list's `in` looks at values
    raw = read_label_files(inputs["consensus"], inputs["detailed"], partitions)
    df, summary = _build(raw, labels, evaluation_splits)
    table.write(df, outputs["table"])
    write_json(outputs["summary"], summary)
    log.info(
        "labels: kept %d of %d utterances, %d of %d annotation rows; dropped %s / %s",
        summary["utterances_kept"],
        summary["utterances_read"],
        summary["annotations_kept"],
        summary["annotations_read"],
        summary["utterances_dropped"],
        summary["annotations_dropped"],
    )
    return summary


def _check_detailed_source(detailed: Any, source: str) -> None:
    """The detailed input must be the kind of file ``labels.detailed_source`` names."""
    txt = is_labels_txt(detailed)
    if (source == "labels_txt" and not txt) or (source == "labels_detailed" and txt):
        want = "labels.txt" if source == "labels_txt" else "labels_detailed.csv or .json"
        raise LabelError(
            f"labels.detailed_source is {source}, so the detailed labels must be {want}, "
            f"but the label stage was given {str(detailed)!r}"
        )


def used_splits(evaluation_splits: Sequence[str] | None = None) -> tuple[str, ...]:
    """The splits a run uses: Train, Development and ``evaluation_splits`` (default: the
    test splits), in :data:`sertools.splits.SPLITS` order."""
    wanted = {TRAIN, DEVELOPMENT, *(TEST_SPLITS if evaluation_splits is None else evaluation_splits)}
    return tuple(s for s in SPLITS if s in wanted)


def build_labels(
    raw: RawLabels, labels_cfg: Mapping[str, Any], evaluation_splits: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Turn raw label tables into the per-utterance table and its summary.

    ``evaluation_splits``: see :func:`used_splits`; rows of any other partition are
    set aside (counted by split) before their labels are looked at. The list columns
    hold one numpy array per row, as a table read back from parquet does.
    """
    df, summary = _build(raw, labels_cfg, evaluation_splits)
    for name in table.list_columns(df.columns):
        df[name] = list(
            stack_lists(df[name], name).astype(np.asarray(df[name].iloc[0]).dtype if len(df) else float)
        )
    return df, summary


def _build(
    raw: RawLabels, labels_cfg: Mapping[str, Any], evaluation_splits: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """:func:`build_labels` with the list columns Arrow-backed (:func:`sertools.arrays.list_column`): what
    :func:`run` writes, without a Python object per row and list (pandas cannot read such a frame back
    from its own parquet, so it stays inside this module)."""
    splits = used_splits(evaluation_splits)
    aside = _set_aside(raw, splits)
    cons = _validated_consensus(raw, aside.used)
    rows = _Rows(raw, labels_cfg["on_invalid_annotation"])
    rows.drop(aside.annotation_reason(rows.det), None)
    _mark_invalid_annotations(raw, rows, labels_cfg)
    chosen = _select_utterances(raw, cons, rows, labels_cfg, aside)
    check_nothing_lost(raw, rows, chosen, splits)
    keep = rows.reason == ""
    det = rows.det
    df, vote_summary = distributions.aggregate(
        chosen.consensus,
        chosen.utt[keep],
        rows.prim[keep],
        det.loc[keep, "secondary"],
        {f: v[keep] for f, v in rows.ratings.items()},
        rows.factorized("worker").codes[keep],
        labels_cfg,
    )
    df, release_summary = _release_columns(df, chosen.utt[keep], det.loc[keep], labels_cfg)
    summary = _summarise(raw, rows, chosen, df, vote_summary, labels_cfg)
    summary["source"]["splits_used"] = list(splits)
    summary["release"] = release_summary
    return df, summary


def _release_columns(
    df: pd.DataFrame, utt: np.ndarray, kept: pd.DataFrame, labels_cfg: Mapping[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The label table with the paper release's columns appended, and the summary's ``release`` block.

    Built from the same kept annotation rows as the other columns, mapped by the
    release's word map (docs/corpus.md, "The paper release's label rules").
    """
    weights = labels_cfg["release_merged_weights"]
    for name, w in weights.items():
        if float(w["primary"]) + float(w["secondary"]) <= 0:
            raise LabelError(
                f"labels.release_merged_weights.{name}: primary and secondary weights are both 0"
            )
    votes = _rows(df, "votes_primary")
    columns, sec = release.label_columns(
        utt,
        kept["primary"],
        kept["secondary"],
        df["consensus"].tolist(),
        votes[:, NEUTRAL],
        {"primary": _rows(df, "p_primary"), "merged": _rows(df, "p_merged")},
        weights,
    )
    out = df.copy()
    for name, values in columns.items():
        out[name] = list_column(values) if values.ndim == 2 else values
    return out, release.summary(df["split"].to_numpy(), columns, sec, weights)


def _rows(df: pd.DataFrame, column: str) -> np.ndarray:
    """(N, K) float64 array of a list column the stage has just built (every entry K numbers).

    One concatenation instead of :func:`sertools.labels.table.matrix`'s checks per entry.
    """
    return stack_lists(df[column], column)


# ----------------------------------------------------------------------------- step 1: unused partitions


@dataclass(frozen=True)
class _Aside:
    """The consensus rows of partitions the run does not use, set aside unread."""

    used: np.ndarray  # bool per consensus row: its partition is used
    split_of: dict[str, str]  # set-aside file -> its (canonical) partition
    counts: Counter[str]  # set-aside files by partition

    def annotation_reason(self, det: pd.DataFrame) -> np.ndarray:
        """``split_not_used:<split>`` for the annotation rows of set-aside files, else ``""``."""
        out = np.full(len(det), "", dtype=object)
        if self.split_of:
            split = det["file_id"].map(self.split_of)
            hit = split.notna().to_numpy()
            out[hit] = [f"split_not_used:{s or '<empty>'}" for s in split[hit]]
        return out


def _set_aside(raw: RawLabels, splits: Sequence[str]) -> _Aside:
    """Find the consensus rows whose partition is not in ``splits`` (nothing else is read).

    A file with a used row as well is not set aside (its listing twice is reported
    with the used rows).
    """
    cons = raw.consensus
    split = _canonical_splits(cons["split"])
    used = _member(split, splits)
    used_ids = pd.Index(cons.loc[used, "file_id"]).unique()
    other = cons.loc[~used, "file_id"]
    first = ~other.duplicated(keep="first").to_numpy() & ~_member(other, used_ids)
    split_of = dict(zip(other[first], split[~used][first], strict=True))
    counts = Counter(s or "<empty>" for s in split_of.values())
    return _Aside(used, split_of, counts)


# ----------------------------------------------------------------------------- step 2: consensus rows


def _validated_consensus(raw: RawLabels, used: np.ndarray) -> pd.DataFrame:
    """The consensus rows of used partitions, with upper-case codes and canonical split names.

    A file listed twice (among these rows, or also in an unused partition) or an
    unknown consensus code stops the run.
    """
    every = raw.consensus.reset_index(drop=True)
    cons = every.loc[used].reset_index(drop=True)
    cname = raw.consensus_path.name
    dup = cons["file_id"].duplicated(keep="first").to_numpy()
    if dup.any():
        row = cons.loc[dup].iloc[0]
        raise LabelError(f"{cname} line {row['line']}, column FileName: {row['file_id']!r} is listed twice")
    also = every.loc[~used & _member(every["file_id"], pd.Index(cons["file_id"]))]
    if len(also):
        row = also.iloc[0]
        raise LabelError(
            f"{cname} line {row['line']}, column FileName: {row['file_id']!r} is listed twice "
            f"(also in partition {row['split']!r})"
        )
    code = cons["consensus"].str.upper()
    bad_code = ~_member(code, CONSENSUS_CODES)
    if bad_code.any():
        row = cons.loc[bad_code].iloc[0]
        raise LabelError(
            f"{cname} line {row['line']}, column EmoClass: unknown consensus code {row['consensus']!r} "
            f"(allowed: {', '.join(CONSENSUS_CODES)})"
        )
    return cons.assign(consensus=code, split=_canonical_splits(cons["split"]))


def _canonical_splits(split: pd.Series) -> pd.Series:
    """``split.map(canonical_split)``, calling it once per distinct name."""
    if not len(split):
        return split.map(canonical_split)
    codes, uniques = pd.factorize(split, use_na_sentinel=False)
    mapped = pd.Series(uniques).map(canonical_split)
    return pd.Series(mapped.to_numpy()[codes], index=split.index, dtype=mapped.dtype, name=split.name)


# ----------------------------------------------------------------------------- step 3: annotation rows


class _Rows:
    """The annotation rows and why each is rejected (``""``: kept so far; the first reason wins)."""

    def __init__(self, raw: RawLabels, on_invalid: str) -> None:
        self.raw = raw
        self.det = raw.detailed.reset_index(drop=True)
        self.name = raw.detailed_path.name
        self.on_invalid = on_invalid
        self.reason = np.full(len(self.det), "", dtype=object)
        # The 1.11 layout has all values in one column, named in every message.
        self.layout_column = "EmoDetail" if raw.detailed_layout == "1.11" else None
        self.field_of = {
            "EmoClass_Major": "primary",
            "FileName": "file_id",
            **{v: k for k, v in RATING_COLUMNS.items()},
        }
        self.prim = np.full(len(self.det), -1, dtype=np.int64)
        self.ratings: dict[str, np.ndarray] = {}
        self.txt = raw.detailed_layout == LABELS_TXT_LAYOUT
        # later rows of a (file, worker) pair seen before among valid rows
        self.repeated = np.zeros(len(self.det), dtype=bool)
        self._factorized: dict[str, _Factorized] = {}

    def factorized(self, column: str) -> _Factorized:
        """``column`` of the annotation rows factorized (once: file ids and workers are used
        by several steps)."""
        if column not in self._factorized:
            self._factorized[column] = _Factorized(self.det[column])
        return self._factorized[column]

    def reject(self, mask: np.ndarray, why: str, column: str, problem: str) -> None:
        """Mark rows newly failing ``why`` (or stop, naming the first, when invalid rows are errors).

        ``column`` is the 2.0 column name of the failing value.
        """
        new = mask & (self.reason == "")
        if not new.any():
            return
        if self.on_invalid == "error":
            raise LabelError(self.message(self.det.loc[new].iloc[0], why, column, problem))
        self.reason[new] = why

    def message(self, row: pd.Series, why: str, column: str, problem: str) -> str:
        """The file, the line, what failed, and the row as the file holds it."""
        value = row[self.field_of[column]] if column in self.field_of else ""
        if self.txt or self.layout_column:  # a worker line or EmoDetail value: name the part, show the text
            whole = "the worker line" if self.txt else "the EmoDetail value"
            what = whole if why == "malformed_row" else f"{_TXT_FIELDS[column]} {value!r}"
            where = f"{self.name} line {row['line']}" + (
                f", column {self.layout_column}" if self.layout_column else ""
            )
            return f"{where}: {what} {problem}: {row['raw']!r}"
        return (
            f"{self.name} line {row['line']}, column {column}: {value!r} {problem}; "
            f"the row as written: {source_text(self.raw, row)!r}"
        )

    def drop(self, mask: np.ndarray, why: str | None) -> None:
        """Mark rows that are dropped for a reason that is never an error here.

        ``mask`` is boolean, or (``why`` None) an array of reasons with ``""`` for none.
        """
        if why is None:
            self.reason = np.where(self.reason == "", mask, self.reason).astype(object)
            return
        self.reason[mask & (self.reason == "")] = why


def _mark_invalid_annotations(raw: RawLabels, rows: _Rows, labels_cfg: Mapping[str, Any]) -> None:
    """Parse primaries and ratings; mark malformed, invalid and duplicate-worker rows
    (rows already set aside are not looked at)."""
    det = rows.det
    if raw.bad_block_headers and rows.on_invalid == "error":
        line, text = raw.bad_block_headers[0]
        raise LabelError(
            f"{rows.name} line {line}: block header {text!r} does not match "
            f"'<file>; <code>; A:x; V:x; D:x;' ({len(raw.bad_block_headers)} such block(s))"
        )
    rows.reject(
        det["malformed"].to_numpy(dtype=bool),
        "malformed_row",
        "EmoClass_Major",
        "does not match 'WORKER; primary; secondary; A:x; V:x; D:x;'",
    )
    rows.reject((det["file_id"].str.len() == 0).to_numpy(), "missing_file_name", "FileName", "is empty")
    rows.prim = _primary_indices(det["primary"])
    rows.reject(
        rows.prim < 0,
        "unknown_primary",
        "EmoClass_Major",
        "is not a known primary emotion (Angry, Sad, Happy, Surprise, Fear, Disgust, Contempt, Neutral, Other...)",
    )
    for f, col in RATING_COLUMNS.items():
        rows.ratings[f], missing, out_of_range = _parse_ratings(det[f])
        rows.reject(missing, "non_numeric_rating", col, "is missing or not a number")
        rows.reject(out_of_range, "rating_out_of_range", col, "is outside the 1-7 rating scale")
    _mark_duplicate_workers(rows, labels_cfg["on_duplicate_worker"])


def _primary_indices(primary: pd.Series) -> np.ndarray:
    """Class index of each primary label, -1 when unknown (each distinct string parsed once)."""
    codes, uniques = pd.factorize(primary)
    lookup = np.array([-1 if (i := primary_index(s)) is None else i for s in uniques], dtype=np.int64)
    return lookup[codes] if len(uniques) else np.full(len(primary), -1, dtype=np.int64)


def _parse_ratings(raw: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, missing-or-non-numeric, out of 1-7) of a column of rating strings.

    Ratings take a handful of distinct spellings, so each distinct string is
    parsed once (pd.to_numeric on 1.4 M strings costs seconds).
    """
    codes, uniques = pd.factorize(raw)
    parsed = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    values = np.where(codes >= 0, parsed[np.maximum(codes, 0)] if len(parsed) else np.nan, np.nan)
    missing = np.isnan(values)
    out_of_range = ~missing & ((values < 1) | (values > 7))
    return values, missing, out_of_range


def _mark_duplicate_workers(rows: _Rows, on_duplicate: str) -> None:
    """A worker rating the same file twice among otherwise valid rows: keep the first
    (``keep_first``), keep every row so that the worker votes once per row (``keep_all``),
    or stop (``error``).

    The later rows of a repeated (file, worker) pair are remembered in
    ``rows.repeated``: under ``keep_all`` the summary counts those still kept.
    """
    det = rows.det
    valid = rows.reason == ""
    dup = np.zeros(len(det), dtype=bool)
    dup[valid] = _repeated_pairs(
        rows.factorized("file_id").codes[valid], rows.factorized("worker").codes[valid]
    )
    if dup.any() and on_duplicate == "error":
        row = det.loc[dup].iloc[0]
        raise LabelError(
            f"{rows.name} line {row['line']}, column WorkerID: worker {row['worker']!r} rates "
            f"{row['file_id']!r} twice"
        )
    rows.repeated = dup
    if on_duplicate != "keep_all":
        rows.drop(dup, "duplicate_worker")


def _repeated_pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Which (first, second) pairs of non-negative codes occurred before
    (``DataFrame.duplicated(keep="first")``); codes, because hashing pairs of arrow-backed
    strings is several times slower."""
    if not len(first):
        return np.zeros(0, dtype=bool)
    a, b = first.astype(np.int64), second.astype(np.int64)
    return pd.Series(a * (int(b.max()) + 1) + b).duplicated(keep="first").to_numpy()


# ----------------------------------------------------------------------------- step 4: utterances


@dataclass(frozen=True)
class _Chosen:
    """The kept utterances and where each annotation row goes."""

    consensus: pd.DataFrame  # kept consensus rows, sorted by file_id
    utt: np.ndarray  # row of each annotation in ``consensus`` (-1: not kept)
    universe: int  # utterances named in either file
    dropped: Counter[str]  # utterances dropped, by reason
    read: pd.DataFrame  # consensus rows of used partitions (file_id, split, why: drop reason or "")


def _select_utterances(
    raw: RawLabels, cons: pd.DataFrame, rows: _Rows, labels_cfg: Mapping[str, Any], aside: _Aside
) -> _Chosen:
    """Match the two files, drop utterances without enough valid annotations.

    ``cons``: the consensus rows of used partitions; the set-aside ones are
    counted by partition. Annotation rows of a dropped or unknown utterance are
    marked as well.
    """
    strict = labels_cfg["on_unmatched_utterance"] == "error"
    dropped: Counter[str] = Counter({f"split_not_used:{s}": n for s, n in aside.counts.items()})
    cons_ids = pd.Index(raw.consensus["file_id"]).unique()
    files = rows.factorized("file_id")
    det_ids = files.uniques[(pd.Series(files.uniques).str.len() > 0).to_numpy(dtype=bool, na_value=False)]
    _match_files(raw, rows, cons_ids, det_ids, files, strict, dropped)

    valid = rows.reason == ""
    row_of = files.positions(pd.Index(cons["file_id"]))  # file_ids of cons are unique
    why = _enough_annotations(raw, rows, cons, row_of, det_ids, labels_cfg, strict)
    why = _limit_per_split(cons, why, labels_cfg["limit_per_split"])
    dropped.update(why[why != ""].tolist())
    chosen = cons.loc[why == ""].sort_values("file_id")
    kept = chosen.reset_index(drop=True)
    rank = np.full(len(cons) + 1, -1, dtype=np.int64)  # the last entry: rows of no consensus row
    rank[chosen.index.to_numpy()] = np.arange(len(chosen))
    utt = rank[row_of]
    rows.drop(valid & (utt < 0), "utterance_dropped")
    # the utterance universe: every file named in either file
    read = pd.DataFrame({"file_id": cons["file_id"], "split": cons["split"], "why": why})
    return _Chosen(kept, utt, len(cons_ids.union(det_ids)), dropped, read)


def _match_files(
    raw: RawLabels,
    rows: _Rows,
    cons_ids: pd.Index,
    det_ids: pd.Index,
    files: _Factorized,
    strict: bool,
    dropped: Counter[str],
) -> None:
    """Files with annotations but no consensus row: counted (or an error), their rows marked.

    ``files``: the annotation rows' file ids, factorized."""
    det = rows.det
    only_detailed = det_ids.difference(cons_ids)
    if len(only_detailed) and strict:
        f = only_detailed[0]
        line = int(det.loc[det["file_id"] == f, "line"].iloc[0])
        raise LabelError(
            f"{rows.name} line {line}, column FileName: {f!r} has annotations but is not in "
            f"{raw.consensus_path.name}"
        )
    dropped["not_in_consensus"] += len(only_detailed)
    rows.drop(files.positions(cons_ids) < 0, "file_not_in_consensus")


def _enough_annotations(
    raw: RawLabels,
    rows: _Rows,
    cons: pd.DataFrame,
    row_of: np.ndarray,
    det_ids: pd.Index,
    labels_cfg: Mapping[str, Any],
    strict: bool,
) -> np.ndarray:
    """Why each consensus row lacks at least ``labels.min_annotators`` (and 1) valid
    annotations (``""``: it has enough).

    ``row_of``: the row of ``cons`` of each annotation row (-1: none). A file with
    no rows at all is an error when ``strict``.
    """
    valid = rows.reason == ""
    n_valid = np.bincount(row_of[valid & (row_of >= 0)], minlength=len(cons))
    has_any = _member(cons["file_id"], det_ids)
    if (~has_any).any() and strict:
        row = cons.loc[~has_any].iloc[0]
        raise LabelError(
            f"{raw.consensus_path.name} line {row['line']}: {row['file_id']!r} has no rows in {rows.name}"
        )
    least = labels_cfg["min_annotators"]
    why = np.full(len(cons), "", dtype=object)
    why[(n_valid > 0) & (n_valid < least)] = "fewer_than_min_annotators"
    why[has_any & (n_valid == 0)] = "no_valid_annotations"
    why[~has_any] = "no_annotations"
    return why


def _limit_per_split(cons: pd.DataFrame, why: np.ndarray, limit: int | None) -> np.ndarray:
    """``labels.limit_per_split`` (a smoke run): beyond the first ``limit`` kept utterances of a
    split by file id, the rest get the reason ``beyond_limit_per_split``."""
    if limit is None:
        return why
    order = cons.assign(_kept=why == "").sort_values("file_id")
    kept = order[order["_kept"]]
    rank = kept.groupby("split", sort=False).cumcount()
    beyond = kept.index[(rank >= limit).to_numpy()]
    out = why.copy()
    out[cons.index.get_indexer(beyond)] = "beyond_limit_per_split"
    return out


def check_nothing_lost(raw: RawLabels, rows: _Rows, chosen: _Chosen, splits: Sequence[str]) -> None:
    """Stop when no utterance is kept, or when a used split had utterances and loses them all.

    The message names both files, the split and the drop reasons of its
    utterances and of their annotation rows, so that an unreadable release is
    never turned into an empty (or one-split-short) label table.
    """
    read, kept = chosen.read, chosen.consensus
    lost = [s for s in splits if (read["split"] == s).any() and not (kept["split"] == s).any()]
    if len(kept) and not lost:
        return
    where = lost or list(splits)
    mine = read.loc[_member(read["split"], where)]
    what = "no utterance" if not len(kept) else f"no {', '.join(lost)} utterance"
    parts = [
        f"the label stage keeps {what} of {len(mine)} read in the splits it needs "
        f"({', '.join(where)}) - it stops rather than write an empty label table"
    ]
    if len(mine):
        parts.append(f"utterances dropped: {_counts(Counter(mine['why'].tolist()))}")
        det_rows = _member(rows.det["file_id"], pd.Index(mine["file_id"]))
        reasons = Counter(rows.reason[det_rows].tolist())
        parts.append(f"their {int(det_rows.sum())} annotation row(s): {_counts(reasons) or 'none'}")
        empty_primary = int((det_rows & (rows.det["primary"].str.strip() == "").to_numpy()).sum())
        if empty_primary:
            parts.append(f"{empty_primary} of them with an empty or missing primary label (EmoClass_Major)")
    set_aside = {k: v for k, v in chosen.dropped.items() if k.startswith("split_not_used:")}
    if set_aside:
        parts.append(f"set aside as unused partitions: {_counts(Counter(set_aside))}")
    parts.append(f"files: {raw.consensus_path}, {raw.detailed_path}")
    raise LabelError("; ".join(parts))


def _counts(c: Counter[str]) -> str:
    """``reason: n, ...`` (kept rows, the empty reason, left out), most frequent first."""
    return ", ".join(f"{k}: {n}" for k, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])) if k)


class _Factorized:
    """A column of many repeated values, for looking each distinct value up once.

    ``pd.Index.get_indexer`` turns arrow-backed strings into Python objects;
    factorizing first (in Arrow) leaves only the distinct values to turn.
    """

    def __init__(self, values: pd.Series) -> None:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        self.codes: np.ndarray = codes
        self.uniques = pd.Index(uniques)

    def positions(self, index: pd.Index) -> np.ndarray:
        """``index.get_indexer(values)``: each value's position in ``index`` (unique), -1 if absent."""
        return index.get_indexer(self.uniques)[self.codes]


def _member(values: pd.Series, pool: pd.Index | Sequence[str]) -> np.ndarray:
    """Boolean mask: which ``values`` are in ``pool`` (unique).

    A hash lookup; pandas' ``isin`` on arrow-backed strings loops in Python.
    """
    return pd.Index(pool).get_indexer(pd.Index(values)) >= 0


# ----------------------------------------------------------------------------- step 5: summary


def _summarise(
    raw: RawLabels,
    rows: _Rows,
    chosen: _Chosen,
    df: pd.DataFrame,
    vote_summary: Mapping[str, Any],
    labels_cfg: Mapping[str, Any],
) -> dict[str, Any]:
    """Counts read, kept and dropped by reason; the source; votes and distributions."""
    keep = rows.reason == ""
    ann_dropped = Counter(rows.reason[~keep])
    summary: dict[str, Any] = {
        "utterances_read": chosen.universe,
        "utterances_kept": len(df),
        "utterances_dropped": {k: v for k, v in sorted(chosen.dropped.items()) if v},
        "annotations_read": len(rows.det),
        "annotations_kept": int(keep.sum()),
        "annotations_dropped": {k: v for k, v in sorted(ann_dropped.items()) if v},
        "duplicate_worker_rows_kept": int((rows.repeated & keep).sum()),
        "source": {
            "consensus_file": str(raw.consensus_path),
            "detailed_file": str(raw.detailed_path),
            **raw.layout(),
            "rows_with_non_utf8_bytes": raw.non_utf8_rows,
            **(
                {"blocks": raw.blocks, "blocks_with_bad_header": len(raw.bad_block_headers)}
                if raw.detailed_layout == LABELS_TXT_LAYOUT
                else {}
            ),
        },
        **vote_summary,
    }
    summary.update(distributions.distribution_summary(df, labels_cfg["entropy_histogram_bins"]))
    _check_accounting(summary)
    return summary


def _check_accounting(summary: Mapping[str, Any]) -> None:
    for what in ("utterances", "annotations"):
        read, kept = summary[f"{what}_read"], summary[f"{what}_kept"]
        dropped = sum(summary[f"{what}_dropped"].values())
        if kept + dropped != read:  # a bug, never bad input
            raise AssertionError(f"{what}: kept {kept} + dropped {dropped} != read {read}")
    if summary["duplicate_worker_rows_kept"] > summary["annotations_kept"]:
        raise AssertionError("more duplicate-worker rows kept than annotation rows kept")

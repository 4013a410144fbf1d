"""The ``labels`` stage: raw MSP-Podcast label files -> the label table and its summary.

:func:`build_labels` takes four steps: validate the consensus file, mark the
invalid annotation rows (the first failing reason of a row is the one
counted), select the utterances, and summarise, with kept + dropped = read for
utterances and annotation rows. The decisions are listed under "Label
decisions" in docs/corpus.md; docs/bad_input.md lists what each kind of bad
input does. The table's schema is :mod:`sertools.labels.table`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sertools.classes import CLASSES, CONSENSUS_CODES, primary_index
from sertools.corpus.msp import (
    LABELS_TXT_LAYOUT,
    RawLabels,
    canonical_split,
    is_labels_txt,
    read_label_files,
)
from sertools.io import write_json
from sertools.labels import distributions, release, table
from sertools.splits import SPLITS

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


def run(inputs: Mapping[str, Any], outputs: Mapping[str, Any], *, labels: Mapping[str, Any]) -> dict:
    """The ``labels`` rule: read ``inputs`` ``consensus`` and ``detailed``, write ``outputs``
    ``table`` and ``summary``.

    ``inputs``/``outputs`` are Snakemake named lists or dicts; ``labels`` is the
    config section. ``detailed`` is a labels_detailed file or labels.txt, and must be
    the kind ``labels.detailed_source`` asks for (``auto`` takes either). Returns the
    summary.
    """
    _check_detailed_source(inputs["detailed"], labels["detailed_source"])
    raw = read_label_files(inputs["consensus"], inputs["detailed"])
    df, summary = build_labels(raw, labels)
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


def build_labels(raw: RawLabels, labels_cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Turn raw label tables into the per-utterance table and its summary."""
    cons = _validated_consensus(raw)
    rows = _mark_invalid_annotations(raw, labels_cfg)
    chosen = _select_utterances(raw, cons, rows, labels_cfg)
    keep = rows.reason == ""
    det = rows.det
    df, vote_summary = distributions.aggregate(
        chosen.consensus,
        chosen.utt[keep],
        rows.prim[keep],
        det.loc[keep, "secondary"],
        {f: v[keep] for f, v in rows.ratings.items()},
        det.loc[keep, "worker"],
        labels_cfg,
    )
    df, release_summary = _release_columns(df, chosen.utt[keep], det.loc[keep], labels_cfg)
    summary = _summarise(raw, rows, chosen, df, vote_summary, labels_cfg)
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
    votes = table.matrix(df, "votes_primary")
    columns, sec = release.label_columns(
        utt,
        kept["primary"],
        kept["secondary"],
        df["consensus"].tolist(),
        votes[:, NEUTRAL],
        {"primary": table.matrix(df, "p_primary"), "merged": table.matrix(df, "p_merged")},
        weights,
    )
    out = df.copy()
    for name, values in columns.items():
        out[name] = list(values) if values.ndim == 2 else values
    return out, release.summary(df["split"].to_numpy(), columns, sec, weights)


# ----------------------------------------------------------------------------- step 1: consensus file


def _validated_consensus(raw: RawLabels) -> pd.DataFrame:
    """The consensus rows with upper-case codes and canonical split names.

    A file listed twice or an unknown consensus code stops the run.
    """
    cons = raw.consensus.reset_index(drop=True)
    cname = raw.consensus_path.name
    dup = cons["file_id"].duplicated(keep="first").to_numpy()
    if dup.any():
        row = cons.loc[dup].iloc[0]
        raise LabelError(f"{cname} line {row['line']}, column FileName: {row['file_id']!r} is listed twice")
    code = cons["consensus"].str.upper()
    bad_code = ~_member(code, CONSENSUS_CODES)
    if bad_code.any():
        row = cons.loc[bad_code].iloc[0]
        raise LabelError(
            f"{cname} line {row['line']}, column EmoClass: unknown consensus code {row['consensus']!r} "
            f"(allowed: {', '.join(CONSENSUS_CODES)})"
        )
    return cons.assign(consensus=code, split=cons["split"].map(canonical_split))


# ----------------------------------------------------------------------------- step 2: annotation rows


class _Rows:
    """The annotation rows and why each is rejected (``""``: kept so far; the first reason wins)."""

    def __init__(self, raw: RawLabels, on_invalid: str) -> None:
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
        if self.layout_column:
            self.field_of[self.layout_column] = "primary"
        self.prim = np.full(len(self.det), -1, dtype=np.int64)
        self.ratings: dict[str, np.ndarray] = {}
        self.txt = raw.detailed_layout == LABELS_TXT_LAYOUT

    def column(self, name: str) -> str:
        return self.layout_column or name

    def reject(self, mask: np.ndarray, why: str, column: str, problem: str) -> None:
        """Mark rows newly failing ``why`` (or stop, naming the first, when invalid rows are errors)."""
        new = mask & (self.reason == "")
        if not new.any():
            return
        if self.on_invalid == "error":
            row = self.det.loc[new].iloc[0]
            if self.txt:  # labels.txt: the file, the line and its text as written
                what = (
                    "the worker line"
                    if why == "malformed_row"
                    else f"{_TXT_FIELDS[column]} {row[self.field_of[column]]!r}"
                )
                raise LabelError(f"{self.name} line {row['line']}: {what} {problem}: {row['raw']!r}")
            value = row[self.field_of[column]] if self.field_of.get(column) else ""
            raise LabelError(f"{self.name} line {row['line']}, column {column}: {value!r} {problem}")
        self.reason[new] = why

    def drop(self, mask: np.ndarray, why: str) -> None:
        """Mark rows that are dropped for a reason that is never an error here."""
        self.reason[mask & (self.reason == "")] = why


def _mark_invalid_annotations(raw: RawLabels, labels_cfg: Mapping[str, Any]) -> _Rows:
    """Parse primaries and ratings; mark malformed, invalid and duplicate-worker rows."""
    rows = _Rows(raw, labels_cfg["on_invalid_annotation"])
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
        rows.column("EmoClass_Major"),
        "does not match 'WORKER; primary; secondary; A:x; V:x; D:x;'",
    )
    rows.reject((det["file_id"].str.len() == 0).to_numpy(), "missing_file_name", "FileName", "is empty")
    rows.prim = _primary_indices(det["primary"])
    rows.reject(
        rows.prim < 0,
        "unknown_primary",
        rows.column("EmoClass_Major"),
        "is not a known primary emotion (Angry, Sad, Happy, Surprise, Fear, Disgust, Contempt, Neutral, Other...)",
    )
    for f, col in RATING_COLUMNS.items():
        rows.ratings[f], missing, out_of_range = _parse_ratings(det[f])
        rows.reject(missing, "non_numeric_rating", rows.column(col), "is missing or not a number")
        rows.reject(out_of_range, "rating_out_of_range", rows.column(col), "is outside the 1-7 rating scale")
    _mark_duplicate_workers(rows, labels_cfg["on_duplicate_worker"])
    return rows


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
    """A worker rating the same file twice among otherwise valid rows: keep the first, or stop."""
    det = rows.det
    valid = rows.reason == ""
    dup = np.zeros(len(det), dtype=bool)
    dup[valid] = det.loc[valid, ["file_id", "worker"]].duplicated(keep="first").to_numpy()
    if dup.any() and on_duplicate == "error":
        row = det.loc[dup].iloc[0]
        raise LabelError(
            f"{rows.name} line {row['line']}, column WorkerID: worker {row['worker']!r} rates "
            f"{row['file_id']!r} twice"
        )
    rows.drop(dup, "duplicate_worker")


# ----------------------------------------------------------------------------- step 3: utterances


@dataclass(frozen=True)
class _Chosen:
    """The kept utterances and where each annotation row goes."""

    consensus: pd.DataFrame  # kept consensus rows, sorted by file_id
    utt: np.ndarray  # row of each annotation in ``consensus`` (-1: not kept)
    universe: int  # utterances named in either file
    dropped: Counter[str]  # utterances dropped, by reason


def _select_utterances(
    raw: RawLabels, cons: pd.DataFrame, rows: _Rows, labels_cfg: Mapping[str, Any]
) -> _Chosen:
    """Match the two files, drop unused splits and utterances without enough valid annotations.

    Annotation rows of a dropped or unknown utterance are marked as well.
    """
    det = rows.det
    strict = labels_cfg["on_unmatched_utterance"] == "error"
    dropped: Counter[str] = Counter()
    cons_ids = pd.Index(cons["file_id"])
    det_ids = pd.Index(det.loc[det["file_id"].str.len() > 0, "file_id"].unique())
    _match_files(raw, rows, cons_ids, det_ids, strict, dropped)

    split_ok = _member(cons["split"], SPLITS)
    for s, n in cons.loc[~split_ok, "split"].value_counts().items():
        dropped[f"split_not_used:{s or '<empty>'}"] += int(n)
    cons = cons.loc[split_ok]

    valid = rows.reason == ""
    enough = _enough_annotations(raw, rows, cons, det_ids, labels_cfg, strict, dropped)
    kept = cons.loc[enough].sort_values("file_id").reset_index(drop=True)
    utt = pd.Index(kept["file_id"]).get_indexer(det["file_id"])
    rows.drop(valid & (utt < 0), "utterance_dropped")
    # the utterance universe: every file named in either file
    return _Chosen(kept, utt, len(cons_ids.union(det_ids)), dropped)


def _match_files(
    raw: RawLabels, rows: _Rows, cons_ids: pd.Index, det_ids: pd.Index, strict: bool, dropped: Counter[str]
) -> None:
    """Files with annotations but no consensus row: counted (or an error), their rows marked."""
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
    rows.drop(~_member(det["file_id"], cons_ids), "file_not_in_consensus")


def _enough_annotations(
    raw: RawLabels,
    rows: _Rows,
    cons: pd.DataFrame,
    det_ids: pd.Index,
    labels_cfg: Mapping[str, Any],
    strict: bool,
    dropped: Counter[str],
) -> np.ndarray:
    """Which consensus rows have at least ``labels.min_annotators`` (and 1) valid annotations.

    The others are counted by reason; a file with no rows at all is an error when ``strict``.
    """
    det = rows.det
    valid = rows.reason == ""
    n_valid = det.loc[valid].groupby("file_id").size().reindex(cons["file_id"], fill_value=0).to_numpy()
    has_any = _member(cons["file_id"], det_ids)
    if (~has_any).any() and strict:
        row = cons.loc[~has_any].iloc[0]
        raise LabelError(
            f"{raw.consensus_path.name} line {row['line']}: {row['file_id']!r} has no rows in {rows.name}"
        )
    least = labels_cfg["min_annotators"]
    dropped["no_annotations"] += int((~has_any).sum())
    dropped["no_valid_annotations"] += int((has_any & (n_valid == 0)).sum())
    dropped["fewer_than_min_annotators"] += int(((n_valid > 0) & (n_valid < least)).sum())
    return n_valid >= max(1, least)


def _member(values: pd.Series, pool: pd.Index | Sequence[str]) -> np.ndarray:
    """Boolean mask: which ``values`` are in ``pool`` (unique).

    A hash lookup; pandas' ``isin`` on arrow-backed strings loops in Python.
    """
    return pd.Index(pool).get_indexer(values) >= 0


# ----------------------------------------------------------------------------- step 4: summary


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
        "source": {
            "consensus_file": str(raw.consensus_path),
            "detailed_file": str(raw.detailed_path),
            "detailed_layout": raw.detailed_layout,
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

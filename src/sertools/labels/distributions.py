"""Label-distribution stage: raw MSP-Podcast label files -> one row per utterance.

Everything is vectorised over annotation rows (1.4 M rows at MSP-Podcast 2.0
scale); only the distinct secondary-label strings are parsed in Python.

Decisions (all documented in the README and config schema):

- Primary votes: every valid annotation row gives one vote to its primary class
  (``Other``, ``Other-<text>``, ``Other (<text>)`` are Other).
- Secondary labels: a comma-separated list is read as a *set* of classes per
  annotator (``"Frustrated,Annoyed"`` is one Angry mention). Words map through
  ``labels.secondary_map``; words not in the map go to Other and are counted as
  unmapped. A mention equal to the annotator's own primary class is skipped
  unless ``labels.count_secondary_equal_to_primary``.
- Merged votes = primary votes + ``secondary_weight`` x secondary mentions.
- An annotation row with an unknown primary, or a missing/non-numeric/out-of-range
  (1-7) rating, is dropped whole (or stops the run, per config) - a row with a
  broken rating is not trusted for its categorical vote either.
- ``hard_label`` comes from the official consensus code (X -> null); the
  plurality of the kept primary votes is reported next to it (``plurality``).
- A/V/D are the means of the kept annotations; ``*_sd`` their sample standard
  deviation (ddof=1, NaN for a single annotator).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sertools.classes import CLASSES, CODE_TO_INDEX, CODES, NO_AGREEMENT, OTHER, K, primary_index
from sertools.corpus.msp import RawLabels, read_labels
from sertools.io import atomic_path, write_json
from sertools.labels import reliability

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("Train", "Development", "Test1", "Test2")
SPLIT_ALIASES = {
    "validation": "Development",
    "dev": "Development",
    "train": "Train",
    "development": "Development",
}
RATING_FIELDS = {"act": "arousal", "val": "valence", "dom": "dominance"}
RATING_COLUMNS = {"act": "EmoAct", "val": "EmoVal", "dom": "EmoDom"}
LIST_COLUMNS = ("votes_primary", "votes_merged", "p_primary", "p_merged")


class LabelError(ValueError):
    """Invalid label data, named by file, line and column."""


def normalised_entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy of each row of ``p`` divided by ln K (0 = unanimous, 1 = uniform)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=-1)
    return np.clip(h / np.log(p.shape[-1]), 0.0, 1.0)


def plurality_codes(votes: np.ndarray) -> np.ndarray:
    """Consensus code of each row: the unique plurality class, or X on a tie (or no votes)."""
    votes = np.asarray(votes)
    top = votes.max(axis=1)
    n_top = (votes == top[:, None]).sum(axis=1)
    codes = np.array(CODES, dtype=object)[votes.argmax(axis=1)]
    return np.where((n_top == 1) & (top > 0), codes, NO_AGREEMENT)


def _secondary_table(
    uniques: pd.Index, word_map: Mapping[str, int]
) -> tuple[np.ndarray, list[list[str]], np.ndarray]:
    """Parse each distinct secondary string once.

    Returns a (n_unique, K) bool matrix of mentioned classes, the unmapped words
    of each string, and the number of (non-empty) words in each string.
    """
    table = np.zeros((len(uniques), K), dtype=bool)
    unmapped: list[list[str]] = []
    n_words = np.zeros(len(uniques), dtype=np.int64)
    for j, s in enumerate(uniques):
        missing: list[str] = []
        for w in str(s).split(","):
            w = w.strip()
            if not w:
                continue
            n_words[j] += 1
            idx = word_map.get(w.lower())
            if idx is None:
                idx = primary_index(w)  # class names and Other spellings
            if idx is None:
                idx = OTHER
                missing.append(w.lower())
            table[j, idx] = True
        unmapped.append(missing)
    return table, unmapped, n_words


def _word_map(labels_cfg: Mapping[str, Any]) -> dict[str, int]:
    return {w.strip().lower(): CLASSES.index(c) for w, c in labels_cfg["secondary_map"].items()}


def _first_bad(df: pd.DataFrame, mask: np.ndarray) -> pd.Series:
    return df.loc[mask].iloc[0]


def _member(values: pd.Series, pool: pd.Index | Sequence[str]) -> np.ndarray:
    """Boolean mask: which ``values`` are in ``pool`` (unique).

    A hash lookup; pandas' ``isin`` on arrow-backed strings loops in Python.
    """
    return pd.Index(pool).get_indexer(values) >= 0


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


def build_labels(raw: RawLabels, labels_cfg: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Turn raw label tables into the per-utterance table and its summary."""
    on_invalid = labels_cfg["on_invalid_annotation"]
    det = raw.detailed.reset_index(drop=True)
    cons = raw.consensus.reset_index(drop=True)
    dname, cname = raw.detailed_path.name, raw.consensus_path.name
    ann_dropped: Counter[str] = Counter()
    utt_dropped: Counter[str] = Counter()

    # ---- consensus file: one row per utterance, known codes
    dup = cons["file_id"].duplicated(keep="first").to_numpy()
    if dup.any():
        row = _first_bad(cons, dup)
        raise LabelError(f"{cname} line {row['line']}, column FileName: {row['file_id']!r} is listed twice")
    code = cons["consensus"].str.upper()
    bad_code = ~_member(code, [*CODES, NO_AGREEMENT])
    if bad_code.any():
        row = _first_bad(cons, bad_code)
        raise LabelError(
            f"{cname} line {row['line']}, column EmoClass: unknown consensus code {row['consensus']!r} "
            f"(allowed: {', '.join([*CODES, NO_AGREEMENT])})"
        )
    cons = cons.assign(consensus=code)
    split = cons["split"].map(lambda s: SPLIT_ALIASES.get(s.lower(), s))
    cons = cons.assign(split=split)

    # ---- annotation rows: first failing reason wins
    n_ann = len(det)
    reason = np.full(n_ann, "", dtype=object)

    def mark(mask: np.ndarray, why: str, column: str, problem: str) -> None:
        new = mask & (reason == "")
        if not new.any():
            return
        if on_invalid == "error":
            row = _first_bad(det, new)
            value = row[column_field[column]] if column_field.get(column) else ""
            raise LabelError(f"{dname} line {row['line']}, column {column}: {value!r} {problem}")
        reason[new] = why

    layout_col = "EmoDetail" if raw.detailed_layout == "1.11" else None
    column_field = {
        "EmoClass_Major": "primary",
        "FileName": "file_id",
        **{v: k for k, v in RATING_COLUMNS.items()},
    }
    if layout_col:
        column_field[layout_col] = "primary"
    mark(
        det["malformed"].to_numpy(dtype=bool),
        "malformed_row",
        layout_col or "EmoClass_Major",
        "does not match 'WORKER; primary; secondary; A:x; V:x; D:x;'",
    )
    mark((det["file_id"].str.len() == 0).to_numpy(), "missing_file_name", "FileName", "is empty")

    prim_codes, prim_uniques = pd.factorize(det["primary"])
    prim_lookup = np.array(
        [-1 if (i := primary_index(s)) is None else i for s in prim_uniques], dtype=np.int64
    )
    prim = prim_lookup[prim_codes] if len(prim_uniques) else np.full(n_ann, -1, dtype=np.int64)
    mark(
        prim < 0,
        "unknown_primary",
        layout_col or "EmoClass_Major",
        "is not a known primary emotion (Angry, Sad, Happy, Surprise, Fear, Disgust, Contempt, Neutral, Other...)",
    )

    ratings = {}
    for f, col in RATING_COLUMNS.items():
        ratings[f], missing, out_of_range = _parse_ratings(det[f])
        mark(missing, "non_numeric_rating", layout_col or col, "is missing or not a number")
        mark(out_of_range, "rating_out_of_range", layout_col or col, "is outside the 1-7 rating scale")

    # duplicates among otherwise valid rows: same worker on the same file
    valid = reason == ""
    dup = np.zeros(n_ann, dtype=bool)
    dup[valid] = det.loc[valid, ["file_id", "worker"]].duplicated(keep="first").to_numpy()
    if dup.any() and labels_cfg["on_duplicate_worker"] == "error":
        row = _first_bad(det, dup)
        raise LabelError(
            f"{dname} line {row['line']}, column WorkerID: worker {row['worker']!r} rates {row['file_id']!r} twice"
        )
    reason[dup & (reason == "")] = "duplicate_worker"

    # ---- the utterance universe: every file named in either file
    cons_ids = pd.Index(cons["file_id"])
    det_ids = pd.Index(det.loc[det["file_id"].str.len() > 0, "file_id"].unique())
    universe = cons_ids.union(det_ids)
    only_detailed = det_ids.difference(cons_ids)
    if len(only_detailed) and labels_cfg["on_unmatched_utterance"] == "error":
        f = only_detailed[0]
        line = int(det.loc[det["file_id"] == f, "line"].iloc[0])
        raise LabelError(f"{dname} line {line}, column FileName: {f!r} has annotations but is not in {cname}")
    utt_dropped["not_in_consensus"] += len(only_detailed)
    in_cons = _member(det["file_id"], cons_ids)
    reason[~in_cons & (reason == "")] = "file_not_in_consensus"

    split_ok = _member(cons["split"], SPLITS)
    for s, n in cons.loc[~split_ok, "split"].value_counts().items():
        utt_dropped[f"split_not_used:{s or '<empty>'}"] += int(n)
    cons = cons.loc[split_ok]

    valid = reason == ""
    n_valid = det.loc[valid].groupby("file_id").size()
    n_valid = n_valid.reindex(cons["file_id"], fill_value=0).to_numpy()
    has_any = _member(cons["file_id"], det_ids)
    if (~has_any).any() and labels_cfg["on_unmatched_utterance"] == "error":
        row = _first_bad(cons, ~has_any)
        raise LabelError(f"{cname} line {row['line']}: {row['file_id']!r} has no rows in {dname}")
    utt_dropped["no_annotations"] += int((~has_any).sum())
    utt_dropped["no_valid_annotations"] += int((has_any & (n_valid == 0)).sum())
    few = (n_valid > 0) & (n_valid < labels_cfg["min_annotators"])
    utt_dropped["fewer_than_min_annotators"] += int(few.sum())
    cons = (
        cons.loc[n_valid >= max(1, labels_cfg["min_annotators"])]
        .sort_values("file_id")
        .reset_index(drop=True)
    )

    kept_ids = pd.Index(cons["file_id"])
    utt = kept_ids.get_indexer(det["file_id"])
    reason[valid & (utt < 0)] = "utterance_dropped"
    keep = reason == ""
    for r, n in Counter(reason[~keep]).items():
        ann_dropped[r] += n

    table, summary_votes = _aggregate(
        cons,
        utt[keep],
        prim[keep],
        det.loc[keep, "secondary"],
        {f: v[keep] for f, v in ratings.items()},
        det.loc[keep, ["file_id", "worker"]],
        labels_cfg,
    )

    summary: dict[str, Any] = {
        "utterances_read": len(universe),
        "utterances_kept": len(table),
        "utterances_dropped": {k: v for k, v in sorted(utt_dropped.items()) if v},
        "annotations_read": n_ann,
        "annotations_kept": int(keep.sum()),
        "annotations_dropped": {k: v for k, v in sorted(ann_dropped.items()) if v},
        "source": {
            "consensus_file": str(raw.consensus_path),
            "detailed_file": str(raw.detailed_path),
            "detailed_layout": raw.detailed_layout,
            "rows_with_non_utf8_bytes": raw.non_utf8_rows,
        },
        **summary_votes,
    }
    summary.update(_distribution_summary(table, labels_cfg["entropy_histogram_bins"]))
    _check_accounting(summary)
    return table, summary


def _aggregate(
    cons: pd.DataFrame,
    utt: np.ndarray,
    prim: np.ndarray,
    secondary: pd.Series,
    ratings: dict[str, np.ndarray],
    who: pd.DataFrame,
    labels_cfg: Mapping[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    n = len(cons)
    votes = np.bincount(utt * K + prim, minlength=n * K).reshape(n, K)

    sec_codes, sec_uniques = pd.factorize(secondary)
    table, unmapped, n_words = _secondary_table(pd.Index(sec_uniques), _word_map(labels_cfg))
    sec = table[sec_codes] if len(sec_uniques) else np.zeros((len(utt), K), dtype=bool)
    rows = np.arange(len(utt))
    same_as_primary = sec[rows, prim].copy()
    if not labels_cfg["count_secondary_equal_to_primary"]:
        sec[rows, prim] = False
    sec_votes = np.stack([np.bincount(utt, weights=sec[:, k], minlength=n) for k in range(K)], axis=1)
    merged = votes + labels_cfg["secondary_weight"] * sec_votes

    occurrences = np.bincount(sec_codes, minlength=len(sec_uniques)) if len(sec_uniques) else np.zeros(0, int)
    unmapped_counts: Counter[str] = Counter()
    for words, occ in zip(unmapped, occurrences, strict=True):
        for w in words:
            unmapped_counts[w] += int(occ)

    n_ann = votes.sum(axis=1)
    p_primary = votes / n_ann[:, None]
    merged_total = merged.sum(axis=1)
    p_merged = merged / merged_total[:, None]

    df = pd.DataFrame(
        {
            "file_id": cons["file_id"].to_numpy(),
            "split": cons["split"].to_numpy(),
            "speaker": cons["speaker"].to_numpy(),
            "gender": cons["gender"].to_numpy(),
            "consensus": cons["consensus"].to_numpy(),
            "hard_label": pd.array([CODE_TO_INDEX.get(c) for c in cons["consensus"]], dtype="Int64"),
            "plurality": plurality_codes(votes),
            "n_annotators": n_ann.astype(np.int64),
            "agreement": votes.max(axis=1) / n_ann,
            "entropy_primary": normalised_entropy(p_primary),
            "entropy_merged": normalised_entropy(p_merged),
        }
    )
    counts = np.bincount(utt, minlength=n)
    for f, name in RATING_FIELDS.items():
        s1 = np.bincount(utt, weights=ratings[f], minlength=n)
        s2 = np.bincount(utt, weights=ratings[f] ** 2, minlength=n)
        mean = s1 / counts
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.where(counts > 1, (s2 - counts * mean**2) / (counts - 1), np.nan)
        df[name] = mean
        df[f"{name}_sd"] = np.sqrt(np.clip(var, 0, None))
    for name, mat in (
        ("votes_primary", votes.astype(np.int64)),
        ("votes_merged", merged.astype(np.float64)),
        ("p_primary", p_primary),
        ("p_merged", p_merged),
    ):
        df[name] = list(mat)

    splits = df["split"].to_numpy()
    kappa = {"all": _kappa(votes)}
    for s in SPLITS:
        if (splits == s).any():
            kappa[s] = _kappa(votes[splits == s])
    alpha = {
        name: float(reliability.krippendorff_alpha_interval(utt, ratings[f]))
        for f, name in RATING_FIELDS.items()
    }
    mentions = int(n_words.astype(np.int64)[sec_codes].sum()) if len(sec_uniques) else 0
    summary = {
        "secondary": {
            "weight": labels_cfg["secondary_weight"],
            "count_equal_to_primary": labels_cfg["count_secondary_equal_to_primary"],
            "words": mentions,
            "class_mentions": int(table[sec_codes].sum()) if len(sec_uniques) else 0,
            "class_mentions_equal_to_primary": int(same_as_primary.sum()),
            "class_mentions_counted": int(sec.sum()),
            "unmapped_words": dict(sorted(unmapped_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            "unmapped_word_count": int(sum(unmapped_counts.values())),
        },
        "reliability": {
            "fleiss_kappa_primary": kappa,
            "krippendorff_alpha_interval": alpha,
        },
        "consensus_vs_plurality": {
            "agree": int((df["plurality"] == df["consensus"]).sum()),
            "disagree": int((df["plurality"] != df["consensus"]).sum()),
        },
        "annotators_per_utterance": {
            "min": int(n_ann.min()) if n else 0,
            "mean": float(n_ann.mean()) if n else 0.0,
            "max": int(n_ann.max()) if n else 0,
        },
        "workers": int(who["worker"].nunique()),
    }
    return df, summary


def _kappa(votes: np.ndarray) -> float | None:
    if len(votes) == 0:
        return None
    k = reliability.fleiss_kappa(votes)
    return None if np.isnan(k) else float(k)


def _distribution_summary(df: pd.DataFrame, bins: int) -> dict[str, Any]:
    m = {c: matrix(df, c) for c in ("p_primary", "p_merged")}
    edges = np.linspace(0.0, 1.0, bins + 1)
    out: dict[str, Any] = {"classes": list(CLASSES), "class_distribution": {}, "entropy_histogram": {}}
    out["entropy_histogram"]["edges"] = edges.tolist()
    for s in ("all", *SPLITS):
        mask = np.ones(len(df), bool) if s == "all" else (df["split"] == s).to_numpy()
        if not mask.any():
            continue
        hard = df.loc[mask, "consensus"].value_counts()
        out["class_distribution"][s] = {
            "utterances": int(mask.sum()),
            "consensus": {c: int(hard.get(c, 0)) for c in [*CODES, NO_AGREEMENT]},
            "vote_mass_primary": dict(
                zip(CLASSES, m["p_primary"][mask].sum(axis=0).round(6).tolist(), strict=True)
            ),
            "vote_mass_merged": dict(
                zip(CLASSES, m["p_merged"][mask].sum(axis=0).round(6).tolist(), strict=True)
            ),
        }
        out["entropy_histogram"][s] = {
            kind: np.histogram(df.loc[mask, f"entropy_{kind}"], bins=edges)[0].tolist()
            for kind in ("primary", "merged")
        }
    return out


def _check_accounting(summary: Mapping[str, Any]) -> None:
    for what in ("utterances", "annotations"):
        read, kept = summary[f"{what}_read"], summary[f"{what}_kept"]
        dropped = sum(summary[f"{what}_dropped"].values())
        if kept + dropped != read:  # a bug, never bad input
            raise AssertionError(f"{what}: kept {kept} + dropped {dropped} != read {read}")


def labels_to_arrow(df: pd.DataFrame) -> pa.Table:
    """Arrow table with the vote columns as list<...> built from flat buffers (fast)."""
    n = len(df)
    offsets = pa.array(np.arange(0, (n + 1) * K, K, dtype=np.int32))
    table = pa.Table.from_pandas(df.drop(columns=list(LIST_COLUMNS)), preserve_index=False)
    for name in LIST_COLUMNS:
        values = pa.array(matrix(df, name).reshape(-1))
        table = table.append_column(name, pa.ListArray.from_arrays(offsets, values))
    meta = dict(table.schema.metadata or {})  # keeps pandas' dtypes (nullable Int64)
    meta[b"sertools.classes"] = ",".join(CLASSES).encode()
    return table.replace_schema_metadata(meta)


def matrix(df: pd.DataFrame, column: str) -> np.ndarray:
    """(N, 9) array from a list column of a label table read back with pandas."""
    if len(df) == 0:
        return np.zeros((0, K))
    return np.stack(df[column].to_numpy())


def run(
    corpus_dir: str | Path, out: str | Path, summary_path: str | Path, labels_cfg: Mapping[str, Any]
) -> dict:
    """The ``labels`` stage: read the corpus label files, write the table and the summary."""
    raw = read_labels(corpus_dir)
    df, summary = build_labels(raw, labels_cfg)
    with atomic_path(out) as tmp:
        pq.write_table(labels_to_arrow(df), tmp)
    write_json(summary_path, summary)
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

"""The ``labels`` stage for CREMA-D: a download -> the CREMA-D label table and its summary.

:func:`build_labels` checks every row of tabulatedVotes.csv (all three
modalities; the first failing reason of a row is the one counted), computes
the label statistics of each modality (:func:`vote_statistics`), keeps the rows
of the chosen modality (``crema_d.modality``) whose clip has audio (when the
download's AudioWAV/ is read), assigns the actors to splits
(:func:`sertools.corpus.crema_d.speaker_splits`) and attaches the per-rater
responses of finishedResponses.csv when the download has it. Clips and
responses are accounted for: kept + dropped by reason = read. The table's
schema is :mod:`sertools.labels.crema_d_table`; the decisions are listed in
docs/corpus.md ("CREMA-D") and the bad input in docs/bad_input.md.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sertools.classes import CREMA_D, NO_AGREEMENT
from sertools.corpus.crema_d import (
    COUNT_COLUMNS,
    ID_FACTOR,
    MODALITIES,
    RawCremaD,
    parse_file_name,
    read_files,
    speaker_splits,
)
from sertools.io import write_json
from sertools.labels import crema_d_table
from sertools.labels.build import LabelError
from sertools.labels.reliability import fleiss_kappa_detail

log = logging.getLogger(__name__)

K = CREMA_D.k
#: how many example file names the summary lists per kind of problem
EXAMPLES = 10
#: the quantiles of normalised vote entropy in the summary
ENTROPY_QUANTILES: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)
#: drop reasons of a tabulatedVotes row, in the order they are checked (the first failing one is counted)
ROW_CHECKS: dict[str, str] = {
    "malformed_row_id": "is not 100000 x queryType + clipNum with queryType 1, 2 or 3",
    "malformed_file_name": "is not AAAA_SSS_EEE_LL (actor, sentence, ANG/DIS/FEA/HAP/NEU/SAD, LO/MD/HI/XX)",
    "unknown_clip": "is a clip number that SentenceFilenames.csv does not list",
    "file_name_mismatch": "is not the file name SentenceFilenames.csv gives that clip number",
    "non_numeric_count": "is not a whole non-negative number",
    "no_responses": "is 0",
    "counts_do_not_sum": "differs from the sum of the counts A, D, F, H, N, S",
    "unknown_class_in_emo_vote": "holds a class code that is not one of A, D, F, H, N, S",
    "emo_vote_mismatch": "does not name the class(es) with the most votes",
    "unknown_actor": "names an actor that VideoDemographics.csv does not list",
}
#: the column each row check names in its error message
_CHECK_COLUMN = {
    "malformed_row_id": "row id",
    "malformed_file_name": "fileName",
    "unknown_clip": "row id",
    "file_name_mismatch": "fileName",
    "non_numeric_count": "A-S/numResponses",
    "no_responses": "numResponses",
    "counts_do_not_sum": "numResponses",
    "unknown_class_in_emo_vote": "emoVote",
    "emo_vote_mismatch": "emoVote",
    "unknown_actor": "fileName",
}


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    crema_d: Mapping[str, Any],
    entropy_histogram_bins: int = 10,
) -> dict[str, Any]:
    """The label stage on a CREMA-D download: read ``inputs`` ``votes``, ``sentences``,
    ``demographics`` (and ``responses``, ``audio`` when given), write ``outputs`` ``table``
    and ``summary``. ``crema_d`` is the config section. Returns the summary."""
    given = dict(inputs.items())
    raw = read_files(
        given["votes"], given["sentences"], given["demographics"], given.get("responses"), given.get("audio")
    )
    df, summary = build_labels(raw, crema_d, entropy_histogram_bins=entropy_histogram_bins)
    crema_d_table.write(df, outputs["table"])
    write_json(outputs["summary"], summary)
    log.info(
        "labels (CREMA-D, %s): kept %d of %d clips; dropped %s",
        summary["modality"],
        summary["utterances_kept"],
        summary["utterances_read"],
        summary["utterances_dropped"],
    )
    return summary


# ----------------------------------------------------------------------------- rows of tabulatedVotes


class _Votes:
    """The rows of tabulatedVotes.csv parsed, and why each is rejected (``""``: valid)."""

    def __init__(self, raw: RawCremaD, on_invalid: str) -> None:
        self.raw = raw
        v = raw.votes.reset_index(drop=True)
        self.rows = v
        self.on_invalid = on_invalid
        n = len(v)
        self.reason = np.full(n, "", dtype=object)
        self.query = np.full(n, -1, dtype=np.int64)
        self.clip = np.full(n, -1, dtype=np.int64)
        self.counts = np.zeros((n, K), dtype=np.int64)
        self.total = np.zeros(n, dtype=np.int64)
        self.names = [parse_file_name(f) for f in v["fileName"]]
        self._parse_ids()
        self._check()

    def reject(self, mask: np.ndarray, why: str) -> None:
        """Mark rows newly failing ``why``, or stop naming the first when invalid rows are errors."""
        new = mask & (self.reason == "")
        if not new.any():
            return
        if self.on_invalid == "error":
            row = self.rows.loc[new].iloc[0]
            column = _CHECK_COLUMN[why]
            value = row["row_id"] if column == "row id" else row.get(column, "")
            if column == "A-S/numResponses":
                value = ",".join(row[c] for c in (*COUNT_COLUMNS, "numResponses"))
            raise LabelError(
                f"{self.raw.votes_path.name} line {row['line']}, column {column}: {value!r} {ROW_CHECKS[why]} "
                f"({why}; {int(new.sum())} such row(s); crema_d.on_invalid_row: drop counts them instead)"
            )
        self.reason[new] = why

    def _parse_ids(self) -> None:
        ids = pd.to_numeric(self.rows["row_id"], errors="coerce").to_numpy(dtype=np.float64)
        whole = np.isfinite(ids) & (ids == np.round(ids)) & (ids > 0)
        q = np.where(whole, ids // ID_FACTOR, -1).astype(np.int64)
        ok = whole & np.isin(q, list(MODALITIES.values())) & (np.where(whole, ids % ID_FACTOR, 0) > 0)
        self.query = np.where(ok, q, -1)
        self.clip = np.where(ok, ids % ID_FACTOR, -1).astype(np.int64)

    def _check(self) -> None:
        v = self.rows
        self.reject(self.query < 0, "malformed_row_id")
        self.reject(np.array([n is None for n in self.names], dtype=bool), "malformed_file_name")
        sentences = self.raw.sentences
        listed = np.array([sentences.get(str(c)) for c in self.clip], dtype=object)
        self.reject(np.array([x is None for x in listed], dtype=bool), "unknown_clip")
        self.reject((listed != v["fileName"].to_numpy(dtype=object)), "file_name_mismatch")
        numbers = [_whole(v[c]) for c in (*COUNT_COLUMNS, "numResponses")]
        bad_number = np.zeros(len(v), dtype=bool)
        for _values, ok in numbers:
            bad_number |= ~ok
        self.reject(bad_number, "non_numeric_count")
        self.counts = np.stack([values for values, _ in numbers[:K]], axis=1) if len(v) else self.counts
        self.total = numbers[K][0]
        self.reject(self.total == 0, "no_responses")
        self.reject(self.counts.sum(axis=1) != self.total, "counts_do_not_sum")
        parts = [[p.strip() for p in str(e).split(":")] for e in v["emoVote"]]
        unknown = np.array([any(CREMA_D.index(p) is None for p in ps) for ps in parts], dtype=bool)
        self.reject(unknown, "unknown_class_in_emo_vote")
        top = self.counts.max(axis=1, keepdims=True) if len(v) else np.zeros((0, 1), dtype=np.int64)
        modal = self.counts == top
        named = np.zeros_like(modal)
        for i, ps in enumerate(parts):
            for p in ps:
                j = CREMA_D.index(p)
                if j is not None:
                    named[i, j] = True
        self.reject((named != modal).any(axis=1), "emo_vote_mismatch")
        actors = set(self.raw.demographics["actor"])
        self.reject(np.array([n is not None and n.actor not in actors for n in self.names]), "unknown_actor")
        self._no_duplicates()

    def _no_duplicates(self) -> None:
        """A (modality, clip) listed twice is an error naming the file and the line, whatever the setting."""
        ok = self.query > 0
        key = pd.Series(self.query * ID_FACTOR + self.clip)
        dup = key.duplicated(keep="first").to_numpy() & ok
        if dup.any():
            row = self.rows.loc[dup].iloc[0]
            raise LabelError(
                f"{self.raw.votes_path.name} line {row['line']}: clip {row['fileName']!r} (row id "
                f"{row['row_id']}) is listed twice for its modality"
            )


def _whole(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(values, valid) of a column of whole non-negative numbers written as text (``"3"`` or ``"3.0"``)."""
    x = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    ok = np.isfinite(x) & (x >= 0) & (x == np.round(x))
    return np.where(ok, x, 0).astype(np.int64), ok


# ----------------------------------------------------------------------------- statistics


def normalised_entropy(counts: np.ndarray) -> np.ndarray:
    """Entropy of each row's vote distribution divided by log K (0: unanimous, 1: uniform)."""
    c = np.asarray(counts, dtype=np.float64)
    p = c / np.maximum(c.sum(axis=1, keepdims=True), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    return h / np.log(c.shape[1])


def vote_statistics(counts: np.ndarray, intended: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """The label statistics of one modality's clips (docs/corpus.md, "CREMA-D", "Label statistics").

    ``counts``: (clips, K) votes; ``intended``: (clips,) class index of the intended emotion.

    - ``responses_matching_intended``: the share of all responses that name the intended emotion
      (sum over clips of the intended class's votes / all responses);
      ``responses_matching_intended_by_class``: the same over the clips of each intended emotion
      (class name -> share; null for a class no clip intends), and
      ``responses_matching_intended_class_mean`` their unweighted mean over the intended classes
      (each emotion counts once, however many clips and responses it has);
      ``clips_by_intended_class``: the clips of each intended emotion (class name -> count);
    - ``plurality_matching_intended``: the share of clips without a tie whose plurality class is
      the intended one;
    - ``fleiss_kappa``: Fleiss' kappa with each clip's own number of raters
      (:func:`sertools.labels.reliability.fleiss_kappa_detail`: the per-clip agreement with its own
      ``n_i``, the class proportions pooled over all responses; Fleiss (1971) when every ``n_i`` is
      equal); clips with fewer than 2 responses are left out and counted;
    - ``entropy``: the normalised vote entropy's mean, quantiles and a histogram of ``bins``
      equal-width bins over [0, 1] (the last bin closed);
    - ``ties``: clips whose most-voted classes are more than one, by the number of tied classes.
    """
    c = np.asarray(counts, dtype=np.int64)
    n = c.sum(axis=1)
    idx = np.asarray(intended, dtype=np.int64)
    top = c.max(axis=1, keepdims=True) if len(c) else np.zeros((0, 1), dtype=np.int64)
    n_top = (c == top).sum(axis=1)
    tied = n_top > 1
    matched = c[np.arange(len(c)), idx] if len(c) else np.zeros(0, dtype=np.int64)
    untied = ~tied
    plural = c.argmax(axis=1) if len(c) else np.zeros(0, dtype=np.int64)
    h = normalised_entropy(c) if len(c) else np.zeros(0)
    hist, edges = np.histogram(h, bins=bins, range=(0.0, 1.0))
    kappa = fleiss_kappa_detail(c.astype(np.float64)) if len(c) else None
    by_class = {
        name: _share(int(matched[idx == j].sum()), int(n[idx == j].sum())) if (idx == j).any() else None
        for j, name in enumerate(CREMA_D.names)
    }
    present = [v for v in by_class.values() if v is not None]
    return {
        "clips": len(c),
        "responses": int(n.sum()),
        "responses_per_clip": _describe(n.astype(np.float64), ()),
        "responses_matching_intended": _share(int(matched.sum()), int(n.sum())),
        "responses_matching_intended_by_class": by_class,
        "responses_matching_intended_class_mean": float(np.mean(present)) if present else None,
        "clips_by_intended_class": {name: int((idx == j).sum()) for j, name in enumerate(CREMA_D.names)},
        "plurality_matching_intended": _share(int((plural == idx)[untied].sum()), int(untied.sum())),
        "fleiss_kappa": (
            {"kappa": kappa.kappa, "clips_used": kappa.n_items_used, "clips_excluded": kappa.n_items_excluded}
            if kappa is not None
            else {"kappa": float("nan"), "clips_used": 0, "clips_excluded": 0}
        ),
        "entropy": {
            **_describe(h, ENTROPY_QUANTILES),
            "histogram": {"edges": edges.tolist(), "counts": hist.tolist()},
        },
        "ties": {
            "clips": int(tied.sum()),
            "share": _share(int(tied.sum()), len(c)),
            "by_classes_tied": {str(k): int((n_top == k).sum()) for k in sorted(set(n_top[tied].tolist()))},
        },
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _describe(x: np.ndarray, quantiles: Sequence[float]) -> dict[str, Any]:
    if not len(x):
        return {"mean": None, "min": None, "max": None, **{f"q{round(q * 100):02d}": None for q in quantiles}}
    return {
        "mean": float(x.mean()),
        "min": float(x.min()),
        "max": float(x.max()),
        **{f"q{round(q * 100):02d}": float(np.quantile(x, q)) for q in quantiles},
    }


def modality_statistics(raw: RawCremaD, bins: int = 10, on_invalid: str = "drop") -> dict[str, Any]:
    """:func:`vote_statistics` of every modality over its valid rows of tabulatedVotes.csv, with the
    rows read and dropped by reason (no audio, no split, no responses file needed)."""
    votes = _Votes(raw, on_invalid)
    return _statistics(votes, bins)


def _statistics(votes: _Votes, bins: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    valid = votes.reason == ""
    intended = np.array([CREMA_D.index(n.intended) if n else -1 for n in votes.names], dtype=np.int64)
    for name, q in MODALITIES.items():
        mine = valid & (votes.query == q)
        out[name] = vote_statistics(votes.counts[mine], intended[mine], bins)
    return out


# ----------------------------------------------------------------------------- the table


def build_labels(
    raw: RawCremaD, settings: Mapping[str, Any], *, entropy_histogram_bins: int = 10
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The CREMA-D label table of ``settings["modality"]`` and the stage's summary.

    ``settings``: the ``crema_d`` config section (``modality``, ``on_invalid_row``,
    ``on_missing_audio``, ``split_seed``, ``split_shares``).
    """
    modality = settings["modality"]
    if modality not in MODALITIES:
        raise LabelError(f"crema_d.modality {modality!r} is not one of {', '.join(MODALITIES)}")
    votes = _Votes(raw, settings["on_invalid_row"])
    mine = votes.query == MODALITIES[modality]
    other_rows = ~mine
    # a row whose id does not parse belongs to no modality: it is counted among every modality's rows
    unknown = votes.reason == "malformed_row_id"
    read = mine | unknown
    why = votes.reason.copy()
    audio = _audio(raw, votes, read & (why == ""), settings["on_missing_audio"])
    why[audio.missing] = "no_audio"
    keep = read & (why == "")
    demo = raw.demographics.set_index("actor")
    split_of = speaker_splits(
        list(demo.index), list(demo["sex"]), settings["split_shares"], int(settings["split_seed"])
    )
    rows = np.flatnonzero(keep)
    df = _table(raw, votes, rows, modality, demo, split_of)
    order = np.argsort(df["file_id"].to_numpy(), kind="stable")
    df = df.iloc[order].reset_index(drop=True)
    responses = None
    if raw.responses is not None:
        df, responses = _attach_responses(raw, df, votes, read, keep, modality)
    summary = _summarise(raw, votes, read, other_rows & ~unknown, why, df, audio, split_of, responses)
    summary["modality"] = modality
    summary["statistics"] = _statistics(votes, entropy_histogram_bins)
    summary["settings"] = {k: settings[k] for k in sorted(settings)}
    if not len(df):
        raise LabelError(
            f"the label stage keeps no {modality} clip of {int(read.sum())} read - it stops rather than "
            f"write an empty label table; clips dropped: {_counts(Counter(why[read].tolist()))}; "
            f"file: {raw.votes_path}"
        )
    return df, summary


class _Audio:
    """Which clips lack audio, and the audio files without votes (empty when the audio is not read)."""

    def __init__(self, missing: np.ndarray, without_votes: list[str], checked: bool) -> None:
        self.missing = missing
        self.without_votes = without_votes
        self.checked = checked


def _audio(raw: RawCremaD, votes: _Votes, candidates: np.ndarray, on_missing: str) -> _Audio:
    """Clips (among ``candidates``) without ``AudioWAV/<fileName>.wav``; wav files named by no row."""
    missing = np.zeros(len(votes.rows), dtype=bool)
    if raw.audio is None:
        return _Audio(missing, [], False)
    names = votes.rows["fileName"].to_numpy(dtype=object)
    missing = candidates & np.array([n not in raw.audio for n in names], dtype=bool)
    if missing.any() and on_missing == "error":
        row = votes.rows.loc[missing].iloc[0]
        raise LabelError(
            f"{raw.votes_path.name} line {row['line']}: clip {row['fileName']!r} has votes but "
            f"{raw.audio_dir}/{row['fileName']}.wav does not exist ({int(missing.sum())} such clip(s); "
            "crema_d.on_missing_audio: drop counts them instead)"
        )
    named = set(names.tolist())
    return _Audio(missing, sorted(a for a in raw.audio if a not in named), True)


def _table(
    raw: RawCremaD,
    votes: _Votes,
    rows: np.ndarray,
    modality: str,
    demo: pd.DataFrame,
    split_of: Mapping[str, str],
) -> pd.DataFrame:
    v = votes.rows.iloc[rows]
    names = [votes.names[i] for i in rows]
    assert all(n is not None for n in names)
    counts = votes.counts[rows]
    n = votes.total[rows]
    top = counts.max(axis=1, keepdims=True) if len(rows) else np.zeros((0, 1), dtype=np.int64)
    tied = (counts == top).sum(axis=1) > 1
    plural = counts.argmax(axis=1) if len(rows) else np.zeros(0, dtype=np.int64)
    consensus = np.where(tied, NO_AGREEMENT, np.array(CREMA_D.codes, dtype=object)[plural])
    hard = pd.array(np.where(tied, -1, plural), dtype="Int64")
    hard[tied] = pd.NA
    actors = [nm.actor for nm in names if nm is not None]
    age = pd.to_numeric(demo["age"], errors="coerce")
    intensity = pd.to_numeric(v["meanEmoResp"], errors="coerce").to_numpy(dtype=np.float64)
    return pd.DataFrame(
        {
            "file_id": v["fileName"].to_numpy(dtype=object),
            "split": [split_of[a] for a in actors],
            "speaker": actors,
            "sex": [str(demo.at[a, "sex"]) for a in actors],
            "age": np.array([age.at[a] for a in actors], dtype=np.float64),
            "sentence": [nm.sentence for nm in names if nm is not None],
            "intended": [nm.intended for nm in names if nm is not None],
            "intended_level": [nm.level for nm in names if nm is not None],
            "modality": modality,
            "clip": votes.clip[rows],
            "n_responses": n,
            "agreement": (top[:, 0] / np.maximum(n, 1)).astype(np.float64),
            "emo_vote": v["emoVote"].to_numpy(dtype=object),
            "consensus": consensus,
            "hard_label": hard,
            "entropy": normalised_entropy(counts) if len(rows) else np.zeros(0),
            "mean_intensity": np.where(intensity >= 0, intensity, np.nan),
            "votes": list(counts),
            "p_votes": list(counts / np.maximum(n, 1)[:, None]),
        }
    )


# ----------------------------------------------------------------------------- finishedResponses.csv


def _attach_responses(
    raw: RawCremaD, df: pd.DataFrame, votes: _Votes, read: np.ndarray, keep: np.ndarray, modality: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The per-rater columns from finishedResponses.csv and the accounting of its rows.

    A response row is dropped (first failing reason): ``modality_not_used``, ``malformed_row``
    (queryType or clipNum not a whole number), ``unknown_clip`` (no row of tabulatedVotes.csv for
    that clip and modality), ``clip_dropped`` (the clip's row is dropped), ``unknown_class``
    (respEmo not one of A, D, F, H, N, S), ``non_numeric_level`` / ``level_out_of_range``
    (respLevel outside 0-100), ``duplicate_rater`` (a rater's later response to the same clip).
    """
    assert raw.responses is not None
    r = raw.responses.reset_index(drop=True)
    why = np.full(len(r), "", dtype=object)

    def mark(mask: np.ndarray, reason: str) -> None:
        why[mask & (why == "")] = reason

    q, q_ok = _whole(r["query_type"])
    clip, clip_ok = _whole(r["clip"])
    mark(q_ok & (q != MODALITIES[modality]), "modality_not_used")
    mark(~(q_ok & clip_ok), "malformed_row")
    read_clips = set(votes.clip[read & (votes.query == MODALITIES[modality])].tolist())
    kept_clips = set(df["clip"].tolist())
    mark(np.array([c not in read_clips for c in clip], dtype=bool), "unknown_clip")
    mark(np.array([c not in kept_clips for c in clip], dtype=bool), "clip_dropped")
    emotion = np.array([CREMA_D.index(e.strip().upper()) for e in r["emotion"]], dtype=object)
    mark(np.array([e is None for e in emotion], dtype=bool), "unknown_class")
    level = pd.to_numeric(r["level"], errors="coerce").to_numpy(dtype=np.float64)
    mark(~np.isfinite(level), "non_numeric_level")
    mark((level < 0) | (level > 100), "level_out_of_range")
    valid = np.flatnonzero(
        why == ""
    )  # only valid rows are compared: another modality's response is no repeat
    rater = r["rater"]
    pair = pd.Series([f"{clip[i]}\0{rater.at[i]}" for i in valid], dtype=object)
    repeat = np.zeros(len(r), dtype=bool)
    repeat[valid] = pair.duplicated(keep="first").to_numpy()
    mark(repeat, "duplicate_rater")
    ok = why == ""
    by_clip: dict[int, list[int]] = {}
    for i in np.flatnonzero(ok):
        by_clip.setdefault(int(clip[i]), []).append(int(i))
    raters: list[list[str]] = []
    rvotes: list[list[int]] = []
    rlevels: list[list[float]] = []
    differ = 0
    for c, counts in zip(df["clip"], df["votes"], strict=True):
        idx = by_clip.get(int(c), [])
        raters.append([str(r.at[i, "rater"]) for i in idx])
        rv = [int(emotion[i]) for i in idx]
        rvotes.append(rv)
        rlevels.append([float(level[i]) for i in idx])
        differ += int(not np.array_equal(np.bincount(rv, minlength=K), np.asarray(counts)))
    out = df.copy()
    for name, values in (("raters", raters), ("rater_votes", rvotes), ("rater_levels", rlevels)):
        out[name] = pd.Series(values, index=df.index, dtype=object)
    dropped = Counter(why[~ok].tolist())
    return out, {
        "file": str(raw.responses_path),
        "responses_read": len(r),
        "responses_kept": int(ok.sum()),
        "responses_dropped": {k: v for k, v in sorted(dropped.items())},
        "clips_whose_responses_differ_from_votes": differ,
    }


# ----------------------------------------------------------------------------- summary


def _summarise(
    raw: RawCremaD,
    votes: _Votes,
    read: np.ndarray,
    other: np.ndarray,
    why: np.ndarray,
    df: pd.DataFrame,
    audio: _Audio,
    split_of: Mapping[str, str],
    responses: Mapping[str, Any] | None,
) -> dict[str, Any]:
    dropped = Counter(why[read & (why != "")].tolist())
    rows_dropped = Counter(votes.reason[votes.reason != ""].tolist())
    examples = {
        reason: sorted(votes.rows.loc[read & (why == reason), "fileName"].tolist())[:EXAMPLES]
        for reason in sorted(dropped)
    }
    summary: dict[str, Any] = {
        "corpus": "crema_d",
        "classes": list(CREMA_D.names),
        "codes": list(CREMA_D.codes),
        "utterances_read": int(read.sum()),
        "utterances_kept": len(df),
        "utterances_dropped": {k: v for k, v in sorted(dropped.items())},
        "dropped_examples": examples,
        "rows_read": len(votes.rows),
        "rows_of_other_modalities": int(other.sum()),
        "rows_dropped_all_modalities": {k: v for k, v in sorted(rows_dropped.items())},
        "ties_kept": int((df["consensus"] == NO_AGREEMENT).sum()),
        "audio": {
            "checked": audio.checked,
            "folder": str(raw.audio_dir) if raw.audio_dir is not None else None,
            "audio_without_votes": len(audio.without_votes),
            "audio_without_votes_examples": audio.without_votes[:EXAMPLES],
        },
        "splits": _split_summary(df, split_of),
        "source": {
            "votes_file": str(raw.votes_path),
            "sentences_file": str(raw.sentences_path),
            "demographics_file": str(raw.demographics_path),
            "responses_file": str(raw.responses_path) if raw.responses_path is not None else None,
        },
        "responses": responses,
    }
    _check_accounting(summary, responses)
    return summary


def _split_summary(df: pd.DataFrame, split_of: Mapping[str, str]) -> dict[str, Any]:
    """Actors and clips of each split, by sex."""
    out: dict[str, Any] = {}
    for split in sorted(set(split_of.values())):
        mine = df[df["split"] == split]
        out[split] = {
            "actors": sum(1 for s in split_of.values() if s == split),
            "clips": len(mine),
            "clips_by_sex": {k: int(v) for k, v in sorted(Counter(mine["sex"]).items())},
            "actors_with_clips_by_sex": {
                k: int(v) for k, v in sorted(Counter(mine.drop_duplicates("speaker")["sex"]).items())
            },
        }
    return out


def _check_accounting(summary: Mapping[str, Any], responses: Mapping[str, Any] | None) -> None:
    read, kept = summary["utterances_read"], summary["utterances_kept"]
    dropped = sum(summary["utterances_dropped"].values())
    if kept + dropped != read:  # a bug, never bad input
        raise AssertionError(f"clips: kept {kept} + dropped {dropped} != read {read}")
    if responses is not None:
        r_read, r_kept = responses["responses_read"], responses["responses_kept"]
        r_dropped = sum(responses["responses_dropped"].values())
        if r_kept + r_dropped != r_read:
            raise AssertionError(f"responses: kept {r_kept} + dropped {r_dropped} != read {r_read}")


def _counts(c: Counter[str]) -> str:
    return ", ".join(f"{k}: {n}" for k, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])) if k) or "none"

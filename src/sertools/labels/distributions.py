"""Votes -> per-utterance distributions, ratings and their summaries.

Everything is vectorised over annotation rows (1.4 M rows at MSP-Podcast 2.0
scale); only the distinct secondary-label strings are parsed in Python. The
decisions taken here (secondary labels as a set of classes per annotator,
merged = primary + weight x secondary, A/V/D mean and sample sd) are listed
under "Label decisions" in docs/corpus.md; the columns they fill under "The
label table".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sertools.arrays import list_column
from sertools.classes import (
    CLASSES,
    CODE_TO_INDEX,
    CODES,
    NO_AGREEMENT,
    OTHER,
    K,
    primary_index,
    secondary_word,
)
from sertools.labels import reliability, table
from sertools.measures import normalised_entropy
from sertools.splits import ALL, SPLITS

RATING_FIELDS = {"act": "arousal", "val": "valence", "dom": "dominance"}


def plurality_codes(votes: np.ndarray) -> np.ndarray:
    """Consensus code of each row: the unique plurality class, or X on a tie (or no votes)."""
    votes = np.asarray(votes)
    top = votes.max(axis=1)
    n_top = (votes == top[:, None]).sum(axis=1)
    codes = np.array(CODES, dtype=object)[votes.argmax(axis=1)]
    return np.where((n_top == 1) & (top > 0), codes, NO_AGREEMENT)


# ----------------------------------------------------------------------------- secondary labels


def word_map(labels_cfg: Mapping[str, Any]) -> dict[str, int]:
    """``labels.secondary_map`` as lower-case word -> class index.

    Its words pass through the alias table too (:func:`sertools.classes.secondary_word`),
    so an entry may name a word by any of its known spellings.
    """
    return {secondary_word(w): CLASSES.index(c) for w, c in labels_cfg["secondary_map"].items()}


def secondary_table(
    uniques: pd.Index, words: Mapping[str, int]
) -> tuple[np.ndarray, list[list[str]], np.ndarray]:
    """Parse each distinct secondary string once.

    A word is first spelled as the alias table says (``Dissapointed`` ->
    ``disappointed``), then looked up in ``words`` (``labels.secondary_map``), then
    read as a class name or Other spelling; anything else is Other and unmapped.
    Returns a (n_unique, K) bool matrix of mentioned classes, the unmapped words
    of each string, and the number of (non-empty) words in each string.
    """
    mentioned = np.zeros((len(uniques), K), dtype=bool)
    unmapped: list[list[str]] = []
    n_words = np.zeros(len(uniques), dtype=np.int64)
    for j, s in enumerate(uniques):
        missing: list[str] = []
        for w in str(s).split(","):
            w = w.strip()
            if not w:
                continue
            n_words[j] += 1
            known = secondary_word(w)  # known misspellings first (sertools.classes.SECONDARY_ALIASES)
            idx = words.get(known)
            if idx is None:
                idx = primary_index(known)  # class names and Other spellings
            if idx is None:
                idx = OTHER
                missing.append(w.lower())
            mentioned[j, idx] = True
        unmapped.append(missing)
    return mentioned, unmapped, n_words


@dataclass(frozen=True)
class SecondaryVotes:
    """Secondary-label mentions counted per utterance, and what was counted."""

    votes: np.ndarray  # (n, K) counted class mentions per utterance
    summary: dict[str, Any]


def secondary_votes(
    utt: np.ndarray, prim: np.ndarray, secondary: pd.Series, n: int, labels_cfg: Mapping[str, Any]
) -> SecondaryVotes:
    """Class mentions of the secondary labels of each kept annotation, summed per utterance."""
    sec_codes, sec_uniques = pd.factorize(secondary)
    mentioned, unmapped, n_words = secondary_table(pd.Index(sec_uniques), word_map(labels_cfg))
    sec = mentioned[sec_codes] if len(sec_uniques) else np.zeros((len(utt), K), dtype=bool)
    rows = np.arange(len(utt))
    same_as_primary = sec[rows, prim].copy()
    if not labels_cfg["count_secondary_equal_to_primary"]:
        sec[rows, prim] = False
    votes = np.stack([np.bincount(utt, weights=sec[:, k], minlength=n) for k in range(K)], axis=1)

    occurrences = np.bincount(sec_codes, minlength=len(sec_uniques)) if len(sec_uniques) else np.zeros(0, int)
    unmapped_counts: Counter[str] = Counter()
    for words, occ in zip(unmapped, occurrences, strict=True):
        for w in words:
            unmapped_counts[w] += int(occ)
    mentions = int(n_words.astype(np.int64)[sec_codes].sum()) if len(sec_uniques) else 0
    summary = {
        "weight": labels_cfg["secondary_weight"],
        "count_equal_to_primary": labels_cfg["count_secondary_equal_to_primary"],
        "words": mentions,
        "class_mentions": int(mentioned[sec_codes].sum()) if len(sec_uniques) else 0,
        "class_mentions_equal_to_primary": int(same_as_primary.sum()),
        "class_mentions_counted": int(sec.sum()),
        "unmapped_words": dict(sorted(unmapped_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "unmapped_word_count": int(sum(unmapped_counts.values())),
    }
    return SecondaryVotes(votes, summary)


# ----------------------------------------------------------------------------- per-utterance table


def rating_moments(utt: np.ndarray, ratings: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample standard deviation (ddof=1; NaN for one rating) per utterance."""
    counts = np.bincount(utt, minlength=n)
    s1 = np.bincount(utt, weights=ratings, minlength=n)
    s2 = np.bincount(utt, weights=ratings**2, minlength=n)
    mean = s1 / counts
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(counts > 1, (s2 - counts * mean**2) / (counts - 1), np.nan)
    return mean, np.sqrt(np.clip(var, 0, None))


def _hard_labels(consensus: pd.Series) -> pd.api.extensions.ExtensionArray:
    """The class index of each consensus code (``<NA>`` for X), looked up once per distinct code."""
    codes, uniques = pd.factorize(consensus, use_na_sentinel=False)
    lookup = np.array([CODE_TO_INDEX.get(c) for c in uniques] + [None], dtype=object)
    return pd.array(lookup[codes], dtype="Int64")


def utterance_table(
    cons: pd.DataFrame,
    votes: np.ndarray,
    merged: np.ndarray,
    moments: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> pd.DataFrame:
    """The label table (columns in schema order) from the kept consensus rows and their votes."""
    n_ann = votes.sum(axis=1)
    p_primary = votes / n_ann[:, None]
    p_merged = merged / merged.sum(axis=1)[:, None]
    df = pd.DataFrame(
        {
            "file_id": cons["file_id"].to_numpy(),
            "split": cons["split"].to_numpy(),
            "speaker": cons["speaker"].to_numpy(),
            "gender": cons["gender"].to_numpy(),
            "consensus": cons["consensus"].to_numpy(),
            "hard_label": _hard_labels(cons["consensus"]),
            "plurality": plurality_codes(votes),
            "n_annotators": n_ann.astype(np.int64),
            "agreement": votes.max(axis=1) / n_ann,
            "entropy_primary": normalised_entropy(p_primary),
            "entropy_merged": normalised_entropy(p_merged),
        }
    )
    for name in RATING_FIELDS.values():
        df[name], df[f"{name}_sd"] = moments[name]
    for name, mat in (
        ("votes_primary", votes.astype(np.int64)),
        ("votes_merged", merged.astype(np.float64)),
        ("p_primary", p_primary),
        ("p_merged", p_merged),
    ):
        df[name] = list_column(mat)
    return df


def aggregate(
    cons: pd.DataFrame,
    utt: np.ndarray,
    prim: np.ndarray,
    secondary: pd.Series,
    ratings: Mapping[str, np.ndarray],
    workers: np.ndarray,
    labels_cfg: Mapping[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The label table and the vote part of the summary from the kept annotation rows.

    ``cons``: the kept utterances (consensus rows, in table order); ``utt``: each
    kept annotation's row in ``cons``; ``prim``: its primary class; ``secondary``,
    ``ratings`` (by field act/val/dom): its other values; ``workers``: its worker as an
    integer code (any coding that is one-to-one).
    """
    n = len(cons)
    votes = np.bincount(utt * K + prim, minlength=n * K).reshape(n, K)
    sec = secondary_votes(utt, prim, secondary, n, labels_cfg)
    merged = votes + labels_cfg["secondary_weight"] * sec.votes
    moments = {name: rating_moments(utt, ratings[f], n) for f, name in RATING_FIELDS.items()}
    df = utterance_table(cons, votes, merged, moments)
    n_ann = votes.sum(axis=1)
    summary = {
        "secondary": sec.summary,
        "reliability": reliability_summary(df["split"].to_numpy(), votes, utt, ratings),
        "consensus_vs_plurality": {
            "agree": int((df["plurality"] == df["consensus"]).sum()),
            "disagree": int((df["plurality"] != df["consensus"]).sum()),
        },
        "annotators_per_utterance": {
            "min": int(n_ann.min()) if n else 0,
            "mean": float(n_ann.mean()) if n else 0.0,
            "max": int(n_ann.max()) if n else 0,
        },
        "workers": len(np.unique(workers)),
    }
    return df, summary


# ----------------------------------------------------------------------------- summaries


def reliability_summary(
    splits: np.ndarray, votes: np.ndarray, utt: np.ndarray, ratings: Mapping[str, np.ndarray]
) -> dict[str, Any]:
    """Fleiss' kappa of the primary votes (all and per split) and Krippendorff's alpha of A/V/D."""
    kappa = {ALL: _kappa(votes)}
    for s in SPLITS:
        if (splits == s).any():
            kappa[s] = _kappa(votes[splits == s])
    alpha = {
        name: float(reliability.krippendorff_alpha_interval(utt, ratings[f]))
        for f, name in RATING_FIELDS.items()
    }
    return {"fleiss_kappa_primary": kappa, "krippendorff_alpha_interval": alpha}


def _kappa(votes: np.ndarray) -> float | None:
    if len(votes) == 0:
        return None
    k = reliability.fleiss_kappa(votes)
    return None if np.isnan(k) else float(k)


def distribution_summary(df: pd.DataFrame, bins: int) -> dict[str, Any]:
    """Consensus counts, vote mass per class and entropy histograms, for all and per split."""
    m = {c: table.matrix(df, c) for c in table.DISTRIBUTIONS}
    edges = np.linspace(0.0, 1.0, bins + 1)
    out: dict[str, Any] = {"classes": list(CLASSES), "class_distribution": {}, "entropy_histogram": {}}
    out["entropy_histogram"]["edges"] = edges.tolist()
    for s in (ALL, *SPLITS):
        mask = np.ones(len(df), bool) if s == ALL else (df["split"] == s).to_numpy()
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

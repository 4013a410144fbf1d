"""The paper release's label rules: word maps, vote distributions and hard labels.

The release builds its distributions from each worker's primary and secondary
labels in ``labels.txt`` (docs/paper_release.md, "Label rules"). Its rules
differ from this package's own ones (:mod:`sertools.labels.distributions`), so
they are kept apart; the label stage always writes their result as extra
columns of the label table (:func:`label_columns`; docs/corpus.md, "The
paper release's label rules"):

- words map through one canonical table; a primary that maps to nothing is
  **Other**, a secondary that maps to nothing is **dropped**;
- primary: every worker line is one vote (a worker listed twice votes twice);
- secondary: each worker's secondary classes share one unit of mass (1/k each);
  the secondary distribution is that mass normalised over all workers;
- merged = ``w_p * primary + w_s * secondary``, renormalised (MH: 0.9/0.1,
  ML: 0.8/0.2); without any secondary mass it is the primary distribution (up
  to rounding: the release computes it all the same);
- hard labels: ``consensus_x_other`` (the consensus letter, X relabelled Other:
  the release's hard rows) or ``guarded_argmax`` (the argmax of the utterance's
  own distribution with a neutral guard and a fixed tie order: its
  distributional rows).

Everything here is numpy over arrays in this package's class order
(:data:`sertools.classes.CLASSES`), but the arithmetic follows the release's
float operations one by one (docs/paper_release.md, "Float order decides the
guard"), so that its labels come out bit for bit: the release sums Python floats
left to right over its sorted short class names (:data:`SUM_ORDER`), divides by
those sums, accumulates each class's secondary mass worker by worker in file
order, and applies the guard to those floats. Elementwise numpy float64
operations are the same IEEE operations as Python's, so summing columns one at
a time in that order gives the same bits as the release's loops.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sertools.classes import CLASSES, CODE_TO_INDEX, NO_AGREEMENT, K
from sertools.splits import ALL, SPLITS

NEUTRAL = CLASSES.index("Neutral")
OTHER = CLASSES.index("Other")

#: the release's canonical word map (lower-case word -> class name)
WORD_MAP: dict[str, str] = {
    "neutral": "Neutral",
    "happy": "Happy",
    "excited": "Happy",
    "amused": "Happy",
    "angry": "Angry",
    "annoyed": "Angry",
    "frustrated": "Angry",
    "sad": "Sad",
    "depressed": "Sad",
    "disappointed": "Sad",
    "concerned": "Sad",
    "fear": "Fear",
    "disgust": "Disgust",
    "contempt": "Contempt",
    "surprise": "Surprise",
    "other": "Other",
    "x": "Other",
    "noagree": "Other",
}
#: single-letter codes the release also accepts (MSP-Podcast's consensus letters)
LETTERS: dict[str, str] = {
    "n": "Neutral",
    "h": "Happy",
    "a": "Angry",
    "s": "Sad",
    "f": "Fear",
    "d": "Disgust",
    "c": "Contempt",
    "u": "Surprise",
    "o": "Other",
    "x": "Other",
}
#: order among classes of equal probability: non-neutral first, then reverse
#: alphabetical order of the release's short names (surprise > sad > other >
#: hap > fear > disgust > contempt > ang), neutral last
TIE_ORDER: tuple[str, ...] = (
    "Surprise",
    "Sad",
    "Other",
    "Happy",
    "Fear",
    "Disgust",
    "Contempt",
    "Angry",
    "Neutral",
)
#: the neutral guard: neutral stays the hard label only with at least this many
#: raw neutral votes, this probability, and this margin over the runner-up
GUARD_MIN_VOTES = 2
GUARD_MIN_PROB = 0.35
GUARD_MIN_MARGIN = 0.10

#: the release's short class names; its dicts run over them sorted
SHORT_NAME: dict[str, str] = {
    "Angry": "ang",
    "Contempt": "contempt",
    "Disgust": "disgust",
    "Fear": "fear",
    "Happy": "hap",
    "Neutral": "neu",
    "Other": "other",
    "Sad": "sad",
    "Surprise": "surprise",
}
#: class indices in the order of the release's sums (its sorted short names:
#: ang, contempt, disgust, fear, hap, neu, other, sad, surprise), used for the
#: primary, secondary and merged normalisations and the guarded label
SUM_ORDER: tuple[int, ...] = tuple(sorted(range(K), key=lambda i: SHORT_NAME[CLASSES[i]]))
#: class indices in the order of the release's last renormalisation of each
#: distribution it writes (neu, hap, ang, sad, fear, disgust, contempt, surprise, other)
WRITE_ORDER: tuple[int, ...] = tuple(
    CLASSES.index(c)
    for c in ("Neutral", "Happy", "Angry", "Sad", "Fear", "Disgust", "Contempt", "Surprise", "Other")
)

_OTHER_TEXT = re.compile(r"^other\s*[-_:(]")
_SPLIT = re.compile(r"\s*(?:[,;|/+&]|\band\b)\s*", re.IGNORECASE)
_WEIGHT = re.compile(r"\s*(?::\s*[0-9.]+|\(\s*[0-9.]+\s*\))\s*$")
_INDEX = {name: i for i, name in enumerate(CLASSES)}


def _word_class(token: str) -> str | None:
    t = token.strip().lower()
    if not t:
        return None
    if t == "other" or _OTHER_TEXT.match(t):
        return "Other"
    if t in WORD_MAP:
        return WORD_MAP[t]
    if len(t) == 1:
        return LETTERS.get(t)
    return None


def primary_class(word: str) -> int:
    """Class index of a primary label; anything that maps to nothing is Other."""
    name = _word_class(word)
    return _INDEX[name] if name else OTHER


def secondary_classes(text: str) -> list[int]:
    """Distinct class indices named in a secondary list (order of first mention); unmapped words dropped."""
    return _secondary(text)[0]


def _secondary(text: str) -> tuple[list[int], list[str]]:
    """(distinct class indices in order of first mention, the words dropped as unmapped, lower case)."""
    out: list[int] = []
    dropped: list[str] = []
    for token in _SPLIT.split(str(text or "")):
        word = _WEIGHT.sub("", token)
        name = _word_class(word)
        if name is None:
            if word.strip():
                dropped.append(word.strip().lower())
        elif _INDEX[name] not in out:
            out.append(_INDEX[name])
    return out, dropped


def vote_distributions(
    utterance: np.ndarray, primary: np.ndarray, secondary: Sequence[Iterable[int]], n_utterances: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-utterance primary vote counts and secondary mass, both [N, K].

    ``utterance``: index of each annotation's utterance; ``primary``: class index of
    each annotation; ``secondary``: the classes each annotation names (1/k mass each).
    """
    votes = np.zeros((n_utterances, K), dtype=np.float64)
    np.add.at(votes, (utterance, primary), 1.0)
    mass = np.zeros((n_utterances, K), dtype=np.float64)
    for u, classes in zip(utterance, secondary, strict=True):
        classes = list(classes)
        if classes:
            np.add.at(mass, (np.full(len(classes), u), np.asarray(classes)), 1.0 / len(classes))
    return votes, mass


def ordered_sum(x: np.ndarray, order: Sequence[int] = SUM_ORDER) -> np.ndarray:
    """Row sums of ``x`` [N, K] added left to right over the columns ``order``: a Python
    ``total = 0; for c in order: total += x[c]`` per row, bit for bit (no pairwise summation).

    That is Python 3.11's ``sum`` of floats; from 3.12 on ``sum`` is compensated and can
    differ in the last bit (docs/paper_release.md, "Label rules").
    """
    x = np.asarray(x, dtype=np.float64)
    total = x[:, order[0]].copy()
    for k in order[1:]:
        total += x[:, k]
    return total


def _divide_rows(x: np.ndarray, total: np.ndarray) -> np.ndarray:
    """``x / total`` per row (true division, as the release's ``d[k] /= s``) where ``total > 0``;
    other rows are left as they are."""
    x = np.asarray(x, dtype=np.float64)
    positive = total > 0
    if positive.all():
        return x / total[:, None]
    return np.divide(x, total[:, None], out=x.copy(), where=positive[:, None])


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows divided by their sums, as the release does it (the sum left to right in
    :data:`SUM_ORDER`, then a division per entry); all-zero rows stay zero."""
    return _divide_rows(x, ordered_sum(x))


def merge(primary: np.ndarray, secondary: np.ndarray, w_primary: float, w_secondary: float) -> np.ndarray:
    """``w_p p + w_s s`` renormalised per row, as the release's ``_merge_dist`` computes it.

    Without secondary mass this is ``p`` up to rounding: ``w_p p / sum(w_p p)`` need not be
    ``p`` bit for bit, and the release uses it all the same.
    """
    if w_primary < 0 or w_secondary < 0 or w_primary + w_secondary <= 0:
        raise ValueError(f"merge weights must be non-negative and not both 0, got {w_primary}, {w_secondary}")
    w_primary, w_secondary = float(w_primary), float(w_secondary)
    return normalise_rows(w_primary * np.asarray(primary) + w_secondary * np.asarray(secondary))


def one_hot_if_empty(dist: np.ndarray, label: np.ndarray) -> np.ndarray:
    """``dist`` with each all-zero row replaced by a one-hot on that row's ``label``: what the
    release writes for an empty primary or merged distribution (``_sanitize_dist``'s fallback)."""
    dist = np.asarray(dist, dtype=np.float64)
    empty = np.flatnonzero(~dist.any(axis=1))
    if not len(empty):
        return dist
    out = dist.copy()
    out[empty] = 0.0
    out[empty, np.asarray(label)[empty]] = 1.0
    return out


def written(dist: np.ndarray, label: np.ndarray | None = None) -> np.ndarray:
    """A distribution bit for bit as the release writes it to its JSON (``_finalize_split``).

    ``_sanitize_dist`` renormalises once more, the sum left to right in
    :data:`WRITE_ORDER`, which can move an entry by a rounding step, and writes an
    all-zero row as a one-hot on ``label`` (the utterance's hard label; no
    fallback without one, as for the secondary distribution). Its clamping of
    negatives and NaN, and a second renormalisation when the sum is off 1 by more
    than 1e-3, never act on these rows. The label table keeps the floats before
    this step (:func:`label_columns`).
    """
    out = _divide_rows(dist, ordered_sum(dist, WRITE_ORDER))
    return out if label is None else one_hot_if_empty(out, label)


def consensus_x_other(codes: Sequence[str]) -> np.ndarray:
    """Hard labels from consensus letters with X (no agreement) relabelled Other; -1 for unknown letters."""
    index, uniques = pd.factorize(pd.Series(codes, dtype=object), use_na_sentinel=False)
    lookup = np.full(len(uniques), -1, dtype=np.int64)
    for j, code in enumerate(uniques):
        c = str(code).strip().upper()
        lookup[j] = OTHER if c == NO_AGREEMENT else CODE_TO_INDEX.get(c, -1)
    return lookup[index] if len(index) else np.full(0, -1, dtype=np.int64)


def guarded_argmax(dist: np.ndarray, neutral_votes: np.ndarray) -> np.ndarray:
    """Hard labels from distributions [N, K] by the release's neutral-guarded argmax.

    Classes are ranked by probability, ties broken by :data:`TIE_ORDER`. A top
    class other than Neutral is the label. Neutral on top stays only with at
    least two raw neutral votes, P >= 0.35 and a margin of 0.10 over the
    runner-up; otherwise the best non-neutral class wins, even at probability 0.
    """
    dist = np.asarray(dist, dtype=np.float64)
    # columns in tie order: argmax returns the first maximum, i.e. the highest probability and,
    # among equal ones, the class first in TIE_ORDER; masking it gives the runner-up the same way
    by_tie = np.array([CLASSES.index(c) for c in TIE_ORDER])
    ranked = dist[:, by_tie]
    rows = np.arange(len(dist))
    first = ranked.argmax(axis=1) if len(dist) else np.zeros(0, dtype=np.int64)
    p_top = ranked[rows, first]
    ranked[rows, first] = -np.inf
    runner_up = ranked.argmax(axis=1) if len(dist) else np.zeros(0, dtype=np.int64)
    p_second = ranked[rows, runner_up] if dist.shape[1] > 1 else np.full(len(dist), -np.inf)
    top, second = by_tie[first], by_tie[runner_up]
    keep_neutral = (
        (np.asarray(neutral_votes) >= GUARD_MIN_VOTES)
        & (p_top >= GUARD_MIN_PROB)
        & (p_top - p_second >= GUARD_MIN_MARGIN)
    )
    best_non_neutral = np.where(top == NEUTRAL, second, top)
    return np.where((top == NEUTRAL) & keep_neutral, NEUTRAL, best_non_neutral)


# ----------------------------------------------------------------------------- label-table columns

#: the release's hard-label columns of the label table that exist whatever the config
HARD_X_OTHER = "hard_consensus_x_other"


def distribution_column(name: str) -> str:
    """``p_release_<name>``: the label-table column of a release distribution."""
    return f"p_release_{name}"


def guarded_column(dist: str) -> str:
    """``hard_guarded_<dist>``: the guarded-argmax hard label of distribution ``p_<dist>``."""
    return f"hard_guarded_{dist}"


@dataclass(frozen=True)
class SecondaryMass:
    """The release's secondary labels of the kept annotations, per utterance."""

    mass: np.ndarray  # (n, K): each worker's classes share one unit (1/k each)
    dropped_words: dict[str, int]  # words the release map drops, by occurrences


def _factorize_text(values: Sequence[str] | pd.Series) -> tuple[np.ndarray, Any]:
    """Codes and distinct values of a column of label strings, a missing value read as ``""``.

    A pandas string column is factorised as it is (Arrow does it without making
    a Python string per row); anything else as Python objects.
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.StringDtype):
        return pd.factorize(values.fillna(""))
    return pd.factorize(pd.Series(values, dtype=object).fillna(""))


def secondary_mass(utt: np.ndarray, secondary: Sequence[str] | pd.Series, n: int) -> SecondaryMass:
    """Per-utterance secondary mass of annotations ``secondary`` (raw list strings) of utterances ``utt``.

    Equal to :func:`vote_distributions`'s mass with :func:`secondary_classes` of
    every string; each distinct string is parsed once. Each class's mass is added
    row by row in the order of ``utt`` (``np.bincount``'s loop), as the release adds
    each worker's ``1/k`` in turn, so the sums are the release's bit for bit.
    """
    codes, uniques = _factorize_text(secondary)
    share = np.zeros((len(uniques), K), dtype=np.float64)
    dropped: Counter[str] = Counter()
    occurrences = np.bincount(codes, minlength=len(uniques)) if len(uniques) else np.zeros(0, np.int64)
    for j, text in enumerate(uniques):
        classes, words = _secondary(text)
        if classes:
            share[j, classes] = 1.0 / len(classes)
        for w in words:
            dropped[w] += int(occurrences[j])
    utt = np.asarray(utt, dtype=np.int64)
    mass: np.ndarray
    if len(uniques):
        columns = share.T.copy()  # (K, distinct strings): each class's share, gathered per row below
        mass = np.stack([np.bincount(utt, weights=columns[k][codes], minlength=n) for k in range(K)], axis=1)
    else:
        mass = np.zeros((n, K))
    return SecondaryMass(mass.reshape(n, K), dict(sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0]))))


def primary_votes(utt: np.ndarray, primary: Sequence[str] | pd.Series, n: int) -> np.ndarray:
    """(n, K) primary votes of annotations with raw primary labels ``primary`` (each distinct string mapped once)."""
    codes, uniques = _factorize_text(primary)
    lookup = np.array([primary_class(str(w)) for w in uniques], dtype=np.int64)
    cls = lookup[codes] if len(uniques) else np.zeros(len(utt), dtype=np.int64)
    return (
        np.bincount(np.asarray(utt, dtype=np.int64) * K + cls, minlength=n * K)
        .reshape(n, K)
        .astype(np.float64)
    )


def label_columns(
    utt: np.ndarray,
    primary: Sequence[str] | pd.Series,
    secondary: Sequence[str] | pd.Series,
    consensus: Sequence[str],
    neutral_votes: np.ndarray,
    ours: Mapping[str, np.ndarray],
    weights: Mapping[str, Mapping[str, float]],
) -> tuple[dict[str, np.ndarray], SecondaryMass]:
    """The release's columns of the label table, in table order, for ``len(consensus)`` utterances.

    ``utt``/``primary``/``secondary``: each kept annotation's utterance and raw
    labels; ``consensus``: each utterance's consensus letter; ``neutral_votes``: its
    raw neutral primary votes (the guard); ``ours``: this package's distributions
    by name (``primary``, ``merged``), which get a guarded hard label too;
    ``weights``: ``labels.release_merged_weights``. Columns: ``p_release_primary``,
    ``p_release_secondary`` (all zero without any secondary), ``p_release_<name>``,
    ``hard_consensus_x_other``, then ``hard_guarded_<dist>`` for ``ours`` and every
    release distribution but the secondary one.

    The rows of ``utt`` must be in the order of the workers in the label file:
    the secondary mass is summed in that order. The ``p_release_*`` columns are
    the release's floats bit for bit, from which its guarded labels come (so each
    ``hard_guarded_release_<d>`` is :func:`guarded_argmax` of ``p_release_<d>``),
    an empty one replaced by a one-hot on its label as the release writes it. The
    release renormalises each distribution once more before writing it
    (:func:`written`); that moves entries by about one unit in the last place,
    which float32 training targets do not see, and would break that identity on
    a few utterances, so the table keeps the floats before it.
    """
    n = len(consensus)
    votes = primary_votes(utt, primary, n)
    sec = secondary_mass(utt, secondary, n)  # each class's mass added worker by worker in row order
    # the release's floats, from which its hard labels come
    p = normalise_rows(votes)
    s = normalise_rows(sec.mass)
    dists: dict[str, np.ndarray] = {"release_primary": p, "release_secondary": s}
    for name, w in weights.items():
        dists[f"release_{name}"] = merge(p, s, float(w["primary"]), float(w["secondary"]))
    guarded = {**ours, **{d: m for d, m in dists.items() if d != "release_secondary"}}
    hard = {d: guarded_argmax(m, neutral_votes).astype(np.int64) for d, m in guarded.items()}
    # an empty primary or merged distribution is written as a one-hot on its label
    columns: dict[str, np.ndarray] = {
        f"p_{d}": m if d == "release_secondary" else one_hot_if_empty(m, hard[d]) for d, m in dists.items()
    }
    columns[HARD_X_OTHER] = consensus_x_other(consensus)
    for d in guarded:
        columns[guarded_column(d)] = hard[d]
    return columns, sec


def summary(
    splits: np.ndarray,
    columns: Mapping[str, np.ndarray],
    sec: SecondaryMass,
    weights: Mapping[str, Mapping[str, float]],
) -> dict[str, Any]:
    """The ``release`` block of the label summary.

    Class totals of every release hard-label column, for all utterances and per
    split; utterances without any secondary mass; the merge weights; the
    secondary words the release's map drops.
    """
    splits = np.asarray(splits)
    masks = {
        ALL: np.ones(len(splits), dtype=bool),
        **{sp: splits == sp for sp in SPLITS if (splits == sp).any()},
    }
    no_secondary = sec.mass.sum(axis=1) == 0
    hard = {c: v for c, v in columns.items() if c.startswith("hard_")}
    return {
        "merged_weights": {
            k: {"primary": v["primary"], "secondary": v["secondary"]} for k, v in weights.items()
        },
        "utterances_without_secondary": {sp: int(no_secondary[m].sum()) for sp, m in masks.items()},
        "hard_label_totals": {
            c: {
                sp: dict(zip(CLASSES, np.bincount(v[m], minlength=K).tolist(), strict=True))
                for sp, m in masks.items()
            }
            for c, v in hard.items()
        },
        "secondary_words_dropped": sec.dropped_words,
        "secondary_word_count_dropped": int(sum(sec.dropped_words.values())),
    }

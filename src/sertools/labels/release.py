"""The paper release's label rules: word maps, vote distributions and hard labels.

The release builds its distributions from each worker's primary and secondary
labels in ``labels.txt`` (docs/paper_release.md, "Label rules"). Its rules
differ from this package's default ones (:mod:`sertools.labels.distributions`),
so they are kept apart and chosen by ``labels.distributions: release``:

- words map through one canonical table; a primary that maps to nothing is
  **Other**, a secondary that maps to nothing is **dropped**;
- primary: every worker line is one vote (a worker listed twice votes twice);
- secondary: each worker's secondary classes share one unit of mass (1/k each);
  the secondary distribution is that mass normalised over all workers;
- merged = ``w_p * primary + w_s * secondary``, renormalised (MH: 0.9/0.1,
  ML: 0.8/0.2); without any secondary mass it equals the primary distribution;
- hard labels: ``consensus_x_other`` (the consensus letter, X relabelled Other:
  the release's hard rows) or ``guarded_argmax`` (the argmax of the utterance's
  own distribution with a neutral guard and a fixed tie order: its
  distributional rows).

Everything here is numpy over arrays in this package's class order
(:data:`sertools.classes.CLASSES`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from sertools.classes import CLASSES, CODE_TO_INDEX, NO_AGREEMENT, K

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
    out: list[int] = []
    for token in _SPLIT.split(str(text or "")):
        name = _word_class(_WEIGHT.sub("", token))
        if name and _INDEX[name] not in out:
            out.append(_INDEX[name])
    return out


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
            np.add.at(mass, (np.full(len(classes), u), classes), 1.0 / len(classes))
    return votes, mass


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows divided by their sums; all-zero rows stay zero."""
    total = x.sum(axis=1, keepdims=True)
    return np.divide(x, total, out=np.zeros_like(x, dtype=np.float64), where=total > 0)


def merge(primary: np.ndarray, secondary: np.ndarray, w_primary: float, w_secondary: float) -> np.ndarray:
    """``w_p p + w_s s`` renormalised per row (equal to ``p`` where ``s`` is all zero)."""
    if w_primary < 0 or w_secondary < 0 or w_primary + w_secondary <= 0:
        raise ValueError(f"merge weights must be non-negative and not both 0, got {w_primary}, {w_secondary}")
    return normalise_rows(w_primary * primary + w_secondary * secondary)


def consensus_x_other(codes: Sequence[str]) -> np.ndarray:
    """Hard labels from consensus letters with X (no agreement) relabelled Other; -1 for unknown letters."""
    out = np.full(len(codes), -1, dtype=np.int64)
    for i, code in enumerate(codes):
        c = str(code).strip().upper()
        out[i] = OTHER if c == NO_AGREEMENT else CODE_TO_INDEX.get(c, -1)
    return out


def guarded_argmax(dist: np.ndarray, neutral_votes: np.ndarray) -> np.ndarray:
    """Hard labels from distributions [N, K] by the release's neutral-guarded argmax.

    Classes are ranked by probability, ties broken by :data:`TIE_ORDER`. A top
    class other than Neutral is the label. Neutral on top stays only with at
    least two raw neutral votes, P >= 0.35 and a margin of 0.10 over the
    runner-up; otherwise the best non-neutral class wins, even at probability 0.
    """
    dist = np.asarray(dist, dtype=np.float64)
    tie_rank = np.array([TIE_ORDER.index(c) for c in CLASSES])
    # lexicographic: probability descending, then tie rank ascending
    order = np.lexsort((np.broadcast_to(tie_rank, dist.shape), -dist), axis=1)
    top, second = order[:, 0], order[:, 1]
    rows = np.arange(len(dist))
    p_top, p_second = dist[rows, top], dist[rows, second]
    keep_neutral = (
        (np.asarray(neutral_votes) >= GUARD_MIN_VOTES)
        & (p_top >= GUARD_MIN_PROB)
        & (p_top - p_second >= GUARD_MIN_MARGIN)
    )
    best_non_neutral = np.where(top == NEUTRAL, second, top)
    return np.where((top == NEUTRAL) & keep_neutral, NEUTRAL, best_non_neutral)


def normalised_entropy(dist: np.ndarray) -> np.ndarray:
    """Entropy in nats divided by ln K, clamped to [0, 1] (0 for an empty row), as the release computes it."""
    p = np.asarray(dist, dtype=np.float64)
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return np.clip(-(p * logs).sum(axis=1) / np.log(K), 0.0, 1.0)

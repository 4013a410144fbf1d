"""The label model of the synthetic corpus: latent distributions, raters, votes.

Rates and totals are MSP-Podcast 2.0's (docs/corpus.md, "Partitions").

1. Dominant class d ~ MSP 2.0 consensus totals without X (Neutral 79,117;
   Happy 58,684; Angry 36,260; Sad 24,629; Surprise 6,245; Contempt 5,985;
   Other 3,719; Disgust 3,143; Fear 1,943), tilted by a mild per-speaker
   preference. The latent distribution p_true has argmax d and is one of

     prototypical 55%  d holds 0.72-0.97, the rest spread over d's neighbours
     blended      30%  d and a neighbour e share 0.80-0.95 (d gets 52-70%)
     ambiguous    15%  Dirichlet(6 * (0.30 e_d + 0.70 broad profile)), d forced
                       to be the argmax by a swap

   Neighbours (blend partners and rater confusions) are emotionally close
   classes, e.g. Angry-Contempt-Disgust, Happy-Surprise-Neutral, Sad-Neutral-Fear.
2. True A/V/D = p_true @ class means + speaker offset + N(0, 0.35), in [1, 7].
3. 5 + min(7, Poisson(0.3 / 0.5 / 0.7 by kind)) distinct annotators per file
   (mean about 5.4; MSP 2.0: 1,446,224 annotations of 267,905 files), drawn by
   activity weight from a pool of about one worker per 100 annotations. Worker
   w has reliability r_w (Beta(8,2); 15% noisy raters Beta(2,3)), confusion c_w
   and a guess distribution g_w (Neutral 36%, Happy 20%, ...; 20% of raters
   over-use Neutral, 5% over-use Other). Its primary-label distribution is

       q = r_w [(1 - c_w) p_true + c_w p_true @ Neighbours] + (1 - r_w) g_w.

   The vote share an unlimited panel of these raters would give an
   utterance is the activity-weighted mean of q over the pool,

       q_bar = E[r (1 - c)] p_true + E[r c] p_true @ Neighbours + E[(1 - r) g],

   the raters' mixture (:func:`rater_mixture`, ``rater_mixture.parquet``):
   what the votes converge to as annotators per utterance grow, which is not
   p_true. With ``perception: truth`` a rater draws from p_true itself (no
   reliability weighting, no confusion, no guess prior) and q_bar = p_true.

   Other primaries are written ``Other-<Word>`` (12% plain ``Other``) with the
   word drawn through a class-to-word table from p_true. Secondary labels: a
   worker gives them with its own probability, 1-3 distinct words, each drawn
   as a class from q, then a word from a class-to-word table (MSP's 16 words
   plus unmapped ones such as Bored, Tired, Nervous, Proud, Relieved); the
   primary may repeat. A/V/D ratings = round(0.8 true + 0.2 mean-of-chosen-class
   + bias_w + noise_w), clipped to 1-7.
4. Consensus: plurality of primary votes (Other is class O); X when the maximum
   is not unique. X is never assigned directly: its rate emerges (20.0% at full
   scale with seed 7; MSP 2.0 has 18%). The consensus shares come out near
   MSP 2.0's (full scale, seed 7, ours vs MSP): N 33% vs 30%, H 18 vs 22,
   A 10 vs 14, S 8 vs 9, U/C/O/D/F 1-3% each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sertools.classes import CLASSES, CODES, MSP_PODCAST, NO_AGREEMENT, OTHER, ClassSet, K
from sertools.corpus.synthetic import sampling
from sertools.corpus.synthetic.layout import Layout
from sertools.measures import normalised_entropy

# Consensus totals of MSP-Podcast 2.0 without X, in CLASSES order.
MSP2_CLASS_TOTALS: tuple[int, ...] = (36_260, 24_629, 58_684, 6_245, 1_943, 3_143, 5_985, 79_117, 3_719)
MSP2_ANNOTATIONS = 1_446_224
MSP2_FILES = 267_905

KINDS: tuple[str, ...] = ("prototypical", "blended", "ambiguous")
KIND_PROBS: tuple[float, ...] = (0.55, 0.30, 0.15)
# Extra annotators beyond 5 ~ Poisson(rate by kind): harder files get more raters.
EXTRA_RATER_RATE: tuple[float, ...] = (0.3, 0.5, 0.7)
MIN_RATERS, MAX_RATERS = 5, 12
EXTRA_RATERS_CAP = MAX_RATERS - MIN_RATERS  # at most this many annotators beyond the minimum
#: what a rater draws its votes from (``synthetic.raters.perception``)
PERCEPTIONS: tuple[str, ...] = ("raters", "truth")


@dataclass(frozen=True)
class RaterSettings:
    """The rater knobs (``synthetic.raters``); the defaults give the corpus described above.

    ``reliability`` and ``noisy_reliability``: Beta(alpha, beta) of ordinary and noisy
    raters; ``noisy_share``: share of noisy raters; ``neutral_overuse_share`` and
    ``other_overuse_share``: shares of raters whose guess prior leans on Neutral /
    Other; ``other_when_unsure``: a rater answers Other with probability
    ``other_when_unsure x H(p_true)`` (normalised entropy of the utterance's true
    distribution), on top of what it perceives; ``annotators_min`` and
    ``annotators_extra_mean`` (None: 0.3 / 0.5 / 0.7 by kind, mean about 0.42):
    annotators per utterance = minimum + min(7, Poisson(extra)), the extra rate
    scaled by kind so that its mean is ``annotators_extra_mean``; ``perception``:
    ``raters`` (each rater draws from its own q above) or ``truth`` (every rater
    draws from p_true, Other routing still applied: the study's control for the
    rater mixture). The pool (reliabilities, styles, biases) is drawn the same
    way under both, so ``truth`` changes the primary and secondary votes only.
    """

    reliability: tuple[float, float] = (8.0, 2.0)
    noisy_reliability: tuple[float, float] = (2.0, 3.0)
    noisy_share: float = 0.15
    neutral_overuse_share: float = 0.20
    other_overuse_share: float = 0.05
    other_when_unsure: float = 0.0
    annotators_min: int = MIN_RATERS
    annotators_extra_mean: float | None = None
    perception: str = "raters"

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> RaterSettings:
        """From the ``synthetic.raters`` config section (absent keys take the defaults)."""
        s = dict(section or {})
        kw: dict[str, Any] = {}
        for key in ("reliability", "noisy_reliability"):
            if key in s:
                kw[key] = (float(s[key]["alpha"]), float(s[key]["beta"]))
        for key in ("noisy_share", "neutral_overuse_share", "other_overuse_share", "other_when_unsure"):
            if key in s:
                kw[key] = float(s[key])
        if "annotators_min" in s:
            kw["annotators_min"] = int(s["annotators_min"])
        if s.get("annotators_extra_mean") is not None:
            kw["annotators_extra_mean"] = float(s["annotators_extra_mean"])
        if "perception" in s:
            kw["perception"] = str(s["perception"])
        out = cls(**kw)
        if out.perception not in PERCEPTIONS:
            raise ValueError(
                f"synthetic.raters: perception must be one of {list(PERCEPTIONS)}, got {out.perception!r}"
            )
        if out.neutral_overuse_share + out.other_overuse_share > 1:
            raise ValueError("synthetic.raters: neutral_overuse_share + other_overuse_share exceeds 1")
        return out

    @property
    def extra_rates(self) -> np.ndarray:
        """Poisson rate of extra annotators per utterance kind."""
        base = np.asarray(EXTRA_RATER_RATE)
        if self.annotators_extra_mean is None:
            return base
        return base * (self.annotators_extra_mean / float(np.dot(KIND_PROBS, base)))

    @property
    def max_annotators(self) -> int:
        return self.annotators_min + EXTRA_RATERS_CAP

    @property
    def annotation_scale(self) -> float:
        """Expected annotators per utterance relative to the default (sizes the worker pool)."""
        default = MIN_RATERS + float(np.dot(KIND_PROBS, EXTRA_RATER_RATE))
        return (self.annotators_min + float(np.dot(KIND_PROBS, self.extra_rates))) / default


_A, _S, _H, _U, _F, _D, _C, _N, _O = (
    CLASSES.index(c)
    for c in ("Angry", "Sad", "Happy", "Surprise", "Fear", "Disgust", "Contempt", "Neutral", "Other")
)
NEUTRAL = _N

# Emotional neighbours: row d gives the (unnormalised) chance that d blends with,
# or is mistaken for, each other class.
_NEIGHBOUR_WEIGHTS: dict[int, dict[int, float]] = {
    _A: {_C: 3, _D: 2, _U: 1, _S: 1, _N: 1, _O: 1},
    _S: {_N: 3, _F: 1.5, _O: 1.5, _A: 1, _C: 0.5, _D: 0.5},
    _H: {_N: 3, _U: 2, _O: 1},
    _U: {_H: 3, _F: 1.5, _N: 1.5, _A: 0.5, _O: 0.5},
    _F: {_S: 2, _U: 2, _O: 1, _N: 1, _A: 0.5},
    _D: {_C: 3, _A: 2, _S: 1, _N: 0.5},
    _C: {_A: 2, _D: 2, _N: 2, _O: 0.5},
    _N: {_H: 2, _S: 1.5, _O: 1, _C: 0.7, _A: 0.5},
    _O: {_N: 3, _S: 1, _H: 1, _A: 0.5, _F: 0.5},
}

# Class means of (arousal, valence, dominance) on the 1-7 scale.
_AVD_MEANS: dict[int, tuple[float, float, float]] = {
    _A: (5.6, 2.3, 5.3),
    _S: (2.6, 2.6, 2.9),
    _H: (5.0, 5.7, 4.7),
    _U: (5.4, 4.6, 4.1),
    _F: (4.8, 2.6, 2.7),
    _D: (4.3, 2.4, 4.5),
    _C: (3.9, 2.9, 4.9),
    _N: (3.6, 4.1, 4.0),
    _O: (3.9, 3.6, 3.8),
}

# What an unsure rater falls back on.
_GUESS: dict[int, float] = {
    _N: 0.36,
    _H: 0.20,
    _S: 0.11,
    _A: 0.11,
    _O: 0.05,
    _U: 0.05,
    _C: 0.05,
    _D: 0.035,
    _F: 0.035,
}

# Open-vocabulary words. The first 16 are MSP's secondary vocabulary; the rest
# are outside every mapping (they exercise the "unmapped" path downstream).
WORDS: tuple[str, ...] = (
    "Angry",
    "Frustrated",
    "Annoyed",
    "Disappointed",
    "Sad",
    "Disgust",
    "Depressed",
    "Contempt",
    "Confused",
    "Concerned",
    "Fear",
    "Neutral",
    "Surprise",
    "Amused",
    "Excited",
    "Happy",
    "Bored",
    "Tired",
    "Nervous",
    "Proud",
    "Relieved",
    "Calm",
    "Sarcastic",
    "Amazed",
    "Anxious",
    "Curious",
    "Worried",
    "Hopeful",
)

# Secondary labels: perceived class -> word weights.
_SECONDARY_WORDS: dict[int, dict[str, float]] = {
    _A: {"Angry": 4, "Frustrated": 3, "Annoyed": 3, "Sarcastic": 0.5},
    _S: {"Sad": 4, "Disappointed": 2.5, "Depressed": 1.5, "Tired": 1, "Concerned": 1},
    _H: {"Happy": 4, "Amused": 2.5, "Excited": 2.5, "Proud": 0.7, "Relieved": 0.5, "Hopeful": 0.3},
    _U: {"Surprise": 5, "Excited": 1.5, "Confused": 1.5, "Amazed": 1},
    _F: {"Fear": 4, "Concerned": 2.5, "Nervous": 2, "Anxious": 1},
    _D: {"Disgust": 5, "Annoyed": 2, "Contempt": 1.5},
    _C: {"Contempt": 4, "Annoyed": 2, "Sarcastic": 1.5, "Disgust": 1},
    _N: {"Neutral": 6, "Calm": 1.5, "Bored": 1, "Tired": 0.7, "Curious": 0.5},
    _O: {
        "Concerned": 3,
        "Confused": 2.5,
        "Bored": 1.5,
        "Curious": 1,
        "Nervous": 1,
        "Proud": 0.7,
        "Tired": 0.7,
        "Relieved": 0.5,
    },
}

# "Other-<Word>" primaries: latent class -> free-text word weights.
_OTHER_PRIMARY_WORDS: dict[int, dict[str, float]] = {
    _A: {"Frustrated": 3, "Annoyed": 3, "Sarcastic": 1},
    _S: {"Disappointed": 3, "Concerned": 2, "Tired": 1.5, "Depressed": 1},
    _H: {"Amused": 3, "Proud": 1.5, "Relieved": 1.5, "Hopeful": 1},
    _U: {"Confused": 3, "Amazed": 2, "Curious": 1},
    _F: {"Concerned": 3, "Nervous": 2.5, "Anxious": 2, "Worried": 1.5},
    _D: {"Annoyed": 2, "Frustrated": 2},
    _C: {"Sarcastic": 3, "Annoyed": 2},
    _N: {"Bored": 2, "Calm": 2, "Curious": 1.5, "Tired": 1, "Concerned": 1},
    _O: {"Concerned": 3, "Confused": 3, "Bored": 1, "Curious": 1},
}
PLAIN_OTHER_RATE = 0.12

NEIGHBOURS = sampling.stochastic_rows(_NEIGHBOUR_WEIGHTS)
AVD_MEANS = sampling.class_rows(_AVD_MEANS)
GUESS = sampling.class_vector(_GUESS)
SECONDARY_WORD_PROBS = sampling.word_rows(_SECONDARY_WORDS, WORDS)
OTHER_WORD_PROBS = sampling.word_rows(_OTHER_PRIMARY_WORDS, WORDS)


@dataclass(frozen=True)
class ClassTables:
    """The per-class tables of the label model for one class set (``synthetic.classes``).

    MSP-Podcast's are the module's tables themselves. Any other class set names a subset of
    MSP-Podcast's classes (:data:`sertools.classes.CREMA_D`: six of the nine); its tables are the
    rows (and columns) of those classes, in the class set's order, each probability row
    renormalised over them. ``rows``: the MSP-Podcast index of each class.
    """

    classes: ClassSet
    rows: np.ndarray
    totals: np.ndarray  # dominant-class prior (unnormalised)
    neighbours: np.ndarray  # (k, k) row-stochastic
    guess: np.ndarray  # (k,) guess prior
    avd_means: np.ndarray  # (k, 3)

    @property
    def k(self) -> int:
        return self.classes.k

    @property
    def neutral(self) -> int:
        return self.classes.names.index("Neutral")

    @property
    def full(self) -> bool:
        """Whether these are MSP-Podcast's tables (Other, free-text words, secondary labels, A/V/D ratings)."""
        return self.classes == MSP_PODCAST


MSP_TABLES = ClassTables(
    MSP_PODCAST, np.arange(K), np.asarray(MSP2_CLASS_TOTALS, dtype=float), NEIGHBOURS, GUESS, AVD_MEANS
)


def class_tables(classes: ClassSet) -> ClassTables:
    """The tables of ``classes``: MSP-Podcast's, or their restriction to a subset of its classes."""
    if classes == MSP_PODCAST:
        return MSP_TABLES
    missing = [n for n in classes.names if n not in CLASSES]
    if missing or "Neutral" not in classes.names:
        raise ValueError(
            f"synthetic.classes {classes.name!r}: the synthetic corpus draws from MSP-Podcast's classes and "
            f"needs Neutral; {missing or ['Neutral']} is not among them"
        )
    rows = np.array([CLASSES.index(n) for n in classes.names])
    nb = NEIGHBOURS[np.ix_(rows, rows)]
    nb = nb / nb.sum(axis=1, keepdims=True)
    guess = GUESS[rows] / GUESS[rows].sum()
    totals = np.asarray(MSP2_CLASS_TOTALS, dtype=float)[rows]
    return ClassTables(
        classes,
        rows,
        sampling.frozen(totals),
        sampling.frozen(nb),
        sampling.frozen(guess),
        sampling.frozen(AVD_MEANS[rows].copy()),
    )


# ---------------------------------------------------------------------------
# latent truth
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Latent:
    p_true: np.ndarray  # (n, K)
    kind: np.ndarray  # int index into KINDS
    avd: np.ndarray  # (n, 3) arousal, valence, dominance
    spk_avd: np.ndarray  # (n_speakers, 3) speaker offsets (audio uses the residual)


def latent(layout: Layout, seed: int, tables: ClassTables = MSP_TABLES) -> Latent:
    """Every utterance's true class distribution and A/V/D (stream ``STREAM_LATENT``)."""
    rng = sampling.rng(seed, sampling.STREAM_LATENT)
    n = len(layout.file_id)
    n_spk = len(layout.spk_id)
    prior = sampling.normalise(np.asarray(tables.totals, dtype=float))
    tilt = np.exp(rng.normal(0.0, 0.4, (n_spk, tables.k)))
    dominant = sampling.sample_rows(prior * tilt[layout.speaker], rng.random(n))
    kind = sampling.sample_rows(np.broadcast_to(KIND_PROBS, (n, 3)), rng.random(n))
    p = _distributions(dominant, kind, rng, tables.neighbours)
    spk_avd = rng.normal(0.0, 0.2, (n_spk, 3))
    avd = p @ tables.avd_means + spk_avd[layout.speaker] + rng.normal(0.0, 0.35, (n, 3))
    return Latent(p, kind, np.clip(avd, 1.0, 7.0), spk_avd)


def _distributions(
    dominant: np.ndarray, kind: np.ndarray, rng: np.random.Generator, neighbours: np.ndarray = NEIGHBOURS
) -> np.ndarray:
    """p_true of each utterance from its dominant class and kind (argmax is the dominant class)."""
    n = len(dominant)
    k = len(neighbours)
    # Off-dominant mass goes mostly to emotional neighbours.
    spread = sampling.dirichlet_rows(2.0 * neighbours[dominant] + 0.1, rng)
    spread[np.arange(n), dominant] = 0.0
    spread /= spread.sum(axis=1, keepdims=True)
    onehot = np.eye(k)[dominant]

    # prototypical
    top = rng.uniform(0.72, 0.97, n)
    proto = top[:, None] * onehot + (1 - top)[:, None] * spread
    # blended with a neighbour e
    partner = sampling.sample_rows(neighbours[dominant], rng.random(n))
    pair_mass = rng.uniform(0.80, 0.95, n)
    share = rng.uniform(0.52, 0.70, n)
    blend = (1 - pair_mass)[:, None] * spread
    blend[np.arange(n), dominant] += pair_mass * share
    blend[np.arange(n), partner] += pair_mass * (1 - share)
    # ambiguous: broad Dirichlet around a profile that leans towards d
    broad = 0.5 * neighbours[dominant] + 0.5 / k
    amb = sampling.dirichlet_rows(6.0 * (0.30 * onehot + 0.70 * broad) + 1e-3, rng)

    p = np.where((kind == 0)[:, None], proto, np.where((kind == 1)[:, None], blend, amb))
    # Guarantee argmax == d by a swap (ambiguous rows, or a blend whose spread tops up e).
    arg = p.argmax(axis=1)
    rows = np.arange(n)
    pd_, pa_ = p[rows, dominant].copy(), p[rows, arg].copy()
    p[rows, dominant], p[rows, arg] = pa_, pd_
    p = np.maximum(p, 0.0)
    p /= p.sum(axis=1, keepdims=True)
    return p


# ---------------------------------------------------------------------------
# raters
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Raters:
    number: np.ndarray  # public worker number
    activity: np.ndarray  # sampling weight
    reliability: np.ndarray
    confusion: np.ndarray
    guess: np.ndarray  # (W, K)
    bias: np.ndarray  # (W, 3)
    noise_sd: np.ndarray
    secondary_rate: np.ndarray
    noisy: np.ndarray  # bool
    neutral_lover: np.ndarray  # bool
    other_lover: np.ndarray  # bool

    def worker_ids(self) -> np.ndarray:
        """Public ``WorkerID`` strings (``WORKER`` + 8 digits) of the pool."""
        return np.array([f"WORKER{k:08d}" for k in self.number.tolist()], dtype=object)


def expected_annotations(utterances: int) -> int:
    """Annotation rows of an ``utterances``-file corpus at MSP 2.0's rate (sizes the worker pool)."""
    return round(utterances * MSP2_ANNOTATIONS / MSP2_FILES)


def raters(
    n_annotations: int, seed: int, settings: RaterSettings | None = None, tables: ClassTables = MSP_TABLES
) -> Raters:
    """The worker pool, about one worker per 100 annotations (stream ``STREAM_RATERS``).

    Without an Other class (``tables``), the raters drawn to over-use Other guess as plain raters do.
    """
    cfg = settings or RaterSettings()
    rng = sampling.rng(seed, sampling.STREAM_RATERS)
    w = max(4 * cfg.max_annotators, round(n_annotations * cfg.annotation_scale / 100))
    noisy = rng.random(w) < cfg.noisy_share
    reliability = np.where(noisy, rng.beta(*cfg.noisy_reliability, w), rng.beta(*cfg.reliability, w))
    confusion = rng.beta(2, 8, w)
    style = rng.random(w)
    neutral_lover = style < cfg.neutral_overuse_share
    other_lover = (style >= cfg.neutral_overuse_share) & (
        style < cfg.neutral_overuse_share + cfg.other_overuse_share
    )
    k, g = tables.k, tables.guess
    guess = np.broadcast_to(g, (w, k)).copy()
    guess[neutral_lover] = 0.4 * g + 0.6 * np.eye(k)[tables.neutral]
    if tables.classes.other is None:
        other_lover = np.zeros(w, dtype=bool)
    else:
        guess[other_lover] = 0.6 * g + 0.4 * np.eye(k)[tables.classes.other]
    bias = rng.normal(0.0, 0.4, (w, 3))
    noise_sd = 0.45 + 0.9 * (1 - reliability) + rng.uniform(0, 0.2, w)
    secondary_rate = rng.beta(2, 2, w)
    number = rng.choice(max(100_000, 20 * w), size=w, replace=False) + 1
    activity = rng.lognormal(0.0, 1.0, w)
    return Raters(
        number,
        activity / activity.sum(),
        reliability,
        confusion,
        guess,
        bias,
        noise_sd,
        secondary_rate,
        noisy,
        neutral_lover,
        other_lover,
    )


# ---------------------------------------------------------------------------
# annotations (votes)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Annotations:
    utt: np.ndarray  # utterance index, sorted
    worker: np.ndarray  # index into the rater pool
    primary: np.ndarray  # class index
    major_label: np.ndarray  # object: EmoClass_Major strings
    secondary: np.ndarray  # object: EmoClass_Second strings
    ratings: np.ndarray  # (A, 3) int8 A, V, D


def annotate(
    latent: Latent,
    raters: Raters,
    seed: int,
    settings: RaterSettings | None = None,
    tables: ClassTables = MSP_TABLES,
) -> Annotations:
    """Every annotation row, sorted by (file, WorkerID) (stream ``STREAM_ANNOT``).

    With tables other than MSP-Podcast's (a CREMA-D-layout corpus: one class per vote and
    nothing else) only the primary votes are drawn: no free-text words, secondary labels or
    A/V/D ratings (``major_label`` holds the class names, ``secondary`` is empty, ``ratings`` 0).
    """
    cfg = settings or RaterSettings()
    rng = sampling.rng(seed, sampling.STREAM_ANNOT)
    n = len(latent.kind)
    n_raters = cfg.annotators_min + np.minimum(rng.poisson(cfg.extra_rates[latent.kind]), EXTRA_RATERS_CAP)
    worker = _assign_workers(n_raters, raters.activity, rng)
    utt = np.repeat(np.arange(n), n_raters)
    order = np.lexsort((raters.number[worker], utt))  # rows sorted by (file, WorkerID)
    utt, worker = utt[order], worker[order]

    # What each rater perceives: reliability, neighbour confusion and a guess prior.
    p = latent.p_true
    if cfg.perception == "truth":  # the control: every rater draws from p_true itself
        q = p[utt]
    else:
        r = raters.reliability[worker][:, None]
        c = raters.confusion[worker][:, None]
        q = r * ((1 - c) * p[utt] + c * (p @ tables.neighbours)[utt]) + (1 - r) * raters.guess[worker]
    q = _route_other(q, p, utt, cfg.other_when_unsure, tables.classes.other)
    draws = sampling.sample_rows(q, rng.random((len(utt), 4)))  # primary + 3 secondary slots
    del q
    primary = draws[:, 0]
    if not tables.full:
        names = np.array(tables.classes.names, dtype=object)[primary]
        empty = np.full(len(utt), "", dtype=object)
        return Annotations(utt, worker, primary, names, empty, np.zeros((len(utt), 3), dtype=np.int8))
    major_label = _primary_labels(primary, p, utt, rng)
    secondary = _secondary_labels(draws[:, 1:], raters.secondary_rate[worker], rng)
    ratings = _ratings(latent.avd[utt], primary, raters, worker, rng)
    return Annotations(utt, worker, primary, major_label, secondary, ratings)


def _route_other(
    q: np.ndarray, p_true: np.ndarray, rows: np.ndarray, propensity: float, other: int | None = OTHER
) -> np.ndarray:
    """ "Other when unsure": Other with probability ``propensity x H(p_true)`` of each row's utterance."""
    if propensity <= 0:
        return q
    if other is None:  # raised before anything is written: the votes are drawn first
        raise ValueError(
            f"synthetic.raters.other_when_unsure is {propensity:g}, but the class set has no Other class "
            "to answer when unsure (set it to 0)"
        )
    u = propensity * normalised_entropy(p_true)[rows][:, None]
    return (1 - u) * q + u * np.eye(q.shape[1])[other]


def rater_mixture(
    latent: Latent, raters: Raters, settings: RaterSettings | None = None, tables: ClassTables = MSP_TABLES
) -> np.ndarray:
    """(n, K) the raters' mixture q_bar: the expected primary vote of one annotation slot.

    A slot's worker is drawn by activity from the pool (:func:`_assign_workers`
    before it redraws a worker repeated within an utterance), so the expected
    vote is the activity-weighted mean of every worker's q (module docstring,
    step 3), with the setting's Other routing: what the share of votes of an
    utterance converges to as its annotators grow. Under ``perception: truth``
    it is p_true (with the routing).
    """
    cfg = settings or RaterSettings()
    p = latent.p_true
    if cfg.perception == "truth":
        q = p.copy()
    else:
        w = raters.activity / raters.activity.sum()
        r, c = raters.reliability, raters.confusion
        own, confused = float(w @ (r * (1 - c))), float(w @ (r * c))
        guess = (w * (1 - r)) @ raters.guess
        q = own * p + confused * (p @ tables.neighbours) + guess[None, :]
    return _route_other(q, p, np.arange(len(p)), cfg.other_when_unsure, tables.classes.other)


def _assign_workers(n_raters: np.ndarray, activity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Workers for each annotation slot; distinct within an utterance.

    Draws by activity, then redraws the later duplicate of every repeated
    (utterance, worker) pair until none is left.
    """
    utt = np.repeat(np.arange(len(n_raters)), n_raters)
    worker = rng.choice(len(activity), size=len(utt), p=activity)
    for _ in range(1000):
        order = np.lexsort((worker, utt))
        s_utt, s_w = utt[order], worker[order]
        dup = np.zeros(len(utt), dtype=bool)
        dup[order[1:]] = (s_utt[1:] == s_utt[:-1]) & (s_w[1:] == s_w[:-1])
        n_dup = int(dup.sum())
        if n_dup == 0:
            return worker
        worker[dup] = rng.choice(len(activity), size=n_dup, p=activity)
    raise RuntimeError("could not draw distinct workers per utterance")  # pragma: no cover


def _primary_labels(
    primary: np.ndarray, p_true: np.ndarray, utt: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``EmoClass_Major`` strings; Other gets a free-text word related to the latent mix."""
    labels = np.array([*CLASSES[:OTHER], "Other", *(f"Other-{w}" for w in WORDS)], dtype=object)
    code = primary.copy()
    is_other = np.flatnonzero(primary == OTHER)
    word_class = sampling.sample_rows(p_true[utt[is_other]], rng.random(len(is_other)))
    word = sampling.sample_by_table(OTHER_WORD_PROBS, word_class, rng.random(len(is_other)))
    plain = rng.random(len(is_other)) < PLAIN_OTHER_RATE
    code[is_other] = np.where(plain, OTHER, OTHER + 1 + word)
    return labels[code]


def _secondary_labels(classes: np.ndarray, rate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``EmoClass_Second`` strings: 0-3 distinct words per row, drawn through the word table.

    ``classes``: (A, 3) perceived class of each word slot; ``rate``: the worker's
    chance of giving secondary labels at all.
    """
    a = len(classes)
    gives = rng.random(a) < rate
    n_sec = np.where(gives, 1 + rng.binomial(2, 0.3, a), 0)
    words = sampling.sample_by_table(SECONDARY_WORD_PROBS, classes.ravel(), rng.random(3 * a)).reshape(a, 3)
    words = np.where(np.arange(3)[None, :] < n_sec[:, None], words, -1)
    words[:, 1] = np.where(words[:, 1] == words[:, 0], -1, words[:, 1])
    dup3 = (words[:, 2] == words[:, 0]) | (words[:, 2] == words[:, 1])
    words[:, 2] = np.where(dup3, -1, words[:, 2])
    return _join_words(words)


def _join_words(words: np.ndarray) -> np.ndarray:
    """Comma-joined word lists, skipping -1; built once per distinct combination."""
    v = len(WORDS) + 1
    key = ((words[:, 0] + 1) * v + (words[:, 1] + 1)) * v + (words[:, 2] + 1)
    uniq, inv = np.unique(key, return_inverse=True)
    texts = []
    for k in uniq.tolist():
        idx = (k // (v * v) - 1, (k // v) % v - 1, k % v - 1)
        texts.append(",".join(WORDS[i] for i in idx if i >= 0))
    return np.array(texts, dtype=object)[inv]


def _ratings(
    avd_rows: np.ndarray, primary: np.ndarray, raters: Raters, worker: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Integer A/V/D ratings 1-7: the truth pulled a little towards the chosen class."""
    true = 0.8 * avd_rows + 0.2 * AVD_MEANS[primary]
    noise = rng.standard_normal((len(primary), 3)) * raters.noise_sd[worker][:, None]
    return np.clip(np.rint(true + raters.bias[worker] + noise), 1, 7).astype(np.int8)


# ---------------------------------------------------------------------------
# consensus
# ---------------------------------------------------------------------------


def consensus(
    utt: np.ndarray, primary: np.ndarray, n_utt: int, codes: tuple[str, ...] = CODES
) -> tuple[np.ndarray, np.ndarray]:
    """Plurality class code per utterance (X when the maximum is shared) and vote counts."""
    k = len(codes)
    counts = np.bincount(utt * k + primary, minlength=n_utt * k).reshape(n_utt, k)
    top = counts.max(axis=1)
    unique = (counts == top[:, None]).sum(axis=1) == 1
    names = np.array([*codes, NO_AGREEMENT], dtype=object)
    return names[np.where(unique, counts.argmax(axis=1), k)], counts


def mean_ratings(ann: Annotations, n_utt: int) -> np.ndarray:
    """(n_utt, 3) mean A/V/D per utterance, rounded to the 6 decimals the consensus file holds."""
    n_per = np.bincount(ann.utt, minlength=n_utt)
    means = np.stack([np.bincount(ann.utt, ann.ratings[:, j], minlength=n_utt) / n_per for j in range(3)], 1)
    return np.round(means, 6)

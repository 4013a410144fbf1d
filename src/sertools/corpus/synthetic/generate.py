"""Synthetic MSP-Podcast 2.0 corpus with a known perceptual ground truth.

``generate`` writes a corpus in exactly the MSP-Podcast 2.0 layout
(``Audios/``, ``Labels/labels_consensus.csv``, ``Labels/labels_detailed.csv``)
plus files a real release does not have, all at the corpus root:
``latent_truth.parquet`` (the TRUE class distribution and A/V/D of every
utterance), ``rater_truth.parquet`` (every simulated worker's reliability,
style and biases) and ``synth_meta.json``. The corpus is a pure function of
(utterances, seed, durations, sample rate).

Generative story (all rates and totals from msp_podcast_format.md §4)
---------------------------------------------------------------------
1. Splits in MSP-Podcast 2.0 proportions (Train 169,190 / Development 34,399 /
   Test1 46,294 / Test2 14,822), every split non-empty. About 7*sqrt(N)
   speakers (3,623 at full scale; MSP 2.0 has 3,641), 1-4 speakers per podcast;
   podcasts and hence speakers are disjoint across splits (stricter than MSP).
   Speakers carry gender, F0 baseline, vocal-tract scale, speaking-rate,
   breathiness, brightness and loudness offsets, an A/V/D offset and a mild
   preference over classes; podcasts carry channel gain, noise floor and
   microphone colour.
2. Dominant class d ~ MSP 2.0 class totals without X (Neutral 79,117; Happy
   58,684; Angry 36,260; Sad 24,629; Surprise 6,245; Contempt 5,985; Other
   3,719; Disgust 3,143; Fear 1,943), tilted by the speaker preference.
   The latent distribution p_true has argmax d and is one of
     prototypical 55%  d holds 0.72-0.97, the rest spread over d's neighbours
     blended      30%  d and a neighbour e share 0.80-0.95 (d gets 52-70%)
     ambiguous    15%  Dirichlet(6 * (0.30 e_d + 0.70 broad profile)), d forced
                       to be the argmax by a swap
   Neighbours (blend partners and rater confusions) are emotionally close
   classes, e.g. Angry-Contempt-Disgust, Happy-Surprise-Neutral, Sad-Neutral-Fear.
3. True A/V/D = p_true @ class means + speaker offset + N(0, 0.35), in [1, 7].
4. 5 + min(7, Poisson(0.3 / 0.5 / 0.7 by kind)) distinct annotators per file
   (mean about 5.4, MSP 2.0: 1,446,224 / 267,905), drawn by activity weight
   from a pool of about one worker per 100 annotations. Worker w has
   reliability r_w (Beta(8,2); 15% noisy raters Beta(2,3)), confusion c_w and a
   guess distribution g_w (Neutral 36%, Happy 20%, ...; 20% of raters over-use
   Neutral, 5% over-use Other). Its primary-label distribution is
       q = r_w [(1 - c_w) p_true + c_w p_true @ Neighbours] + (1 - r_w) g_w;
   Other primaries are written ``Other-<Word>`` (12% plain ``Other``) with the
   word drawn through a class-to-word table from p_true. Secondary labels: a
   worker gives them with its own probability, 1-3 words, each drawn as a class
   from q then a word from a class-to-word table (MSP's 16 words plus unmapped
   ones such as Bored, Tired, Nervous, Proud, Relieved); the primary may repeat.
   A/V/D ratings = round(0.8 true + 0.2 mean-of-chosen-class + bias_w + noise_w),
   clipped to 1-7.
5. Consensus: plurality of primary votes (Other is class O); X when the maximum
   is not unique. X is never assigned directly: its rate emerges (about 20%:
   20.0% at full scale with seed 7; MSP 2.0 has 18%). The consensus shares
   then come out near MSP 2.0's (full scale, seed 7, ours vs MSP): N 33% vs
   30%, H 18 vs 22, A 10 vs 14, S 8 vs 9, U/C/O/D/F 1-3% each.

Acoustic cues (expected value under p_true, plus speaker, arousal/valence/
dominance residual and per-utterance noise)
----------------------------------------------------------------------------
  class     pitch  range  final  rate   energy bright breath jitter pause F1/F2
            st     st     st     syl/s  dB     0-1    0-1    st     prob  %
  Angry     +2.5   6.0    -1.5   5.4    +7     0.95   0.05   0.30   0.06  +8/+0
  Sad       -2.0   2.0    -2.5   2.8    -6     0.10   0.50   0.35   0.30  -3/-3
  Happy     +3.0   7.0    +0.5   5.0    +3     0.75   0.08   0.12   0.08  +3/+7
  Surprise  +4.5   8.5    +4.0   4.6    +4     0.70   0.20   0.15   0.10  +5/+3
  Fear      +4.0   3.5    +1.0   5.8    -1     0.45   0.55   0.80   0.15  +0/+2
  Disgust   -1.0   4.5    -3.0   3.5     0     0.50   0.25   0.25   0.18  -5/-4
  Contempt  -1.5   4.0    -3.0   3.7    -1     0.55   0.15   0.15   0.15  +0/-2
  Neutral    0.0   3.0    -1.5   4.3     0     0.35   0.12   0.10   0.12  +0/+0
  Other     +0.5   3.5    -1.0   4.2     0     0.40   0.18   0.15   0.14  +0/+0
  pitch: mean F0 shift from the speaker baseline; range: pitch-accent excursion;
  final: terminal rise/fall over the last 0.4 s; rate: syllables per second;
  energy: speech level; bright: glottal spectral tilt (0 dark/soft, 1 tense);
  breath: aspiration noise; jitter: frame-to-frame F0 perturbation; pause:
  probability that a syllable slot is silent; F1/F2: formant shifts.
  Per-utterance noise (sd): pitch 0.5 st, range 0.5 st, final 0.4 st, rate
  0.175, energy 1.25 dB, brightness 0.04, breath 0.025, jitter 0.02, pause
  0.015, formants 1%; on top come speaker (F0: gender plus 12% sd, rate 10%, loudness
  2 dB, breathiness, brightness) and channel (gain 2.5 dB, noise floor
  -65..-45 dBFS, microphone low-pass) nuisances. Dimensional residuals (true
  A/V/D minus what the class mix predicts) move pitch, level, rate, brightness
  and F2 a little, so attribute heads have something beyond the class to learn.
  Note: WavLM's group-norm front end normalises each channel per utterance, so
  the absolute level (energy) cue is invisible to it; every other cue is
  level-invariant.

Synthesis is source-filter: F0 contour at 100 frames/s (declination, syllable
pitch accents, terminal movement, jitter) -> phase integration -> glottal pulse
train with shimmer -> two-pole spectral-tilt filter; aspiration noise gated by
the glottal cycle; consonant-like noise bursts between syllable nuclei;
syllable-rhythm amplitude envelope with silent slots (pauses); two vowel
formant cascades (4 resonators each, via sosfilt) cross-faded per syllable;
lip radiation; level set by RMS over active speech; background noise; channel
low-pass; a peak limiter keeps |x| <= 0.98 before PCM16 (so the energy cue
survives: files are not all normalised to the same peak).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sertools import __version__
from sertools.classes import CLASSES, CODES, NO_AGREEMENT, OTHER, K
from sertools.io import atomic_path, write_json, write_parquet

GENERATOR_VERSION = "synth-2"

SPLITS: tuple[str, ...] = ("Train", "Development", "Test1", "Test2")
MSP2_SPLIT_SIZES: tuple[int, ...] = (169_190, 34_399, 46_294, 14_822)
# Consensus totals of MSP-Podcast 2.0 without X, in CLASSES order.
MSP2_CLASS_TOTALS: tuple[int, ...] = (36_260, 24_629, 58_684, 6_245, 1_943, 3_143, 5_985, 79_117, 3_719)
MSP2_ANNOTATIONS = 1_446_224
MSP2_FILES = 267_905

KINDS: tuple[str, ...] = ("prototypical", "blended", "ambiguous")
KIND_PROBS: tuple[float, ...] = (0.55, 0.30, 0.15)
# Extra annotators beyond 5 ~ Poisson(rate by kind): harder files get more raters.
EXTRA_RATER_RATE: tuple[float, ...] = (0.3, 0.5, 0.7)
MIN_RATERS, MAX_RATERS = 5, 12

MAX_UTTERANCES = 2_000_000  # keeps podcast and turn numbers within 4 digits
NEUTRAL = CLASSES.index("Neutral")

_N, _A, _S, _H, _U, _F, _D, _C, _O = (
    NEUTRAL,
    CLASSES.index("Angry"),
    CLASSES.index("Sad"),
    CLASSES.index("Happy"),
    CLASSES.index("Surprise"),
    CLASSES.index("Fear"),
    CLASSES.index("Disgust"),
    CLASSES.index("Contempt"),
    OTHER,
)

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

# Acoustic cue table (rows in CLASSES order); see the module docstring.
CUE_NAMES: tuple[str, ...] = (
    "pitch_st",
    "range_st",
    "final_st",
    "rate_sps",
    "energy_db",
    "brightness",
    "breath",
    "jitter_st",
    "pause",
    "f1_shift",
    "f2_shift",
)
_CUES: dict[int, tuple[float, ...]] = {
    _A: (2.5, 6.0, -1.5, 5.4, 7.0, 0.95, 0.05, 0.30, 0.06, 0.08, 0.00),
    _S: (-2.0, 2.0, -2.5, 2.8, -6.0, 0.10, 0.50, 0.35, 0.30, -0.03, -0.03),
    _H: (3.0, 7.0, 0.5, 5.0, 3.0, 0.75, 0.08, 0.12, 0.08, 0.03, 0.07),
    _U: (4.5, 8.5, 4.0, 4.6, 4.0, 0.70, 0.20, 0.15, 0.10, 0.05, 0.03),
    _F: (4.0, 3.5, 1.0, 5.8, -1.0, 0.45, 0.55, 0.80, 0.15, 0.00, 0.02),
    _D: (-1.0, 4.5, -3.0, 3.5, 0.0, 0.50, 0.25, 0.25, 0.18, -0.05, -0.04),
    _C: (-1.5, 4.0, -3.0, 3.7, -1.0, 0.55, 0.15, 0.15, 0.15, 0.00, -0.02),
    _N: (0.0, 3.0, -1.5, 4.3, 0.0, 0.35, 0.12, 0.10, 0.12, 0.00, 0.00),
    _O: (0.5, 3.5, -1.0, 4.2, 0.0, 0.40, 0.18, 0.15, 0.14, 0.00, 0.00),
}
# Per-utterance cue noise. Chosen (once, for every supervision variant alike) so
# that the tiny random-init WavLM of the demo learns the cues within its CPU
# budget: at twice these values its hard-CE Test1 macro-F1 stayed below 2/9.
_CUE_NOISE_SD: tuple[float, ...] = (0.5, 0.5, 0.4, 0.175, 1.25, 0.04, 0.025, 0.02, 0.015, 0.01, 0.01)

# Vowel formants (F1, F2, F3, F4 in Hz, adult male) and bandwidths.
_VOWELS: tuple[tuple[float, float, float, float], ...] = (
    (730.0, 1090.0, 2440.0, 3500.0),  # a
    (270.0, 2290.0, 3010.0, 3600.0),  # i
    (300.0, 870.0, 2240.0, 3400.0),  # u
    (530.0, 1840.0, 2480.0, 3500.0),  # e
    (570.0, 840.0, 2410.0, 3400.0),  # o
)
_BANDWIDTHS: tuple[float, float, float, float] = (90.0, 110.0, 160.0, 250.0)
_REFERENCE_DBFS = -26.0  # speech level of a 0 dB energy cue
_PEAK_CEILING = 0.98  # limiter ceiling before PCM16

# Independent random streams: changing one part never shifts another.
_STREAM_LAYOUT, _STREAM_LATENT, _STREAM_RATERS, _STREAM_ANNOT, _STREAM_CUES, _STREAM_AUDIO = range(6)

_LABEL_HEADER = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")
_DETAILED_HEADER = (
    "FileName",
    "WorkerID",
    "EmoClass_Major",
    "EmoClass_Second",
    "EmoAct",
    "EmoVal",
    "EmoDom",
)


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _class_matrix(rows: dict[int, dict[int, float]]) -> np.ndarray:
    m = np.zeros((K, K))
    for i, row in rows.items():
        for j, w in row.items():
            m[i, j] = w
    return _frozen(m / m.sum(axis=1, keepdims=True))


def _class_vector(d: dict[int, float]) -> np.ndarray:
    v = np.zeros(K)
    for i, w in d.items():
        v[i] = w
    return _frozen(v / v.sum())


def _class_table(d: dict[int, tuple[float, ...]]) -> np.ndarray:
    return _frozen(np.array([d[i] for i in range(K)], dtype=float))


def _word_matrix(d: dict[int, dict[str, float]]) -> np.ndarray:
    """K x len(WORDS) row-stochastic matrix of word probabilities per class."""
    m = np.zeros((K, len(WORDS)))
    for i, row in d.items():
        for word, w in row.items():
            m[i, WORDS.index(word)] = w
    return _frozen(m / m.sum(axis=1, keepdims=True))


NEIGHBOURS = _class_matrix(_NEIGHBOUR_WEIGHTS)
AVD_MEANS = _class_table(_AVD_MEANS)
CUES = _class_table(_CUES)
GUESS = _class_vector(_GUESS)
SECONDARY_WORD_PROBS = _word_matrix(_SECONDARY_WORDS)
OTHER_WORD_PROBS = _word_matrix(_OTHER_PRIMARY_WORDS)


def _rng(seed: int, stream: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *more])


def _sample_rows(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF categorical draw per row of ``probs`` with uniforms ``u``.

    ``u`` may have extra trailing draws per row: shape (n,) or (n, m).
    """
    cum = np.cumsum(probs, axis=-1)
    cum /= cum[..., -1:]
    cum_b = cum if u.ndim == 1 else cum[:, None, :]
    idx = (u[..., None] >= cum_b).sum(axis=-1)
    return np.minimum(idx, probs.shape[-1] - 1)


def _sample_by_table(table: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw column j ~ table[rows[i]] for each i without materialising table[rows].

    Works by one searchsorted over the concatenated, offset CDFs of all rows.
    """
    n_rows, n_cols = table.shape
    cum = np.cumsum(table, axis=1)
    cum /= cum[:, -1:]
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    pos = np.searchsorted(flat, rows + u, side="right")
    return np.minimum(pos - rows * n_cols, n_cols - 1)


def _dirichlet_rows(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    g = rng.standard_gamma(alpha)
    s = g.sum(axis=1, keepdims=True)
    return g / np.where(s > 0, s, 1.0)


def _group_rank(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element inside its run; ``groups`` must be sorted."""
    n = len(groups)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


# ---------------------------------------------------------------------------
# validation and layout
# ---------------------------------------------------------------------------


def _validate(utterances: Any, seed: Any, min_duration_s: Any, max_duration_s: Any, sample_rate: Any) -> None:
    def is_int(x: Any) -> bool:
        return isinstance(x, int | np.integer) and not isinstance(x, bool)

    def is_num(x: Any) -> bool:
        return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)

    if not is_int(utterances):
        raise ValueError(f"utterances must be an integer, got {utterances!r}")
    if not 8 <= utterances <= MAX_UTTERANCES:
        raise ValueError(
            f"utterances must be between 8 (so every split is non-empty) and {MAX_UTTERANCES:,}, got {utterances}"
        )
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    for name, v in (("min_duration_s", min_duration_s), ("max_duration_s", max_duration_s)):
        if not is_num(v) or not math.isfinite(v) or not 0.25 <= v <= 60.0:
            raise ValueError(f"{name} must be a number of seconds in [0.25, 60], got {v!r}")
    if min_duration_s > max_duration_s:
        raise ValueError(
            f"min_duration_s ({min_duration_s}) must not exceed max_duration_s ({max_duration_s})"
        )
    if not is_int(sample_rate) or not 8000 <= sample_rate <= 48000:
        raise ValueError(f"sample_rate must be an integer in [8000, 48000] Hz, got {sample_rate!r}")


def split_sizes(n: int) -> np.ndarray:
    """Utterances per split in MSP 2.0 proportions, each at least 1, summing to n."""
    share = np.asarray(MSP2_SPLIT_SIZES, dtype=float)
    share /= share.sum()
    target = n * share
    sizes = np.maximum(1, np.floor(target)).astype(np.int64)
    while sizes.sum() < n:
        sizes[np.argmax(target - sizes)] += 1
    while sizes.sum() > n:
        room = np.where(sizes > 1, sizes - target, -np.inf)
        sizes[np.argmax(room)] -= 1
    return sizes


@dataclass(frozen=True)
class _Layout:
    """Per-utterance structure (sorted by file name) and per-speaker traits."""

    file_id: np.ndarray  # object, wav names
    split: np.ndarray  # int, index into SPLITS
    speaker: np.ndarray  # int, index into the speaker arrays
    podcast: np.ndarray  # int, index into the podcast arrays
    duration_s: np.ndarray
    spk_id: np.ndarray  # int, public SpkrID per speaker
    spk_female: np.ndarray  # bool per speaker
    spk_podcast: np.ndarray  # podcast index per speaker
    n_podcasts: int


def _layout(n: int, seed: int, min_dur: float, max_dur: float) -> _Layout:
    rng = _rng(seed, _STREAM_LAYOUT)
    sizes = split_sizes(n)
    per_speaker = max(2.0, math.sqrt(n) / 7.0)
    utt_split, utt_spk, spk_pod = [], [], []
    n_spk = n_pod = 0
    for s, n_s in enumerate(sizes):
        k = int(min(n_s, max(1, round(n_s / per_speaker))))
        counts = 1 + rng.multinomial(n_s - k, _normalise(rng.lognormal(0.0, 0.8, k)))
        pod_sizes = 1 + np.minimum(rng.poisson(0.7, k), 3)
        pod_of_spk = np.searchsorted(np.cumsum(pod_sizes), np.arange(k), side="right")
        utt_split.append(np.full(n_s, s))
        utt_spk.append(n_spk + np.repeat(np.arange(k), counts))
        spk_pod.append(n_pod + pod_of_spk)
        n_spk += k
        n_pod += int(pod_of_spk[-1]) + 1
    split = np.concatenate(utt_split)
    speaker = np.concatenate(utt_spk)
    spk_podcast = np.concatenate(spk_pod)
    podcast = spk_podcast[speaker]

    # Public numbers: random 4-digit podcast ids, random speaker ids.
    pod_number = rng.choice(9999, size=n_pod, replace=False) + 1
    spk_id = rng.choice(max(10 * n_spk, 10_000), size=n_spk, replace=False) + 1
    spk_female = rng.random(n_spk) < 0.45

    # Turns: speakers interleave inside a podcast; numbers increase by 1-3.
    order = np.lexsort((rng.random(n), pod_number[podcast]))
    split, speaker, podcast = split[order], speaker[order], podcast[order]
    pods = pod_number[podcast]
    gaps = rng.integers(1, 4, n)
    starts = rng.integers(0, 5, n_pod)
    rank = _group_rank(pods)
    cum = np.cumsum(gaps)
    first = np.r_[0, np.flatnonzero(pods[1:] != pods[:-1]) + 1]
    base = np.repeat(cum[first] - gaps[first], np.diff(np.r_[first, n]))
    turn = starts[podcast] + cum - base
    too_long = np.zeros(n_pod, dtype=bool)
    np.maximum.at(too_long, podcast, turn > 9999)
    turn = np.where(too_long[podcast], rank + 1, turn)
    if turn.max() > 9999:  # impossible below MAX_UTTERANCES, kept as a guard
        raise ValueError("a podcast received more than 9,999 utterances; lower `utterances`")

    file_id = _file_names(pods, turn)
    duration = rng.uniform(min_dur, max_dur, n)
    return _Layout(file_id, split, speaker, podcast, duration, spk_id, spk_female, spk_podcast, n_pod)


def _normalise(w: np.ndarray) -> np.ndarray:
    return w / w.sum()


def _file_names(podcast_numbers: np.ndarray, turns: np.ndarray) -> np.ndarray:
    pod = pd.Series(podcast_numbers).astype(str).str.zfill(4)
    turn = pd.Series(turns).astype(str).str.zfill(4)
    return ("MSP-PODCAST_" + pod + "_" + turn + ".wav").to_numpy(dtype=object)


# ---------------------------------------------------------------------------
# latent truth
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Latent:
    p_true: np.ndarray  # (n, K)
    kind: np.ndarray  # int index into KINDS
    avd: np.ndarray  # (n, 3) arousal, valence, dominance
    spk_avd: np.ndarray  # (n_speakers, 3) speaker offsets (audio uses the residual)


def _latent(layout: _Layout, seed: int) -> _Latent:
    rng = _rng(seed, _STREAM_LATENT)
    n = len(layout.file_id)
    n_spk = len(layout.spk_id)
    prior = _normalise(np.asarray(MSP2_CLASS_TOTALS, dtype=float))
    tilt = np.exp(rng.normal(0.0, 0.4, (n_spk, K)))
    dom_probs = prior * tilt[layout.speaker]
    dominant = _sample_rows(dom_probs, rng.random(n))
    kind = _sample_rows(np.broadcast_to(KIND_PROBS, (n, 3)), rng.random(n))

    # Off-dominant mass goes mostly to emotional neighbours.
    spread = _dirichlet_rows(2.0 * NEIGHBOURS[dominant] + 0.1, rng)
    spread[np.arange(n), dominant] = 0.0
    spread /= spread.sum(axis=1, keepdims=True)
    onehot = np.eye(K)[dominant]

    # prototypical
    top = rng.uniform(0.72, 0.97, n)
    proto = top[:, None] * onehot + (1 - top)[:, None] * spread
    # blended with a neighbour e
    partner = _sample_rows(NEIGHBOURS[dominant], rng.random(n))
    pair_mass = rng.uniform(0.80, 0.95, n)
    share = rng.uniform(0.52, 0.70, n)
    blend = (1 - pair_mass)[:, None] * spread
    blend[np.arange(n), dominant] += pair_mass * share
    blend[np.arange(n), partner] += pair_mass * (1 - share)
    # ambiguous: broad Dirichlet around a profile that leans towards d
    broad = 0.5 * NEIGHBOURS[dominant] + 0.5 / K
    amb = _dirichlet_rows(6.0 * (0.30 * onehot + 0.70 * broad) + 1e-3, rng)

    p = np.where((kind == 0)[:, None], proto, np.where((kind == 1)[:, None], blend, amb))
    # Guarantee argmax == d by a swap (ambiguous rows, or a blend whose spread tops up e).
    arg = p.argmax(axis=1)
    rows = np.arange(n)
    pd_, pa_ = p[rows, dominant].copy(), p[rows, arg].copy()
    p[rows, dominant], p[rows, arg] = pa_, pd_
    p = np.maximum(p, 0.0)
    p /= p.sum(axis=1, keepdims=True)

    spk_avd = rng.normal(0.0, 0.2, (n_spk, 3))
    avd = p @ AVD_MEANS + spk_avd[layout.speaker] + rng.normal(0.0, 0.35, (n, 3))
    return _Latent(p, kind, np.clip(avd, 1.0, 7.0), spk_avd)


# ---------------------------------------------------------------------------
# raters and annotations
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Raters:
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


def _raters(n_annotations: int, seed: int) -> _Raters:
    rng = _rng(seed, _STREAM_RATERS)
    w = max(4 * MAX_RATERS, round(n_annotations / 100))
    noisy = rng.random(w) < 0.15
    reliability = np.where(noisy, rng.beta(2, 3, w), rng.beta(8, 2, w))
    confusion = rng.beta(2, 8, w)
    style = rng.random(w)
    neutral_lover = style < 0.20
    other_lover = (style >= 0.20) & (style < 0.25)
    guess = np.broadcast_to(GUESS, (w, K)).copy()
    guess[neutral_lover] = 0.4 * GUESS + 0.6 * np.eye(K)[NEUTRAL]
    guess[other_lover] = 0.6 * GUESS + 0.4 * np.eye(K)[OTHER]
    bias = rng.normal(0.0, 0.4, (w, 3))
    noise_sd = 0.45 + 0.9 * (1 - reliability) + rng.uniform(0, 0.2, w)
    secondary_rate = rng.beta(2, 2, w)
    number = rng.choice(max(100_000, 20 * w), size=w, replace=False) + 1
    activity = rng.lognormal(0.0, 1.0, w)
    return _Raters(
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


@dataclass(frozen=True)
class _Annotations:
    utt: np.ndarray  # utterance index, sorted
    worker: np.ndarray  # index into the rater pool
    primary: np.ndarray  # class index
    major_label: np.ndarray  # object: EmoClass_Major strings
    secondary: np.ndarray  # object: EmoClass_Second strings
    ratings: np.ndarray  # (A, 3) int8 A, V, D


def _annotate(latent: _Latent, raters: _Raters, seed: int) -> _Annotations:
    rng = _rng(seed, _STREAM_ANNOT)
    n = len(latent.kind)
    n_raters = MIN_RATERS + np.minimum(
        rng.poisson(np.asarray(EXTRA_RATER_RATE)[latent.kind]), MAX_RATERS - MIN_RATERS
    )
    worker = _assign_workers(n_raters, raters.activity, rng)
    utt = np.repeat(np.arange(n), n_raters)
    order = np.lexsort((raters.number[worker], utt))  # rows sorted by (file, WorkerID)
    utt, worker = utt[order], worker[order]
    a = len(utt)

    # What each rater perceives: reliability, neighbour confusion and a guess prior.
    p = latent.p_true
    confused = p @ NEIGHBOURS
    r = raters.reliability[worker][:, None]
    c = raters.confusion[worker][:, None]
    q = r * ((1 - c) * p[utt] + c * confused[utt]) + (1 - r) * raters.guess[worker]
    draws = _sample_rows(q, rng.random((a, 4)))  # primary + 3 secondary slots
    del q
    primary = draws[:, 0]

    # Primary strings; Other gets a free-text word related to the latent mix.
    labels = np.array([*CLASSES[:OTHER], "Other", *(f"Other-{w}" for w in WORDS)], dtype=object)
    code = primary.copy()
    is_other = np.flatnonzero(primary == OTHER)
    word_class = _sample_rows(p[utt[is_other]], rng.random(len(is_other)))
    word = _sample_by_table(OTHER_WORD_PROBS, word_class, rng.random(len(is_other)))
    plain = rng.random(len(is_other)) < PLAIN_OTHER_RATE
    code[is_other] = np.where(plain, OTHER, OTHER + 1 + word)
    major_label = labels[code]

    # Secondary words: 0-3 per annotation, drawn through the word table.
    gives = rng.random(a) < raters.secondary_rate[worker]
    n_sec = np.where(gives, 1 + rng.binomial(2, 0.3, a), 0)
    sec_words = _sample_by_table(SECONDARY_WORD_PROBS, draws[:, 1:].ravel(), rng.random(3 * a)).reshape(a, 3)
    sec_words = np.where(np.arange(3)[None, :] < n_sec[:, None], sec_words, -1)
    sec_words[:, 1] = np.where(sec_words[:, 1] == sec_words[:, 0], -1, sec_words[:, 1])
    dup3 = (sec_words[:, 2] == sec_words[:, 0]) | (sec_words[:, 2] == sec_words[:, 1])
    sec_words[:, 2] = np.where(dup3, -1, sec_words[:, 2])
    secondary = _join_words(sec_words)

    # Dimensional ratings: the truth pulled a little towards the chosen class.
    true = 0.8 * latent.avd[utt] + 0.2 * AVD_MEANS[primary]
    noise = rng.standard_normal((a, 3)) * raters.noise_sd[worker][:, None]
    ratings = np.clip(np.rint(true + raters.bias[worker] + noise), 1, 7).astype(np.int8)
    return _Annotations(utt, worker, primary, major_label, secondary, ratings)


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


def consensus(utt: np.ndarray, primary: np.ndarray, n_utt: int) -> tuple[np.ndarray, np.ndarray]:
    """Plurality class code per utterance (X when the maximum is shared) and vote counts."""
    counts = np.bincount(utt * K + primary, minlength=n_utt * K).reshape(n_utt, K)
    top = counts.max(axis=1)
    unique = (counts == top[:, None]).sum(axis=1) == 1
    codes = np.array([*CODES, NO_AGREEMENT], dtype=object)
    return codes[np.where(unique, counts.argmax(axis=1), K)], counts


# ---------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------


def _write_csv(dest: Path, df: pd.DataFrame) -> None:
    with atomic_path(dest) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")


def _write_labels(root: Path, layout: _Layout, ann: _Annotations, raters: _Raters) -> np.ndarray:
    n = len(layout.file_id)
    codes, _ = consensus(ann.utt, ann.primary, n)
    n_per = np.bincount(ann.utt, minlength=n)
    means = np.stack([np.bincount(ann.utt, ann.ratings[:, j], minlength=n) / n_per for j in range(3)], 1)
    means = np.round(means, 6)
    cons = pd.DataFrame(
        {
            "FileName": layout.file_id,
            "EmoClass": codes,
            "EmoAct": means[:, 0],
            "EmoVal": means[:, 1],
            "EmoDom": means[:, 2],
            "SpkrID": layout.spk_id[layout.speaker],
            "Gender": np.where(layout.spk_female[layout.speaker], "Female", "Male"),
            "Split_Set": np.asarray(SPLITS, dtype=object)[layout.split],
        },
        columns=list(_LABEL_HEADER),
    )
    _write_csv(root / "Labels" / "labels_consensus.csv", cons)

    worker_ids = _worker_ids(raters)
    det = pd.DataFrame(
        {
            "FileName": layout.file_id[ann.utt],
            "WorkerID": worker_ids[ann.worker],
            "EmoClass_Major": ann.major_label,
            "EmoClass_Second": ann.secondary,
            "EmoAct": ann.ratings[:, 0],
            "EmoVal": ann.ratings[:, 1],
            "EmoDom": ann.ratings[:, 2],
        },
        columns=list(_DETAILED_HEADER),
    )
    _write_csv(root / "Labels" / "labels_detailed.csv", det)
    return codes


def _write_latent(root: Path, layout: _Layout, latent: _Latent) -> None:
    import pyarrow as pa

    n = len(layout.file_id)
    offsets = np.arange(0, (n + 1) * K, K, dtype=np.int32)
    p_lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(latent.p_true.ravel())).to_pandas()
    df = pd.DataFrame(
        {
            "file_id": layout.file_id,
            "p_true": p_lists,
            "arousal_true": latent.avd[:, 0],
            "valence_true": latent.avd[:, 1],
            "dominance_true": latent.avd[:, 2],
            "kind": np.asarray(KINDS, dtype=object)[latent.kind],
            "speaker": layout.spk_id[layout.speaker],
            "split": np.asarray(SPLITS, dtype=object)[layout.split],
        }
    )
    write_parquet(root / "latent_truth.parquet", df)


def _worker_ids(raters: _Raters) -> np.ndarray:
    return pd.Series(raters.number).astype(str).str.zfill(8).radd("WORKER").to_numpy(dtype=object)


def _write_raters(root: Path, raters: _Raters, ann: _Annotations) -> None:
    """Known rater traits, for checking reliability statistics against the truth."""
    df = pd.DataFrame(
        {
            "worker_id": _worker_ids(raters),
            "reliability": raters.reliability,
            "confusion": raters.confusion,
            "style": np.where(
                raters.neutral_lover,
                "neutral_overuse",
                np.where(raters.other_lover, "other_overuse", "plain"),
            ),
            "noisy": raters.noisy,
            "bias_act": raters.bias[:, 0],
            "bias_val": raters.bias[:, 1],
            "bias_dom": raters.bias[:, 2],
            "rating_noise_sd": raters.noise_sd,
            "secondary_rate": raters.secondary_rate,
            "annotations": np.bincount(ann.worker, minlength=len(raters.number)),
        }
    ).sort_values("worker_id", kind="stable")
    write_parquet(root / "rater_truth.parquet", df.reset_index(drop=True))


# ---------------------------------------------------------------------------
# audio
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Voice:
    """Per-utterance synthesis controls (one row per utterance)."""

    f0_hz: np.ndarray
    cues: np.ndarray  # (n, len(CUE_NAMES)) after speaker/residual/noise
    vtl: np.ndarray  # formant scale
    gain_db: np.ndarray
    noise_db: np.ndarray
    mic_pole: np.ndarray


def _voices(layout: _Layout, latent: _Latent, seed: int) -> _Voice:
    rng = _rng(seed, _STREAM_CUES)
    n, n_spk = len(layout.file_id), len(layout.spk_id)
    fem = layout.spk_female
    spk_f0 = np.where(fem, 205.0, 118.0) * np.exp(rng.normal(0.0, 0.12, n_spk))
    spk_vtl = np.where(fem, 1.15, 1.0) * (1 + rng.normal(0.0, 0.04, n_spk))
    spk_rate = np.exp(rng.normal(0.0, 0.10, n_spk))
    spk_breath = rng.uniform(0.0, 0.08, n_spk) + 0.04 * fem
    spk_bright = rng.normal(0.0, 0.08, n_spk)
    spk_loud = rng.normal(0.0, 2.0, n_spk)
    pod_gain = rng.normal(0.0, 2.5, layout.n_podcasts)
    pod_noise = rng.uniform(-65.0, -45.0, layout.n_podcasts)
    pod_mic = rng.uniform(0.0, 0.45, layout.n_podcasts)

    cues = latent.p_true @ CUES + rng.standard_normal((n, len(CUE_NAMES))) * np.asarray(_CUE_NOISE_SD)
    # Dimensional residuals (truth minus what the class mix predicts) also speak.
    resid = latent.avd - latent.p_true @ AVD_MEANS - latent.spk_avd[layout.speaker]
    ra, rv, rd = resid[:, 0], resid[:, 1], resid[:, 2]
    col = {name: i for i, name in enumerate(CUE_NAMES)}
    cues[:, col["pitch_st"]] += 1.2 * ra - 0.6 * rd
    cues[:, col["range_st"]] += 0.5 * ra
    cues[:, col["energy_db"]] += 2.0 * ra + 1.0 * rd + spk_loud[layout.speaker]
    cues[:, col["rate_sps"]] = (cues[:, col["rate_sps"]] + 0.25 * ra) * spk_rate[layout.speaker]
    cues[:, col["brightness"]] += 0.05 * rv + spk_bright[layout.speaker]
    cues[:, col["f2_shift"]] += 0.02 * rv
    cues[:, col["breath"]] += spk_breath[layout.speaker]
    lo = np.array([-12, 0.5, -8, 2.0, -30, 0, 0, 0, 0, -0.15, -0.15])
    hi = np.array([12, 14, 8, 8.0, 20, 1, 0.8, 1.2, 0.5, 0.15, 0.15])
    cues = np.clip(cues, lo, hi)
    return _Voice(
        spk_f0[layout.speaker],
        cues,
        spk_vtl[layout.speaker],
        cues[:, col["energy_db"]] + pod_gain[layout.podcast],
        pod_noise[layout.podcast],
        pod_mic[layout.podcast],
    )


def _resonator_sos(freqs: Sequence[float], bws: Sequence[float], sr: int) -> np.ndarray:
    """Cascade of unit-DC-gain two-pole resonators (Klatt style) as SOS rows."""
    f = np.minimum(np.asarray(freqs, dtype=float), 0.45 * sr)
    r = np.exp(-np.pi * np.asarray(bws, dtype=float) / sr)
    a1 = -2 * r * np.cos(2 * np.pi * f / sr)
    a2 = r * r
    g = 1 + a1 + a2
    z = np.zeros_like(g)
    return np.stack([g, z, z, np.ones_like(g), a1, a2], axis=1)


def _upsample(frames: np.ndarray, hop: int, n_samples: int) -> np.ndarray:
    """Linear interpolation of frame-rate rows (frame k at sample k*hop), float32."""
    f = frames.astype(np.float32)
    ramp = np.arange(hop, dtype=np.float32) / np.float32(hop)
    out = f[:, :-1, None] + np.diff(f, axis=1)[:, :, None] * ramp
    return out.reshape(len(f), -1)[:, :n_samples]


def render(
    cues: np.ndarray,
    f0_hz: float,
    vtl: float,
    gain_db: float,
    noise_db: float,
    mic_pole: float,
    n_samples: int,
    sr: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Synthesize one utterance (float32 in [-0.98, 0.98]) from its cue vector.

    Control contours live at 100 frames/s and are linearly upsampled; sample-rate
    work is a few float32 array operations and four IIR filters.
    """
    from scipy.signal import lfilter, sosfilt

    (pitch, rng_st, final, rate, _, bright, breath, jitter, pause, f1s, f2s) = cues.tolist()
    hop = sr // 100
    nf = -(-n_samples // hop) + 1
    t = np.arange(nf) / 100.0
    dur = n_samples / sr

    # Syllable clock with slow tempo drift; some syllable slots are pauses.
    drift = np.interp(t, np.linspace(0, t[-1], 6), rng.normal(0.0, 0.15, 6))
    phase = np.cumsum(rate * np.exp(drift) / 100.0) + rng.uniform(-0.5, 0.0)
    syl = np.floor(phase).astype(np.int64)
    frac = phase - syl
    syl -= syl.min()
    n_syl = int(syl[-1]) + 1
    spoken = rng.random(n_syl) >= pause
    spoken[syl[len(syl) // 2]] = True  # never an all-silent file
    accent = rng.random(n_syl) ** 1.5
    vowel_pick = rng.random(n_syl) < 0.5
    nucleus = np.sin(np.pi * frac) ** 0.7
    edge = np.clip(np.minimum(t, dur - t) / 0.08, 0.0, 1.0)  # fade in/out
    voiced_env = nucleus * spoken[syl] * edge

    # F0 contour in semitones around the utterance mean.
    st = (
        pitch
        - 1.5 * (t / dur - 0.5)
        + rng_st * (accent[syl] - 0.4) * nucleus
        + final * np.clip((t - (dur - 0.4)) / 0.4, 0.0, 1.0)
        + jitter * rng.standard_normal(nf)
    )
    f0_frames = f0_hz * 2.0 ** (st / 12.0) / sr  # cycles per sample
    fric_frames = (1 - nucleus) ** 6 * spoken[syl] * edge
    f0, env, fric_env, vmix = _upsample(
        np.stack([f0_frames, voiced_env, fric_frames, vowel_pick[syl]]), hop, n_samples
    )

    # Glottal source: a pulse at every phase wrap, with shimmer; spectral tilt.
    gphase = np.cumsum(f0, dtype=np.float64)
    cycle = gphase.astype(np.int64)
    pulses = np.flatnonzero(cycle[1:] != cycle[:-1]) + 1
    src = np.zeros(n_samples, dtype=np.float32)
    src[pulses] = 1.0 + 0.08 * rng.standard_normal(len(pulses))
    pole = 0.96 - 0.40 * bright
    src = lfilter(np.float32([1.0]), np.float32([1.0, -2 * pole, pole * pole]), src)
    active = env > 0.3
    src *= np.float32(1.0 / ((np.sqrt(np.mean(np.square(src[active]))) if active.any() else 1.0) + 1e-9))

    # Aspiration (open phase only) and consonant-like bursts between nuclei.
    noise = rng.random(n_samples, dtype=np.float32)
    noise -= np.float32(0.5)
    noise *= np.float32(3.46)  # unit variance
    open_phase = (gphase - cycle) < 0.5
    breath_noise = noise * np.float32(1.2 * breath)
    breath_noise *= np.where(open_phase, np.float32(1.0), np.float32(0.4))
    hiss = noise[::-1].copy()
    hiss[1:] -= np.float32(0.9) * noise[::-1][:-1]  # high-passed, decorrelated
    excitation = env * (src + breath_noise)
    excitation += np.float32(0.35) * fric_env * hiss
    excitation += np.float32(1e-12)  # keeps the IIR filters out of (slow) denormals in pauses

    # Vocal tract: two vowel cascades, cross-faded syllable by syllable.
    va, vb = rng.choice(len(_VOWELS), size=2, replace=False)
    scale = vtl * np.array([1 + f1s, 1 + f2s, 1.0, 1.0])
    bw = np.asarray(_BANDWIDTHS) * (1 + breath)
    sos_a = _resonator_sos(np.asarray(_VOWELS[va]) * scale, bw, sr).astype(np.float32)
    sos_b = _resonator_sos(np.asarray(_VOWELS[vb]) * scale, bw, sr).astype(np.float32)
    y_b = sosfilt(sos_b, excitation)
    y = sosfilt(sos_a, excitation)
    y -= y_b
    y *= vmix
    y += y_b
    # Lip radiation (first difference) and microphone low-pass in one filter.
    m = mic_pole
    y = lfilter(np.float32([1.0 - m, -0.95 * (1.0 - m)]), np.float32([1.0, -m]), y)

    rms = np.sqrt(np.mean(np.square(y[active]))) if active.any() else np.std(y)
    y *= np.float32(10.0 ** ((gain_db + _REFERENCE_DBFS) / 20.0) / (rms + 1e-12))
    y += np.float32(10.0 ** (noise_db / 20.0)) * np.roll(hiss, n_samples // 2)
    peak = float(np.max(np.abs(y)))
    if peak > _PEAK_CEILING:
        y *= np.float32(_PEAK_CEILING / peak)
    return y


def _to_pcm16(y: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(y * 32767.0), -32767, 32767).astype(np.int16)


def _write_audio(root: Path, layout: _Layout, voice: _Voice, seed: int, sr: int) -> int:
    """Render and write every wav; returns the number of peak-limited files."""
    import soundfile as sf

    audio_dir = root / "Audios"
    audio_dir.mkdir(parents=True, exist_ok=True)
    n_samples = np.rint(layout.duration_s * sr).astype(np.int64)
    limited = 0
    for i, name in enumerate(layout.file_id):
        y = render(
            voice.cues[i],
            float(voice.f0_hz[i]),
            float(voice.vtl[i]),
            float(voice.gain_db[i]),
            float(voice.noise_db[i]),
            float(voice.mic_pole[i]),
            int(n_samples[i]),
            sr,
            _rng(seed, _STREAM_AUDIO, i),
        )
        limited += int(np.max(np.abs(y)) >= _PEAK_CEILING * (1 - 1e-6))  # float32 rounding
        with atomic_path(audio_dir / name) as tmp:
            sf.write(tmp, _to_pcm16(y), sr, subtype="PCM_16", format="WAV")
    return limited


# ---------------------------------------------------------------------------
# public entry point
# ---------------------------------------------------------------------------


def generate(
    out_dir: str | Path,
    utterances: int,
    seed: int,
    *,
    labels_only: bool = False,
    min_duration_s: float = 1.5,
    max_duration_s: float = 3.0,
    sample_rate: int = 16000,
) -> dict[str, Any]:
    """Write a synthetic MSP-Podcast 2.0 corpus to ``out_dir``; return a summary.

    The same (utterances, seed, durations, sample_rate) always gives
    byte-identical files. ``labels_only`` skips ``Audios/`` but leaves every
    label and latent value unchanged. Existing files of the same names are
    replaced; stray older files in ``out_dir`` are left alone.
    """
    _validate(utterances, seed, min_duration_s, max_duration_s, sample_rate)
    if not isinstance(labels_only, bool | np.bool_):
        raise ValueError(f"labels_only must be True or False, got {labels_only!r}")
    if not isinstance(out_dir, str | Path) or str(out_dir) == "":
        raise ValueError(f"out_dir must be a non-empty path, got {out_dir!r}")
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise ValueError(f"out_dir {str(root)!r} exists and is not a directory")
    utterances, seed = int(utterances), int(seed)
    min_duration_s, max_duration_s = float(min_duration_s), float(max_duration_s)

    layout = _layout(utterances, seed, min_duration_s, max_duration_s)
    latent = _latent(layout, seed)
    expected_annotations = round(utterances * MSP2_ANNOTATIONS / MSP2_FILES)
    raters = _raters(expected_annotations, seed)
    ann = _annotate(latent, raters, seed)

    codes = _write_labels(root, layout, ann, raters)
    _write_latent(root, layout, latent)
    _write_raters(root, raters, ann)

    limited = 0
    audio_seconds = 0.0
    if not labels_only:
        voice = _voices(layout, latent, seed)
        limited = _write_audio(root, layout, voice, seed, sample_rate)
        audio_seconds = float(np.rint(layout.duration_s * sample_rate).sum() / sample_rate)

    summary = _summary(layout, latent, ann, codes, raters, audio_seconds, limited, labels_only)
    meta = {
        "generator": "sertools.synth",
        "generator_version": GENERATOR_VERSION,
        "sertools_version": __version__,
        "parameters": {
            "utterances": utterances,
            "seed": seed,
            "labels_only": bool(labels_only),
            "min_duration_s": min_duration_s,
            "max_duration_s": max_duration_s,
            "sample_rate": sample_rate,
        },
        "model": {
            "kind_probs": dict(zip(KINDS, KIND_PROBS, strict=True)),
            "extra_rater_rate": dict(zip(KINDS, EXTRA_RATER_RATE, strict=True)),
            "raters_per_utterance": [MIN_RATERS, MAX_RATERS],
            "dominant_class_totals_msp2": dict(zip(CLASSES, MSP2_CLASS_TOTALS, strict=True)),
            "split_sizes_msp2": dict(zip(SPLITS, MSP2_SPLIT_SIZES, strict=True)),
            "cues": {CLASSES[i]: dict(zip(CUE_NAMES, CUES[i].tolist(), strict=True)) for i in range(K)},
        },
        "counts": summary,
    }
    write_json(root / "synth_meta.json", meta)
    return summary


def _summary(
    layout: _Layout,
    latent: _Latent,
    ann: _Annotations,
    codes: np.ndarray,
    raters: _Raters,
    audio_seconds: float,
    limited: int,
    labels_only: bool,
) -> dict[str, Any]:
    n = len(layout.file_id)
    code_counts = pd.Series(codes).value_counts()
    dominant = np.bincount(latent.p_true.argmax(axis=1), minlength=K)
    return {
        "utterances": n,
        "splits": {s: int((layout.split == i).sum()) for i, s in enumerate(SPLITS)},
        "speakers": len(layout.spk_id),
        "podcasts": layout.n_podcasts,
        "workers_in_pool": len(raters.number),
        "workers_used": len(np.unique(ann.worker)),
        "annotation_rows": len(ann.utt),
        "annotators_per_utterance_mean": round(len(ann.utt) / n, 4),
        "consensus_counts": {c: int(code_counts.get(c, 0)) for c in (*CODES, NO_AGREEMENT)},
        "x_rate": round(float(code_counts.get(NO_AGREEMENT, 0)) / n, 4),
        "dominant_class_counts": {CLASSES[i]: int(dominant[i]) for i in range(K)},
        "kind_counts": {k: int((latent.kind == i).sum()) for i, k in enumerate(KINDS)},
        "audio_files": 0 if labels_only else n,
        "audio_seconds": round(audio_seconds, 3),
        "peak_limited_files": limited,
    }

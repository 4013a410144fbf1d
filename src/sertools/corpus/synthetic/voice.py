"""Source-filter voice synthesis of the synthetic corpus.

Each utterance is rendered from a vector of acoustic cues: the expected value
of the class cue table under its latent distribution p_true, plus speaker,
arousal/valence/dominance residual and per-utterance noise.

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

The table is the default corpus (``synthetic.cue_contrast: 1``). A cue
contrast c scales every class's distance from the Neutral row on every cue
(:func:`cue_table`: Neutral + c x (class - Neutral)) before the class mix, the
noise, the residuals and the speaker traits are added and the result is
clipped to the cue ranges. It is one number for the whole corpus: every
utterance, split and supervision variant hears the same voice model, and the
latent truth and the votes do not depend on it. The demo (config/config.yaml)
uses 4, at which the strongest classes reach the clipping range of several
cues (brightness, breath, rate, pause, formant shifts, level), so those
contrasts grow less than fourfold; docs/training.md, "Why the demo's
fine-tuned rows learned little", has the measurements.

pitch: mean F0 shift from the speaker baseline; range: pitch-accent excursion;
final: terminal rise/fall over the last 0.4 s; rate: syllables per second;
energy: speech level; bright: glottal spectral tilt (0 dark/soft, 1 tense);
breath: aspiration noise; jitter: frame-to-frame F0 perturbation; pause:
probability that a syllable slot is silent; F1/F2: formant shifts.

Per-utterance noise (sd): pitch 0.5 st, range 0.5 st, final 0.4 st, rate
0.175, energy 1.25 dB, brightness 0.04, breath 0.025, jitter 0.02, pause 0.015,
formants 1%. On top come speaker (F0: gender plus 12% sd, rate 10%, loudness
2 dB, breathiness, brightness) and channel (gain 2.5 dB, noise floor -65..-45
dBFS, microphone low-pass) nuisances. Dimensional residuals (true A/V/D minus
what the class mix predicts) move pitch, level, rate, brightness and F2 a
little, so attribute heads have something beyond the class to learn. Note:
WavLM's group-norm front end normalises each channel per utterance, so the
absolute level (energy) cue is invisible to it; every other cue is
level-invariant.

:func:`render` runs these steps: syllable clock (tempo drift, pauses, accents)
-> F0 contour at 100 frames/s (declination, pitch accents, terminal movement,
jitter), linearly upsampled -> glottal pulse train with shimmer and a two-pole
spectral-tilt filter -> aspiration noise gated by the glottal cycle, plus
consonant-like noise bursts between syllable nuclei -> two vowel formant
cascades (4 resonators each) cross-faded per syllable, lip radiation and
microphone low-pass -> level set by RMS over active speech, background noise,
and a peak limiter keeping |x| <= 0.98 before PCM16 (so the energy cue
survives: files are not all normalised to the same peak).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields

import numpy as np

from sertools.classes import CLASSES
from sertools.corpus.synthetic import sampling
from sertools.corpus.synthetic.labels import AVD_MEANS, MSP_TABLES, ClassTables, Latent
from sertools.corpus.synthetic.layout import Layout


@dataclass(frozen=True)
class Cues:
    """The acoustic cues of one utterance (units in the module docstring)."""

    pitch_st: float
    range_st: float
    final_st: float
    rate_sps: float
    energy_db: float
    brightness: float
    breath: float
    jitter_st: float
    pause: float
    f1_shift: float
    f2_shift: float

    @classmethod
    def from_vector(cls, values: Sequence[float] | np.ndarray) -> Cues:
        """From a vector in :data:`CUE_NAMES` order (a row of :data:`CUES`)."""
        return cls(*np.asarray(values, dtype=float).tolist())

    def vector(self) -> np.ndarray:
        return np.array(astuple(self), dtype=float)


CUE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Cues))

# The cue table (see the module docstring), one row per class in CLASSES order.
_CUE_TABLE: dict[str, tuple[float, ...]] = {
    "Angry": (2.5, 6.0, -1.5, 5.4, 7.0, 0.95, 0.05, 0.30, 0.06, 0.08, 0.00),
    "Sad": (-2.0, 2.0, -2.5, 2.8, -6.0, 0.10, 0.50, 0.35, 0.30, -0.03, -0.03),
    "Happy": (3.0, 7.0, 0.5, 5.0, 3.0, 0.75, 0.08, 0.12, 0.08, 0.03, 0.07),
    "Surprise": (4.5, 8.5, 4.0, 4.6, 4.0, 0.70, 0.20, 0.15, 0.10, 0.05, 0.03),
    "Fear": (4.0, 3.5, 1.0, 5.8, -1.0, 0.45, 0.55, 0.80, 0.15, 0.00, 0.02),
    "Disgust": (-1.0, 4.5, -3.0, 3.5, 0.0, 0.50, 0.25, 0.25, 0.18, -0.05, -0.04),
    "Contempt": (-1.5, 4.0, -3.0, 3.7, -1.0, 0.55, 0.15, 0.15, 0.15, 0.00, -0.02),
    "Neutral": (0.0, 3.0, -1.5, 4.3, 0.0, 0.35, 0.12, 0.10, 0.12, 0.00, 0.00),
    "Other": (0.5, 3.5, -1.0, 4.2, 0.0, 0.40, 0.18, 0.15, 0.14, 0.00, 0.00),
}
CUES = sampling.class_rows({i: _CUE_TABLE[c] for i, c in enumerate(CLASSES)})
# Per-utterance cue noise. Chosen (once, for every supervision variant alike) so
# that the tiny random-init WavLM of the demo learns the cues within its CPU
# budget: at twice these values its hard-CE Test1 macro-F1 stayed below 2/9.
_CUE_NOISE_SD: tuple[float, ...] = (0.5, 0.5, 0.4, 0.175, 1.25, 0.04, 0.025, 0.02, 0.015, 0.01, 0.01)
_CUE_MIN = np.array([-12, 0.5, -8, 2.0, -30, 0, 0, 0, 0, -0.15, -0.15])
_CUE_MAX = np.array([12, 14, 8, 8.0, 20, 1, 0.8, 1.2, 0.5, 0.15, 0.15])
_COL = {name: i for i, name in enumerate(CUE_NAMES)}

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
PEAK_CEILING = 0.98  # limiter ceiling before PCM16
_FRAME_RATE = 100  # control frames per second


# ---------------------------------------------------------------------------
# per-utterance controls
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VoiceParams:
    """Everything :func:`render` needs to know about one utterance's voice and channel."""

    cues: Cues
    f0_hz: float  # speaker's F0 baseline
    vtl: float  # formant scale (vocal-tract length)
    gain_db: float  # speech level relative to the reference level
    noise_db: float  # background noise level, dBFS
    mic_pole: float  # microphone low-pass pole, 0-0.45


@dataclass(frozen=True)
class Voices:
    """Synthesis controls of every utterance (one row each)."""

    f0_hz: np.ndarray
    cues: np.ndarray  # (n, len(CUE_NAMES)) after speaker/residual/noise
    vtl: np.ndarray
    gain_db: np.ndarray
    noise_db: np.ndarray
    mic_pole: np.ndarray

    def params(self, i: int) -> VoiceParams:
        return VoiceParams(
            Cues.from_vector(self.cues[i]),
            float(self.f0_hz[i]),
            float(self.vtl[i]),
            float(self.gain_db[i]),
            float(self.noise_db[i]),
            float(self.mic_pole[i]),
        )


def cue_table(contrast: float = 1.0) -> np.ndarray:
    """The class cue table with every class's contrast to Neutral scaled by ``contrast``.

    Row c is ``Neutral + contrast * (CUES[c] - Neutral)``: 1 is the table of the
    module docstring, 2 doubles each class's distance from Neutral on every cue,
    0 makes every class sound Neutral. It is a property of the corpus, the same
    for every utterance; the latent truth and the votes do not depend on it.
    """
    contrast = float(contrast)
    if not np.isfinite(contrast) or contrast < 0:
        raise ValueError(f"cue contrast must be a finite number >= 0, got {contrast!r}")
    neutral = CUES[CLASSES.index("Neutral")]
    return neutral + contrast * (CUES - neutral)


def voices(
    layout: Layout, latent: Latent, seed: int, *, cue_contrast: float = 1.0, tables: ClassTables = MSP_TABLES
) -> Voices:
    """Speaker, channel and cue draws for every utterance (stream ``STREAM_CUES``).

    ``cue_contrast`` scales the class contrasts of the cue table (:func:`cue_table`);
    the random draws do not depend on it. ``tables``: the class set's rows of the cue table
    and of the A/V/D class means (``latent.p_true`` is over its classes).
    """
    rng = sampling.rng(seed, sampling.STREAM_CUES)
    n_spk, n_pod = len(layout.spk_id), layout.n_podcasts
    fem = layout.spk_female
    spk_f0 = np.where(fem, 205.0, 118.0) * np.exp(rng.normal(0.0, 0.12, n_spk))
    spk_vtl = np.where(fem, 1.15, 1.0) * (1 + rng.normal(0.0, 0.04, n_spk))
    spk_rate = np.exp(rng.normal(0.0, 0.10, n_spk))
    spk_breath = rng.uniform(0.0, 0.08, n_spk) + 0.04 * fem
    spk_bright = rng.normal(0.0, 0.08, n_spk)
    spk_loud = rng.normal(0.0, 2.0, n_spk)
    pod_gain = rng.normal(0.0, 2.5, n_pod)
    pod_noise = rng.uniform(-65.0, -45.0, n_pod)
    pod_mic = rng.uniform(0.0, 0.45, n_pod)

    spk = layout.speaker
    traits = (spk_loud[spk], spk_rate[spk], spk_bright[spk], spk_breath[spk])
    table = cue_table(cue_contrast)
    avd_means = AVD_MEANS
    if not tables.full:
        table, avd_means = table[tables.rows], tables.avd_means
    cues = _cues(layout, latent, rng, table, avd_means, *traits)
    pod = layout.podcast
    return Voices(
        spk_f0[spk],
        cues,
        spk_vtl[spk],
        cues[:, _COL["energy_db"]] + pod_gain[pod],
        pod_noise[pod],
        pod_mic[pod],
    )


def _cues(
    layout: Layout,
    latent: Latent,
    rng: np.random.Generator,
    table: np.ndarray,
    avd_means: np.ndarray,
    loudness: np.ndarray,
    rate: np.ndarray,
    brightness: np.ndarray,
    breath: np.ndarray,
) -> np.ndarray:
    """Class-mix cues + per-utterance noise + dimensional residual + speaker traits, clipped.

    ``table`` is the class cue table (:func:`cue_table`), ``avd_means`` the A/V/D class means, both
    with one row per class of ``latent.p_true``; ``loudness`` (dB), ``rate`` (factor), ``brightness`` and ``breath`` (offsets)
    are the speaker traits of each utterance.
    """
    n = len(layout.file_id)
    cues = latent.p_true @ table + rng.standard_normal((n, len(CUE_NAMES))) * np.asarray(_CUE_NOISE_SD)
    # Dimensional residuals (truth minus what the class mix predicts) also speak.
    resid = latent.avd - latent.p_true @ avd_means - latent.spk_avd[layout.speaker]
    ra, rv, rd = resid[:, 0], resid[:, 1], resid[:, 2]
    cues[:, _COL["pitch_st"]] += 1.2 * ra - 0.6 * rd
    cues[:, _COL["range_st"]] += 0.5 * ra
    cues[:, _COL["energy_db"]] += 2.0 * ra + 1.0 * rd + loudness
    cues[:, _COL["rate_sps"]] = (cues[:, _COL["rate_sps"]] + 0.25 * ra) * rate
    cues[:, _COL["brightness"]] += 0.05 * rv + brightness
    cues[:, _COL["f2_shift"]] += 0.02 * rv
    cues[:, _COL["breath"]] += breath
    return np.clip(cues, _CUE_MIN, _CUE_MAX)


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    """The control-frame grid of one utterance."""

    n_samples: int
    sr: int
    hop: int  # samples per control frame
    t: np.ndarray  # frame times, s
    dur: float  # s

    @classmethod
    def of(cls, n_samples: int, sr: int) -> _Grid:
        hop = sr // _FRAME_RATE
        nf = -(-n_samples // hop) + 1
        return cls(n_samples, sr, hop, np.arange(nf) / float(_FRAME_RATE), n_samples / sr)


@dataclass(frozen=True)
class _Syllables:
    """Frame-rate syllable structure: which syllable, where in it, and per-syllable draws."""

    index: np.ndarray  # syllable of each frame
    nucleus: np.ndarray  # 0 at syllable edges, 1 mid-vowel
    edge: np.ndarray  # utterance fade in/out
    spoken: np.ndarray  # bool per syllable (False: a pause)
    accent: np.ndarray  # pitch-accent strength per syllable
    vowel_b: np.ndarray  # bool per syllable: the second vowel


def render(voice: VoiceParams, n_samples: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Synthesize one utterance (float32 in [-0.98, 0.98]) from its controls.

    Control contours live at 100 frames/s and are linearly upsampled; sample-rate
    work is a few float32 array operations and four IIR filters. The draws from
    ``rng`` happen in a fixed order, so a (voice, rng seed) pair is one waveform.
    """
    cues = voice.cues
    grid = _Grid.of(n_samples, sr)
    syl = _syllables(cues, grid, rng)
    f0, env, fric_env, vmix = _controls(voice, grid, syl, rng)
    src, glottal_phase, active = _glottal_source(f0, env, cues.brightness, rng)
    excitation, hiss = _excitation(src, glottal_phase, env, fric_env, cues.breath, rng)
    y = _vocal_tract(excitation, vmix, voice, grid.sr, rng)
    return _level_and_channel(y, active, hiss, voice)


def _syllables(cues: Cues, grid: _Grid, rng: np.random.Generator) -> _Syllables:
    """Syllable clock with slow tempo drift; some syllable slots are pauses."""
    t = grid.t
    drift = np.interp(t, np.linspace(0, t[-1], 6), rng.normal(0.0, 0.15, 6))
    phase = np.cumsum(cues.rate_sps * np.exp(drift) / 100.0) + rng.uniform(-0.5, 0.0)
    index = np.floor(phase).astype(np.int64)
    frac = phase - index
    index -= index.min()
    n_syl = int(index[-1]) + 1
    spoken = rng.random(n_syl) >= cues.pause
    spoken[index[len(index) // 2]] = True  # never an all-silent file
    accent = rng.random(n_syl) ** 1.5
    vowel_b = rng.random(n_syl) < 0.5
    nucleus = np.sin(np.pi * frac) ** 0.7
    edge = np.clip(np.minimum(t, grid.dur - t) / 0.08, 0.0, 1.0)  # fade in/out
    return _Syllables(index, nucleus, edge, spoken, accent, vowel_b)


def _controls(
    voice: VoiceParams, grid: _Grid, syl: _Syllables, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample-rate F0 (cycles per sample), voiced envelope, frication envelope and vowel mix."""
    cues, t, dur, s = voice.cues, grid.t, grid.dur, syl.index
    voiced_env = syl.nucleus * syl.spoken[s] * syl.edge
    # F0 contour in semitones around the utterance mean.
    st = (
        cues.pitch_st
        - 1.5 * (t / dur - 0.5)
        + cues.range_st * (syl.accent[s] - 0.4) * syl.nucleus
        + cues.final_st * np.clip((t - (dur - 0.4)) / 0.4, 0.0, 1.0)
        + cues.jitter_st * rng.standard_normal(len(t))
    )
    f0_frames = voice.f0_hz * 2.0 ** (st / 12.0) / grid.sr  # cycles per sample
    fric_frames = (1 - syl.nucleus) ** 6 * syl.spoken[s] * syl.edge
    frames = np.stack([f0_frames, voiced_env, fric_frames, syl.vowel_b[s]])
    f0, env, fric_env, vmix = _upsample(frames, grid.hop, grid.n_samples)
    return f0, env, fric_env, vmix


def _upsample(frames: np.ndarray, hop: int, n_samples: int) -> np.ndarray:
    """Linear interpolation of frame-rate rows (frame k at sample k*hop), float32."""
    f = frames.astype(np.float32)
    ramp = np.arange(hop, dtype=np.float32) / np.float32(hop)
    out = f[:, :-1, None] + np.diff(f, axis=1)[:, :, None] * ramp
    return out.reshape(len(f), -1)[:, :n_samples]


def _glottal_source(
    f0: np.ndarray, env: np.ndarray, brightness: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pulse at every phase wrap, with shimmer, through the spectral-tilt filter.

    Returns the source (unit RMS over active speech), the glottal phase in
    cycles and the mask of active (voiced) samples.
    """
    from scipy.signal import lfilter

    glottal_phase = np.cumsum(f0, dtype=np.float64)
    cycle = glottal_phase.astype(np.int64)
    pulses = np.flatnonzero(cycle[1:] != cycle[:-1]) + 1
    src = np.zeros(len(f0), dtype=np.float32)
    src[pulses] = 1.0 + 0.08 * rng.standard_normal(len(pulses))
    pole = 0.96 - 0.40 * brightness
    src = lfilter(
        np.array([1.0], dtype=np.float32), np.array([1.0, -2 * pole, pole * pole], dtype=np.float32), src
    )
    active = env > 0.3
    src *= np.float32(1.0 / ((np.sqrt(np.mean(np.square(src[active]))) if active.any() else 1.0) + 1e-9))
    return src, glottal_phase, active


def _excitation(
    src: np.ndarray,
    glottal_phase: np.ndarray,
    env: np.ndarray,
    fric_env: np.ndarray,
    breath: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Voiced source plus aspiration (open phase only) and consonant-like bursts between nuclei.

    Returns the excitation and the high-passed noise ``hiss`` (reused as background noise).
    """
    noise = rng.random(len(src), dtype=np.float32)
    noise -= np.float32(0.5)
    noise *= np.float32(3.46)  # unit variance
    open_phase = (glottal_phase - glottal_phase.astype(np.int64)) < 0.5
    breath_noise = noise * np.float32(1.2 * breath)
    breath_noise *= np.where(open_phase, np.float32(1.0), np.float32(0.4))
    hiss = noise[::-1].copy()
    hiss[1:] -= np.float32(0.9) * noise[::-1][:-1]  # high-passed, decorrelated
    excitation = env * (src + breath_noise)
    excitation += np.float32(0.35) * fric_env * hiss
    excitation += np.float32(1e-12)  # keeps the IIR filters out of (slow) denormals in pauses
    return excitation, hiss


def _vocal_tract(
    excitation: np.ndarray, vmix: np.ndarray, voice: VoiceParams, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Two vowel cascades cross-faded syllable by syllable, lip radiation and microphone low-pass."""
    from scipy.signal import lfilter, sosfilt

    cues = voice.cues
    va, vb = rng.choice(len(_VOWELS), size=2, replace=False)
    scale = voice.vtl * np.array([1 + cues.f1_shift, 1 + cues.f2_shift, 1.0, 1.0])
    bw = np.asarray(_BANDWIDTHS) * (1 + cues.breath)
    sos_a = _resonator_sos(np.asarray(_VOWELS[va]) * scale, bw, sr).astype(np.float32)
    sos_b = _resonator_sos(np.asarray(_VOWELS[vb]) * scale, bw, sr).astype(np.float32)
    y_b = sosfilt(sos_b, excitation)
    y = sosfilt(sos_a, excitation)
    y -= y_b
    y *= vmix
    y += y_b
    # Lip radiation (first difference) and microphone low-pass in one filter.
    m = voice.mic_pole
    return lfilter(
        np.array([1.0 - m, -0.95 * (1.0 - m)], dtype=np.float32), np.array([1.0, -m], dtype=np.float32), y
    )


def _resonator_sos(
    freqs: np.ndarray | Sequence[float], bws: np.ndarray | Sequence[float], sr: int
) -> np.ndarray:
    """Cascade of unit-DC-gain two-pole resonators (Klatt style) as SOS rows."""
    f = np.minimum(np.asarray(freqs, dtype=float), 0.45 * sr)
    r = np.exp(-np.pi * np.asarray(bws, dtype=float) / sr)
    a1 = -2 * r * np.cos(2 * np.pi * f / sr)
    a2 = r * r
    g = 1 + a1 + a2
    z = np.zeros_like(g)
    return np.stack([g, z, z, np.ones_like(g), a1, a2], axis=1)


def _level_and_channel(y: np.ndarray, active: np.ndarray, hiss: np.ndarray, voice: VoiceParams) -> np.ndarray:
    """Speech level by RMS over active speech, background noise, then the peak limiter."""
    rms = np.sqrt(np.mean(np.square(y[active]))) if active.any() else np.std(y)
    y *= np.float32(10.0 ** ((voice.gain_db + _REFERENCE_DBFS) / 20.0) / (rms + 1e-12))
    y += np.float32(10.0 ** (voice.noise_db / 20.0)) * np.roll(hiss, len(y) // 2)
    peak = float(np.max(np.abs(y)))
    if peak > PEAK_CEILING:
        y *= np.float32(PEAK_CEILING / peak)
    return y


def to_pcm16(y: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(y * 32767.0), -32767, 32767).astype(np.int16)

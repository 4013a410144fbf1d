"""Source-filter synthesis (sertools.corpus.synthetic.voice): the cues are audible."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sertools.classes import CLASSES
from sertools.corpus.synthetic import voice


def _active_level_db(y: np.ndarray) -> float:
    frames = y[: len(y) // 320 * 320].reshape(-1, 320)
    e = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return float(e[e > e.max() - 20].mean())


def _f0_hz(y: np.ndarray, sr: int) -> float:
    """Median autocorrelation pitch of the loudest frames."""
    frames = np.lib.stride_tricks.sliding_window_view(y, 640)[::160]
    loud = frames[np.argsort((frames**2).sum(axis=1))[-len(frames) // 3 :]]
    spec = np.abs(np.fft.rfft(loud * np.hanning(640), 1280, axis=1)) ** 2
    ac = np.fft.irfft(spec, axis=1)
    lo, hi = sr // 500, sr // 60
    return float(np.median(sr / (lo + ac[:, lo:hi].argmax(axis=1))))


def _centroid_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y)) ** 2
    return float((spec * np.fft.rfftfreq(len(y), 1 / sr)).sum() / spec.sum())


def _voice(cues: voice.Cues, gain_db: float) -> voice.VoiceParams:
    """One speaker and channel (120 Hz, quiet, mild microphone low-pass) for every test."""
    return voice.VoiceParams(cues, f0_hz=120.0, vtl=1.0, gain_db=gain_db, noise_db=-70.0, mic_pole=0.1)


def _class_cues(name: str) -> voice.Cues:
    return voice.Cues.from_vector(voice.CUES[CLASSES.index(name)])


def test_cue_names_follow_the_table() -> None:
    assert voice.CUES.shape == (len(CLASSES), len(voice.CUE_NAMES))
    angry = _class_cues("Angry")
    assert angry.energy_db == 7.0 and angry.brightness == 0.95
    np.testing.assert_array_equal(angry.vector(), voice.CUES[CLASSES.index("Angry")])


def test_render_follows_its_cues() -> None:
    """Same speaker, channel and random stream; only the class cue vector differs."""
    sr, n = 16000, 32000

    def make(cls: str) -> np.ndarray:
        cues = _class_cues(cls)
        return voice.render(_voice(cues, cues.energy_db), n, sr, np.random.default_rng(0))

    angry, sad = make("Angry"), make("Sad")
    assert angry.shape == (n,) and angry.dtype == np.float32 and np.isfinite(angry).all()
    assert _active_level_db(angry) > _active_level_db(sad) + 6
    assert _f0_hz(angry, sr) > _f0_hz(sad, sr) * 2 ** (2 / 12)


def test_render_is_a_function_of_its_controls_and_stream() -> None:
    params = _voice(_class_cues("Happy"), 3.0)
    a = voice.render(params, 8000, 16000, np.random.default_rng(7))
    b = voice.render(params, 8000, 16000, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert np.max(np.abs(a)) <= voice.PEAK_CEILING


def test_brightness_cue_tilts_the_spectrum() -> None:
    sr, n = 16000, 32000
    neutral = _class_cues("Neutral")
    centroids = []
    for bright in (0.1, 0.95):
        cues = dataclasses.replace(neutral, brightness=bright)
        y = voice.render(_voice(cues, 0.0), n, sr, np.random.default_rng(3))
        centroids.append(_centroid_hz(y, sr))
    assert centroids[1] > 1.3 * centroids[0]


def test_cue_table_scales_every_class_contrast_to_neutral() -> None:
    neutral = voice.CUES[CLASSES.index("Neutral")]
    assert np.array_equal(voice.cue_table(1.0), voice.CUES)
    assert np.allclose(voice.cue_table(0.0), np.tile(neutral, (len(CLASSES), 1)))
    assert np.allclose(voice.cue_table(2.5) - neutral, 2.5 * (voice.CUES - neutral))
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="cue contrast"):
            voice.cue_table(bad)

"""Audio file I/O (sertools.data.audio): probing, truncation, mono loading, the conversion cache."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from sertools.data import audio

SR = 16000


def _tone(seconds, sr=SR, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def test_probe_reports_facts_or_the_first_problem(tmp_path):
    sf.write(tmp_path / "ok.wav", _tone(1.0), SR, subtype="PCM_16")
    sf.write(tmp_path / "empty.wav", np.zeros(0), SR, subtype="PCM_16")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    data = (tmp_path / "ok.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    ok = audio.probe(tmp_path / "ok.wav")
    assert (ok.sample_rate, ok.channels, ok.frames, ok.subtype, ok.problem) == (SR, 1, SR, "PCM_16", None)
    assert ok.duration_s == 1.0
    assert audio.probe(tmp_path / "missing.wav").problem == "missing"
    assert audio.probe(tmp_path / "corrupt.wav").problem == "unreadable"
    assert audio.probe(tmp_path / "empty.wav").problem == "empty"
    cut = audio.probe(tmp_path / "cut.wav")
    declared, held = audio.wav_data_shortfall(tmp_path / "cut.wav")
    assert cut.problem == "truncated" and f"declares {declared} bytes, the file holds {held}" in cut.detail
    assert audio.wav_data_shortfall(tmp_path / "ok.wav") is None


def test_conversion_to_mono_16k_is_cached(tmp_path):
    src, cache = tmp_path / "stereo44k.wav", tmp_path / "cache" / "stereo44k.wav"
    sf.write(src, _tone(1.0, 44100, 2), 44100, subtype="PCM_16")
    assert audio.cached_frames(cache, SR) is None
    assert audio.mono_at(src, cache, SR) == SR
    info = sf.info(cache)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (SR, 1, SR, "FLOAT")
    y = audio.load_mono(cache, SR)
    assert np.corrcoef(y[100:-100], _tone(1.0)[100:-100])[0, 1] > 0.99  # same tone after resampling
    mtime = cache.stat().st_mtime_ns
    assert audio.mono_at(src, cache, SR) == SR and cache.stat().st_mtime_ns == mtime  # reused
    assert audio.cached_frames(cache, 8000) is None  # a copy at another rate is redone

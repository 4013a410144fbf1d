"""eGeMAPSv02 functionals (sertools.features.egemaps): shape, order, bitwise-equal parallel runs, errors."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import soundfile as sf

from sertools.data.errors import DataError
from sertools.features import egemaps

SR = 16000


def _signals(seed: int = 0) -> list[np.ndarray]:
    """Six 1-s clips that differ in pitch, harmonics, loudness and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    out = []
    for f0, amp in ((120.0, 0.3), (220.0, 0.2), (330.0, 0.4)):
        # a voiced-like tone: a few harmonics, a slow vibrato, a little noise
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))) / SR
        x = sum(np.sin(k * phase) / k for k in (1, 2, 3))
        out.append(amp * x / 1.8 + 0.005 * rng.standard_normal(SR))
    out.append(0.1 * rng.standard_normal(SR))  # white noise
    chirp = np.sin(2 * np.pi * (100 * t + 150 * t**2))  # 100 -> 400 Hz sweep
    out.append(0.25 * chirp * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)))
    out.append(0.02 * rng.standard_normal(SR))  # quiet noise
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("clips")
    paths = []
    for i, x in enumerate(_signals()):
        path = root / f"clip_{i}.wav"
        sf.write(path, x, SR, subtype="PCM_16")
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def rows(clips) -> np.ndarray:
    return egemaps.extract(clips, SR)


def test_one_finite_float32_row_of_88_per_file(clips, rows):
    assert (egemaps.FEATURE_SET, egemaps.DIM) == ("eGeMAPSv02", 88)
    assert rows.shape == (len(clips), 88)
    assert rows.dtype == np.float32
    assert np.isfinite(rows).all()
    names = egemaps.feature_names()
    assert len(names) == 88 == len(set(names))
    assert names[0].startswith("F0semitoneFrom27.5Hz")


def test_rows_follow_the_order_of_paths(clips, rows):
    perm = np.random.default_rng(1).permutation(len(clips))
    got = egemaps.extract([clips[i] for i in perm], SR)
    assert np.array_equal(got, rows[perm])


def test_different_signals_give_different_rows(rows):
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            assert not np.array_equal(rows[i], rows[j]), (i, j)


def test_two_workers_give_bitwise_the_same_rows(clips, rows):
    # chunk_size=2: three chunks over a pool of two worker processes
    got = egemaps.extract(clips, SR, workers=2, chunk_size=2)
    assert got.dtype == np.float32
    assert got.tobytes() == rows.tobytes()


def test_an_unreadable_file_is_named_also_from_a_worker(clips, tmp_path):
    bad = tmp_path / "not_audio.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    paths = [*clips[:3], str(bad), *clips[3:]]
    for workers in (1, 2):
        with pytest.raises(DataError, match=re.escape(str(bad))) as err:
            egemaps.extract(paths, SR, workers=workers, chunk_size=2)
        assert "\n" not in str(err.value)


def test_too_short_a_clip_is_refused_not_nan(tmp_path):
    short = tmp_path / "short.wav"
    sf.write(short, 0.1 * np.random.default_rng(2).standard_normal(SR // 50), SR, subtype="PCM_16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # openSMILE's own warning is replaced by the error
        with pytest.raises(
            DataError, match=rf"{re.escape(str(short))}: 88 of 88 eGeMAPS features are not finite"
        ):
            egemaps.extract([short], SR)


def test_float_audio_is_clipped_to_int16_range_and_nan_refused(tmp_path):
    x = _signals()[2]
    x = 1.5 * x / np.abs(x).max()  # peaks beyond full scale, as a float WAV can hold
    sf.write(tmp_path / "loud.wav", x, SR, subtype="FLOAT")
    sf.write(tmp_path / "clipped.wav", np.clip(x, -1.0, 32767 / 32768), SR, subtype="FLOAT")
    loud, clipped = egemaps.extract([tmp_path / "loud.wav", tmp_path / "clipped.wav"], SR)
    assert np.array_equal(loud, clipped)  # clipped, not wrapped around to the opposite sign
    x[100] = np.nan
    sf.write(tmp_path / "nan.wav", x, SR, subtype="FLOAT")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'nan.wav'}: audio has non-finite samples")):
        egemaps.extract([tmp_path / "nan.wav"], SR)


def test_no_paths_give_an_empty_array():
    got = egemaps.extract([], SR, workers=2)
    assert got.shape == (0, 88) and got.dtype == np.float32


def test_bad_arguments():
    with pytest.raises(ValueError, match="workers"):
        egemaps.extract(["x.wav"], SR, workers=0)
    with pytest.raises(ValueError, match="chunk_size"):
        egemaps.extract(["x.wav"], SR, workers=2, chunk_size=0)

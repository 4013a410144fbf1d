"""What `infer` reads: files, folders, lists; any rate, channels, length and format; bad files dropped and counted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import sertools
from sertools.classes import CLASSES, DIMENSIONS
from sertools.data.audio import load_mono
from sertools.inference import infer, inputs
from sertools.inference.predictor import chunk_bounds, pool_chunks

PROBS = [f"p_{c}" for c in CLASSES]
SR = 16000


def tone(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def test_bad_files_are_dropped_with_their_reason_and_the_rest_written(exported: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.wav"
    sf.write(good, tone(0.7), SR, subtype="FLOAT")
    (tmp_path / "text.wav").write_text("not audio")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), SR)
    sf.write(tmp_path / "short.wav", tone(0.005), SR)  # 80 samples: below the receptive field
    nan = tone(0.7)
    nan[100] = np.nan
    sf.write(tmp_path / "nan.wav", nan, SR, subtype="FLOAT")
    cut = (tmp_path / "good.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(cut[: len(cut) // 2])
    names = ["good.wav", "text.wav", "empty.wav", "short.wav", "nan.wav", "cut.wav", "gone.wav"]
    out = tmp_path / "p.csv"
    side = infer.run(exported, [str(tmp_path / n) for n in names], out, device="cpu", progress=False)
    reasons = {Path(d["path"]).name: d["reason"] for d in side["dropped"]}
    assert reasons == {
        "text.wav": "unreadable",
        "empty.wav": "empty",
        "short.wav": "too_short",
        "nan.wav": "not_finite",
        "cut.wav": "truncated",
        "gone.wav": "missing",
    }
    counts = side["counts"]
    assert counts["read"] == 7 and counts["kept"] == 1 and sum(counts["dropped"].values()) == 6
    assert pd.read_csv(out)["path"].tolist() == [str(good)]
    assert json.loads((tmp_path / "p.csv.json").read_text()) == side


def test_nothing_to_read_is_an_error(exported: Path, tmp_path: Path) -> None:
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(ValueError, match="no audio found"):
        infer.run(exported, [tmp_path / "empty_folder"], tmp_path / "p.csv", device="cpu", progress=False)


def test_folders_and_lists_expand_in_order(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/b.WAV", "d/a.flac", "d/sub/c.ogg", "d/notes.md"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "list.txt").write_text("# a comment\n\nd/sub/c.ogg\nd\nmissing.wav\n")
    files, dropped = inputs.expand([tmp_path / "list.txt"])
    d = tmp_path / "d"
    assert files == [str(d / "sub/c.ogg"), str(d / "a.flac"), str(d / "b.WAV"), str(d / "sub/c.ogg")]
    assert [(Path(x.path).name, x.reason) for x in dropped] == [("missing.wav", "missing")]


def test_rates_channels_and_formats(exported: Path, tmp_path: Path) -> None:
    """A stereo 44.1 kHz file is the mean of its channels resampled to 16 kHz (the manifest stage's
    conversion); FLAC and OGG read like WAV."""
    left, right = tone(0.8, 44100, 1), tone(0.8, 44100, 2)
    sf.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), 44100, subtype="FLOAT")
    mono16 = load_mono(tmp_path / "stereo.wav", SR)
    sf.write(tmp_path / "mono16.wav", mono16, SR, subtype="FLOAT")
    sf.write(tmp_path / "a.flac", tone(0.8, 22050, 3), 22050)
    sf.write(tmp_path / "a.ogg", tone(0.8, 48000, 4), 48000)
    model = sertools.load_model(exported, batching="single")
    table = model.predict_files([tmp_path]).table
    by_name = {Path(row["path"]).name: row for _, row in table.iterrows()}
    assert set(by_name) == {"stereo.wav", "mono16.wav", "a.flac", "a.ogg"}
    assert np.array_equal(by_name["stereo.wav"][PROBS].to_numpy(), by_name["mono16.wav"][PROBS].to_numpy())
    assert by_name["stereo.wav"]["duration_s"] == pytest.approx(0.8, abs=1e-3)
    for row in by_name.values():
        assert np.isfinite(row[PROBS].to_numpy(np.float64)).all()


def test_long_files_are_predicted_in_chunks(exported: Path, tmp_path: Path) -> None:
    """3.5 s with 1 s chunks: 4 equal chunks; the file's numbers are the chunks' length-weighted means,
    its variance that of the mixture."""
    wave = tone(3.5, seed=5)
    sf.write(tmp_path / "long.wav", wave, SR, subtype="FLOAT")
    model = sertools.load_model(exported, batching="single", max_chunk_seconds=1.0)
    row = model.predict_files([tmp_path / "long.wav"]).table.iloc[0]
    bounds = chunk_bounds(len(wave), SR)
    assert row["chunks"] == len(bounds) == 4
    parts = model.predict_waves([wave[a:b] for a, b in bounds], SR)
    w = np.array([b - a for a, b in bounds], dtype=np.float64) / len(wave)
    assert np.allclose(row[PROBS].to_numpy(np.float64), w @ parts[PROBS].to_numpy(np.float64), atol=1e-6)
    dims = parts[list(DIMENSIONS)].to_numpy(np.float64)
    assert np.allclose(row[list(DIMENSIONS)].to_numpy(np.float64), w @ dims, atol=1e-5)
    var = w @ (parts[[f"{d}_var" for d in DIMENSIONS]].to_numpy(np.float64) + dims**2) - (w @ dims) ** 2
    assert np.allclose(row[[f"{d}_var" for d in DIMENSIONS]].to_numpy(np.float64), var, rtol=1e-4)


def test_chunk_bounds_and_pooled_chunk_rows() -> None:
    assert chunk_bounds(10, 10) == [(0, 10)]
    assert chunk_bounds(25, 10) == [(0, 8), (8, 17), (17, 25)]
    rng = np.random.default_rng(0)
    frames = [rng.standard_normal((n, 2, 3)) for n in (5, 7)]  # [T, L, D] per chunk
    rows = np.stack([np.concatenate([f.mean(0), f.std(0)], axis=1) for f in frames])
    whole = np.concatenate(frames)
    got = pool_chunks(rows, np.array([5, 7]), std=True)
    assert np.allclose(got, np.concatenate([whole.mean(0), whole.std(0)], axis=1), atol=1e-6)
    assert np.allclose(pool_chunks(rows[:, :, :3], np.array([5, 7]), std=False), whole.mean(0), atol=1e-6)

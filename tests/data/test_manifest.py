"""The manifest stage (sertools.data.manifest): kept, converted, bad audio named and counted."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sertools.data import audio, manifest, manifest_table

SR = 16000


def _labels(*ids):
    return pd.DataFrame({"file_id": list(ids), "split": ["Train"] * len(ids)})


def _tone(seconds, sr=SR, channels=1):
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.fixture
def corpus(tmp_path):
    a = tmp_path / "corpus" / "Audios"
    a.mkdir(parents=True)
    sf.write(a / "ok.wav", _tone(1.0), SR, subtype="PCM_16")
    sf.write(a / "stereo44k.wav", _tone(1.0, 44100, 2), 44100, subtype="PCM_16")
    sf.write(a / "float.wav", _tone(1.0), SR, subtype="FLOAT")
    sf.write(a / "u8.wav", _tone(1.0), SR, subtype="PCM_U8")
    sf.write(a / "short.wav", _tone(0.1), SR, subtype="PCM_16")
    sf.write(a / "long.wav", _tone(3.0), SR, subtype="PCM_16")
    sf.write(a / "empty.wav", np.zeros(0), SR, subtype="PCM_16")
    (a / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    sf.write(a / "unlabelled.wav", _tone(1.0), SR, subtype="PCM_16")
    return tmp_path / "corpus"


CFG = {"sample_rate": SR, "min_duration_s": 0.5, "max_duration_s": 2.0, "drop_bad_audio": False}


def test_good_files_and_conversion(corpus, tmp_path):
    labels = _labels("ok.wav", "stereo44k.wav", "float.wav", "u8.wav", "long.wav")
    m, s = manifest.build_manifest(labels, corpus / "Audios", manifest=CFG, cache_dir=tmp_path / "cache")
    m = m.set_index("file_id")
    assert set(m.index) == {"ok.wav", "stereo44k.wav", "float.wav", "u8.wav"}
    assert s["utterances_dropped"] == {"too_long": 1}
    conv = m.loc["stereo44k.wav"]
    assert conv.converted and conv.source_sample_rate == 44100 and conv.source_channels == 2
    assert conv.frames == SR  # 1 s at 16 kHz
    info = sf.info(conv.path)
    assert (info.samplerate, info.channels, info.frames) == (SR, 1, SR)
    y = audio.load_mono(conv.path, SR)
    ref = _tone(1.0)
    assert np.corrcoef(y[100:-100], ref[100:-100])[0, 1] > 0.99  # same tone after resampling
    assert not m.loc["ok.wav"].converted and m.loc["ok.wav"].path.endswith("Audios/ok.wav")
    assert s["audio_without_labels"] == 4  # corrupt, empty, short, unlabelled
    # a second run reuses the cache (no rewrite)
    mtime = (tmp_path / "cache" / "stereo44k.wav").stat().st_mtime_ns
    manifest.build_manifest(labels, corpus / "Audios", manifest=CFG, cache_dir=tmp_path / "cache")
    assert (tmp_path / "cache" / "stereo44k.wav").stat().st_mtime_ns == mtime


def test_bad_audio_stops_with_names(corpus, tmp_path):
    labels = _labels("ok.wav", "missing.wav", "corrupt.wav", "empty.wav", "short.wav")
    with pytest.raises(manifest.AudioError) as e:
        manifest.build_manifest(labels, corpus / "Audios", manifest=CFG, cache_dir=tmp_path / "cache")
    msg = str(e.value)
    assert "4 labelled utterance(s) have unusable audio" in msg
    for name, reason in [
        ("missing", "missing"),
        ("corrupt", "unreadable"),
        ("empty", "empty"),
        ("short", "too_short"),
    ]:
        assert f"{name}.wav: {reason}" in msg
    assert "drop_bad_audio" in msg


def test_bad_audio_dropped_when_allowed(corpus, tmp_path):
    labels = _labels("ok.wav", "missing.wav", "corrupt.wav", "empty.wav", "short.wav")
    cfg = {**CFG, "drop_bad_audio": True}
    out, summ = tmp_path / "m.parquet", tmp_path / "s.json"
    labels.to_parquet(tmp_path / "labels.parquet")
    manifest.run(
        {"labels": tmp_path / "labels.parquet", "audio": corpus / "Audios"},
        {"manifest": out, "summary": summ},
        manifest=cfg,
        cache_dir=tmp_path / "cache",
    )
    s = json.loads(summ.read_text())
    assert s["utterances_read"] == 5 and s["utterances_kept"] == 1
    assert s["utterances_dropped"] == {"empty": 1, "missing": 1, "too_short": 1, "unreadable": 1}
    assert sorted(d["file_id"] for d in s["dropped_files"]) == [
        "corrupt.wav",
        "empty.wav",
        "missing.wav",
        "short.wav",
    ]
    assert list(manifest_table.read(out).file_id) == ["ok.wav"]


def test_everything_dropped_stops_naming_the_files(corpus, tmp_path):
    labels = _labels("missing.wav", "long.wav")
    labels.to_parquet(tmp_path / "labels.parquet")
    out = tmp_path / "m.parquet"
    inputs = {"labels": tmp_path / "labels.parquet", "audio": corpus / "Audios"}
    with pytest.raises(manifest.EmptySplitError) as e:
        manifest.run(
            inputs,
            {"manifest": out, "summary": tmp_path / "s.json"},
            manifest={**CFG, "drop_bad_audio": True},
        )
    msg = str(e.value)
    assert (
        "no utterance of Train is kept: all 2 labelled in" in msg and str(tmp_path / "labels.parquet") in msg
    )
    assert "missing: 1, too_long: 1" in msg
    assert f"{corpus / 'Audios' / 'missing.wav'}: missing" in msg and "long.wav: too_long" in msg
    assert not out.exists()


def test_a_split_that_loses_every_utterance_stops(corpus, tmp_path):
    labels = pd.DataFrame({"file_id": ["ok.wav", "long.wav"], "split": ["Train", "Test2"]})
    with pytest.raises(manifest.EmptySplitError, match=r"no utterance of Test2 is kept: all 1 labelled"):
        manifest.build_manifest(labels, corpus / "Audios", manifest=CFG, cache_dir=tmp_path / "cache")
    empty = pd.DataFrame({"file_id": pd.Series([], dtype=str), "split": pd.Series([], dtype=str)})
    with pytest.raises(manifest.EmptySplitError, match="holds no utterance"):
        manifest.build_manifest(empty, corpus / "Audios", manifest=CFG, cache_dir=tmp_path / "cache")

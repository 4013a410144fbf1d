"""The features artifact: round trip, precision, and the errors that name the file and key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sertools.features import store


def feats(n: int = 5, layers: int = 3, dim: int = 4, upstream: str = "wavlm") -> store.Features:
    rng = np.random.default_rng(0)
    return store.Features(
        file_ids=[f"u{i}.wav" for i in range(n)],
        values=rng.standard_normal((n, layers, dim)).astype(np.float32) * 10,
        frames=np.arange(1000, 1000 + n),
        upstream=upstream,
        settings={"std_pooling": False},
        layer_names=[f"l{i}" for i in range(layers)],
    )


@pytest.mark.parametrize("dtype,tol", [("float32", 0.0), ("float16", 1e-2)])
def test_round_trip(tmp_path: Path, dtype: str, tol: float) -> None:
    f = feats()
    store.write(tmp_path / "Train.safetensors", f, dtype)
    back = store.read(tmp_path / "Train.safetensors", "wavlm")
    assert back.file_ids == f.file_ids and back.values.dtype == np.float32
    assert np.allclose(back.values, f.values, rtol=tol, atol=tol)
    assert back.shape == (3, 4) and back.layer_names == f.layer_names and back.settings == f.settings
    assert np.array_equal(back.frames, f.frames)


def test_float16_halves_the_file(tmp_path: Path) -> None:
    f = feats(n=200, layers=4, dim=64)
    store.write(tmp_path / "a.safetensors", f, "float32")
    store.write(tmp_path / "b.safetensors", f, "float16")
    size32, size16 = (tmp_path / "a.safetensors").stat().st_size, (tmp_path / "b.safetensors").stat().st_size
    assert size16 < 0.6 * size32


def test_aligned_reorders_and_ignores_extra_rows(tmp_path: Path) -> None:
    f = feats()
    rows = store.aligned(f, ["u3.wav", "u1.wav"], [1003, 1001], "x")
    assert np.array_equal(rows, f.values[[3, 1]])


def test_missing_utterance_names_file_and_key() -> None:
    with pytest.raises(
        store.FeatureError, match=r"^feat.safetensors: key 'file_ids' lacks 1 .*u9.wav.*rerun"
    ):
        store.aligned(feats(), ["u1.wav", "u9.wav"], [1001, 5], "feat.safetensors")


def test_changed_audio_length_is_stale() -> None:
    with pytest.raises(
        store.FeatureError, match=r"key 'frames' of u2.wav is 1002 samples but the manifest says 7"
    ):
        store.aligned(feats(), ["u2.wav"], [7], "feat.safetensors")


def test_wrong_upstream_and_unknown_upstream(tmp_path: Path) -> None:
    store.write(tmp_path / "f.safetensors", feats(upstream="egemaps"))
    with pytest.raises(store.FeatureError, match=r"upstream .egemaps., but model\.upstream is .wavlm."):
        store.read(tmp_path / "f.safetensors", "wavlm")
    with pytest.raises(store.FeatureError, match="unknown upstream 'mfcc'"):
        store.write(tmp_path / "g.safetensors", feats(upstream="mfcc"))


def test_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(store.FeatureError, match="features file not found"):
        store.read(tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(store.FeatureError, match=r"junk\.safetensors: not a readable features file"):
        store.read(tmp_path / "junk.safetensors")


def test_input_names_round_trip(tmp_path: Path) -> None:
    inputs = {**store.input_paths(tmp_path, ["Train", "Test1"]), "labels": "l.parquet"}
    assert store.paths_from_inputs(inputs) == {
        "Train": str(tmp_path / "Train.safetensors"),
        "Test1": str(tmp_path / "Test1.safetensors"),
    }


def test_values_beyond_float16_are_refused(tmp_path: Path) -> None:
    f = feats()
    f.values[0, 0, 0] = 1e6
    with pytest.raises(store.FeatureError, match="exceed the float16 range"):
        store.write(tmp_path / "big.safetensors", f, "float16")
    store.write(tmp_path / "big.safetensors", f, "float32")  # float32 holds them

"""`sertools infer`: the run's own prediction dump reproduced from the audio, through every way in."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

import sertools
from sertools.classes import CLASSES, DIMENSIONS
from sertools.cli import main
from sertools.inference import infer
from sertools.inference.bundle import BundleError

PROBS = [f"p_{c}" for c in CLASSES]


def paths_of_test1(corpus: tuple[Path, Path]) -> list[str]:
    manifest = pd.read_parquet(corpus[1])
    return manifest.loc[manifest["split"] == "Test1", "path"].tolist()


def against_dump(table: pd.DataFrame, run: Path) -> tuple[float, float]:
    """Max |infer - dump| of the probabilities and of the A/V/D ratings, utterance by utterance."""
    dump = pd.read_parquet(run / "test1.parquet")
    ours = table.assign(file_id=table["path"].map(lambda p: Path(p).name)).set_index("file_id")
    ours = ours.loc[dump["file_id"]]
    dp = np.abs(ours[PROBS].to_numpy(np.float64) - np.stack(dump["probs"]).astype(np.float64)).max()
    dd = np.abs(
        ours[list(DIMENSIONS)].to_numpy(np.float64) - dump[list(DIMENSIONS)].to_numpy(np.float64)
    ).max()
    return float(dp), float(dd)


@pytest.mark.parametrize("source", ["run", "checkpoint", "export"])
def test_infer_gives_the_dump_of_the_same_checkpoint(
    source: str, trained: Path, exported: Path, corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    """The Test1 files (shuffled, as a list file) give the Test1 dump's numbers exactly: same batches
    (file order), so even the padding-dependent GroupNorm of the demo's model sees the same padding."""
    model = {"run": trained, "checkpoint": trained / "best.safetensors", "export": exported}[source]
    paths = paths_of_test1(corpus)
    listing = tmp_path / "test1.txt"
    listing.write_text("\n".join(reversed(paths)) + "\n")
    out = tmp_path / "pred.parquet"
    side = infer.run(model, [listing], out, device="cpu", progress=False)
    table = pd.read_parquet(out)
    assert table["path"].tolist() == list(reversed(paths))  # rows in input order
    assert against_dump(table, trained) == (0.0, 0.0)
    assert side["counts"] == {"read": len(paths), "kept": len(paths), "dropped": {}}
    assert table["pred"].tolist() == [CLASSES[i] for i in table[PROBS].to_numpy().argmax(axis=1)]
    assert np.allclose(table[PROBS].sum(axis=1), 1.0, atol=1e-5)
    assert (table[[f"{d}_var" for d in DIMENSIONS]] > 0).all().all()
    assert table["entropy"].between(0, 1).all() and (table["chunks"] == 1).all()


def test_file_alone_differs_for_padded_group_norm_and_single_batching_is_batch_free(
    trained: Path, corpus: tuple[Path, Path]
) -> None:
    """group_norm: padded makes an output depend on its batch-mates: `single` runs every file unpadded,
    so a file's row is the same alone or with the others (and not the dump's)."""
    paths = paths_of_test1(corpus)
    model = sertools.load_model(trained, batching="single")
    together = model.predict_files(paths).table
    alone = pd.concat([model.predict_files([p]).table for p in paths[:3]], ignore_index=True)
    assert np.array_equal(together[PROBS].to_numpy()[:3], alone[PROBS].to_numpy())
    dp, _ = against_dump(together, trained)
    assert 0 < dp < 0.2


def test_outputs_name_the_model_in_metadata_and_sidecar(
    exported: Path, corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "p.parquet"
    infer.run(exported, [str(corpus[1].parent / "audio")], out, device="cpu", progress=False)
    meta = json.loads(pq.read_schema(out).metadata[b"sertools_infer"])
    side = json.loads((tmp_path / "p.parquet.json").read_text())
    assert meta == side
    model = json.loads((exported / "model.json").read_text())
    assert side["model"]["checkpoint"]["sha256"] == model["checkpoint"]["sha256"]
    assert side["model"]["checkpoint"]["variant"] == "hard_cbce" and side["model"]["checkpoint"]["seed"] == 3
    assert side["counts"]["read"] == side["counts"]["kept"] == 42  # the whole audio folder
    assert side["columns"] == infer.columns(True)


def test_cli_infer_and_export(trained: Path, corpus: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    folder = tmp_path / "exported"
    assert main(["export", str(trained), str(folder)]) == 0
    assert main(["export", str(trained), str(folder)]) == 2  # not empty: refused
    assert "not empty" in capsys.readouterr().err
    out = tmp_path / "p.csv"
    paths = paths_of_test1(corpus)
    assert (
        main(["infer", str(folder), *paths, str(tmp_path / "nope.wav"), "--out", str(out), "--no-progress"])
        == 0
    )
    said = capsys.readouterr().out
    assert f"{len(paths)} of {len(paths) + 1} inputs (dropped: missing 1" in said
    table = pd.read_csv(out)
    assert list(table.columns) == infer.columns(True) and len(table) == len(paths)
    assert main(["infer", str(folder), *paths, "--out", str(tmp_path / "p.xlsx")]) == 2
    assert main(["infer", str(tmp_path / "no-model"), *paths, "--out", str(out)]) == 2


def test_loading_never_unpickles(exported: Path, corpus: tuple[Path, Path], monkeypatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("something was unpickled")

    for target, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(target, name, refuse)
    table = sertools.load_model(exported).predict_files(paths_of_test1(corpus)[:2]).table
    assert len(table) == 2


def test_a_changed_weight_file_is_refused(exported: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="SHA-256"):
        sertools.load_model(copy)


def test_predict_waves_resamples_and_matches_files(exported: Path, corpus: tuple[Path, Path]) -> None:
    import soundfile as sf

    model = sertools.load_model(exported, batching="single")
    path = paths_of_test1(corpus)[0]
    wave, sr = sf.read(path, dtype="float32")
    from_file = model.predict_files([path]).table
    from_wave = model.predict_waves([wave], sr)
    assert np.array_equal(from_file[PROBS].to_numpy(), from_wave[PROBS].to_numpy())
    with pytest.raises(ValueError, match="too_short"):
        model.predict_waves([np.zeros(10, np.float32)], sr)


def test_importing_sertools_stays_light() -> None:
    """`import sertools` imports neither torch nor transformers; load_model is there all the same."""
    code = (
        "import sys, sertools; light = ('torch' in sys.modules, 'transformers' in sys.modules); "
        "f = sertools.load_model; print(*light, callable(f), 'transformers' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # and the inference modules leave transformers to the model that needs it
    assert done.stdout.split() == ["False", "False", "True", "False"]

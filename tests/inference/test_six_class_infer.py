"""`export`, `infer` and `load_model` on a model of CREMA-D's 6 classes (no Other, no A/V/D): a frozen
eGeMAPS head trained on a CREMA-D-layout download (tests/cremad.py, tests/cremad_stages/stagefiles.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tinyrun import TINY_MODEL, TRAIN, run_and_predict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cremad_stages"))
from stagefiles import CremaDRun, build, extract_features

import sertools
from sertools import config
from sertools.classes import CLASSES, CREMA_D, DIMENSIONS
from sertools.cli import main
from sertools.inference import bundle, infer
from sertools.model.frozen import FeatureHeadModel
from sertools.splits import TEST1
from sertools.training.runtime import checkpoint

SIX = list(CREMA_D.names)
PROBS = [f"p_{c}" for c in SIX]
EGEMAPS = {"mode": "frozen", "upstream": "egemaps", "frozen": {"hidden": 16}}


def six_class_cfg() -> dict:
    return config.resolve(
        {
            "model": TINY_MODEL,
            "train": {
                **TRAIN,
                "max_epochs": 2,
                "batch_size": 16,
                "grad_accum": 1,
                "eval_batching": "file_order",
            },
            "variants": {"hard_ce": {"targets": "consensus", "loss": "ce", "model": EGEMAPS}},
            "evaluation": {"baseline_variant": "hard_ce"},
        }
    )


@pytest.fixture(scope="module")
def six_class_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[CremaDRun, Path]:
    """The label and manifest stages on a CREMA-D download, its eGeMAPS features, and a head trained on
    them in a workflow-like run directory with its Development and Test1 dumps."""
    root = tmp_path_factory.mktemp("six_class")
    stages = build(root)
    features = root / "results" / "features" / "egemaps"
    extract_features(stages.manifest, features)
    run = root / "results" / "train" / "hard_ce" / "seed3"
    run_and_predict(
        (stages.labels, stages.manifest), run, six_class_cfg(), variant="hard_ce", features_dir=features
    )
    return stages, run


def files_of_test1(stages: CremaDRun) -> list[str]:
    manifest = pd.read_parquet(stages.manifest)
    return manifest.loc[manifest["split"] == TEST1, "path"].tolist()


def test_export_and_infer_name_the_six_classes_and_give_the_dump(
    six_class_run: tuple[CremaDRun, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stages, run = six_class_run
    assert checkpoint.read_meta(run / "best.safetensors", kind="best")["classes"] == SIX
    folder = tmp_path / "model"
    assert main(["export", str(run), str(folder)]) == 0
    meta = json.loads((folder / "model.json").read_text())
    assert meta["classes"] == SIX and meta["dimensions"] == [] and meta["kind"] == "frozen_head"
    card = (folder / "README.md").read_text()
    assert "class probabilities over 6 emotions (no arousal, valence or dominance ratings)" in card
    assert "`p_<Class>` for Angry, Disgust, Fear, Happy, Neutral, Sad; `pred`; `entropy`; no arousal" in card

    paths = files_of_test1(stages)
    out = tmp_path / "p.parquet"
    side = infer.run(folder, paths, out, device="cpu", progress=False)
    table = pd.read_parquet(out)
    expected = ["path", *PROBS, "pred", "entropy", "duration_s", "chunks"]
    assert list(table.columns) == expected == infer.columns(False, SIX, ()) == side["columns"]
    probs = table[PROBS].to_numpy(np.float64)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert table["pred"].tolist() == [SIX[i] for i in probs.argmax(axis=1)]
    h = -(probs * np.log(np.clip(probs, 1e-30, None))).sum(axis=1) / np.log(6)
    np.testing.assert_allclose(table["entropy"].to_numpy(np.float64), h, atol=1e-6)
    # the run's own prediction path on the same audio: the Test1 dump, exactly (as for an MSP eGeMAPS head)
    dump = pd.read_parquet(run / "test1.parquet").set_index("file_id")
    ours = table.set_index(table["path"].map(lambda p: Path(p).stem)).loc[dump.index]  # file id: no .wav
    assert np.array_equal(ours[PROBS].to_numpy(np.float32), np.stack(dump["probs"]).astype(np.float32))

    # the run directory itself, from Python, and the command line's CSV give the same rows
    from_run = sertools.load_model(run).predict_files(paths).table
    pd.testing.assert_frame_equal(from_run, table)
    csv = tmp_path / "p.csv"
    assert main(["infer", str(folder), *paths[:2], "--out", str(csv), "--no-progress"]) == 0
    capsys.readouterr()
    assert list(pd.read_csv(csv).columns) == expected


def test_a_checkpoint_without_the_class_record_is_read_by_its_outputs(
    six_class_run: tuple[CremaDRun, Path], tmp_path: Path
) -> None:
    """A 6-class checkpoint written before training recorded ``classes`` is CREMA-D's (the one class set
    with 6 classes and no A/V/D); a record that contradicts the outputs is refused."""
    _, run = six_class_run
    ck = checkpoint.load(run / "best.safetensors", kind="best")
    old = tmp_path / "old" / "best.safetensors"
    old.parent.mkdir()
    checkpoint.save(old, ck.tensors, {k: v for k, v in ck.meta.items() if k != "classes"}, "best")
    assert bundle.load(old).meta["classes"] == SIX
    wrong = tmp_path / "wrong" / "best.safetensors"
    wrong.parent.mkdir()
    checkpoint.save(wrong, ck.tensors, {**ck.meta, "classes": list(CLASSES)}, "best")
    with pytest.raises(
        bundle.BundleError, match="predicts 6 classes and dimensions \\[\\], but its metadata"
    ):
        bundle.load(wrong)


@pytest.mark.parametrize(("k", "dimensions"), [(5, ()), (6, DIMENSIONS), (9, ())])
def test_a_model_of_no_known_class_set_is_refused_by_name(
    k: int, dimensions: tuple[str, ...], tmp_path: Path
) -> None:
    head = FeatureHeadModel("egemaps", 1, 88, hidden=8, num_classes=k, dimensions=dimensions)
    path = tmp_path / "best.safetensors"
    state = {f"model.{n}": t for n, t in head.state_dict().items()}
    checkpoint.save(path, state, {"architecture": head.architecture()}, "best")
    with pytest.raises(bundle.BundleError) as e:
        bundle.load(path)
    message = str(e.value)
    assert "\n" not in message and str(path) in message
    assert f"predicts {k} classes and dimensions {list(dimensions)}, which no known class set does" in message


def test_an_msp_checkpoint_records_no_class_names(trained: Path) -> None:
    """MSP-Podcast checkpoints are written as before (no ``classes`` record) and read as MSP-Podcast's."""
    assert "classes" not in checkpoint.read_meta(trained / "best.safetensors", kind="best")
    meta = bundle.load(trained).meta
    assert meta["classes"] == list(CLASSES) and meta["dimensions"] == list(DIMENSIONS)


def test_an_export_whose_classes_do_not_fit_its_model_is_refused(exported: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    meta = json.loads((copy / "model.json").read_text())
    (copy / "model.json").write_text(json.dumps({**meta, "classes": SIX}))
    with pytest.raises(bundle.BundleError, match="names 6 classes"):
        sertools.load_model(copy)

"""The training stage end to end on a tiny corpus: outputs, determinism, exact resume (also after
SIGKILL), when a checkpoint is not reused, and the prediction dumps of the trained model."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml
from tinyrun import (
    SEED,
    THREADS,
    TINY_MODEL,
    TRAIN,
    VARIANT,
    assert_same_predictions,
    make_cfg,
    make_corpus,
    run_and_predict,
)

from sertools import config
from sertools.evaluation import predict
from sertools.training import train
from sertools.training.runtime import checkpoint, provenance
from sertools.training.runtime.errors import TrainingError
from sertools.training.state import LogRow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def reference(
    corpus: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("ref") / "run"
    return out, run_and_predict(corpus, out, make_cfg())


def resume_state(out: Path) -> dict[str, Any]:
    """The run state stored in a run directory's resume checkpoint."""
    return checkpoint.read_meta(out / "resume" / "last.safetensors", "resume")["recoverables"]["state"]


def test_outputs(reference: tuple[Path, dict[str, Any]]) -> None:
    out, summary = reference
    for name in (
        "config.yaml",
        "env.json",
        "train_log.csv",
        "best.safetensors",
        "run.json",
        "resume/last.safetensors",
    ):
        assert (out / name).is_file(), name
    run = json.loads((out / "run.json").read_text())
    assert run == json.loads(json.dumps(summary))
    assert run["epochs_run"] == 3 and run["resumed_from_epoch"] is None and not run["stopped_early"]
    assert 1 <= run["best_epoch"] <= 3
    log = pd.read_csv(out / "train_log.csv")
    assert log["epoch"].tolist() == [1, 2, 3]
    assert list(log.columns) == [f.name for f in dataclasses.fields(LogRow)]
    assert log["is_full"].all() and (log["pool_size"] == run["n_train"]).all()
    assert np.isclose(log["val_loss"].iloc[run["best_epoch"] - 1], run["best_metric"])
    assert (log["nonfinite_batches"] == 0).all()
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["variant"]["name"] == VARIANT and cfg["seed"] == SEED and cfg["train"]["batch_size"] == 4
    assert "train" not in cfg["variant"]  # the variant's overrides are in cfg["train"]
    env = json.loads((out / "env.json").read_text())
    assert env["packages"]["torch"] and "commit" in env["git"]
    assert env["backbone"]["source"] == "tiny"
    meta = checkpoint.read_meta(out / "best.safetensors", kind="best")
    assert (
        meta["variant"] == VARIANT
        and meta["epoch"] == run["best_epoch"]
        and meta["config_hash"] == run["config_hash"]
    )
    names = checkpoint.load(out / "resume" / "last.safetensors").tensors.keys()
    prefixes = {name.split(".")[0] for name in names}
    assert prefixes >= {"model", "optim", "rng"}, prefixes


def test_prediction_files(
    reference: tuple[Path, dict[str, Any]], corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    out, _ = reference
    labels = pd.read_parquet(corpus[0])
    dev = pd.read_parquet(out / "dev.parquet")
    expected = sorted(labels.loc[labels["split"] == "Development", "file_id"])
    assert dev["file_id"].tolist() == expected
    probs = np.stack(dev["probs"])
    assert probs.dtype == np.float32 and probs.shape == (len(expected), 9)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(dev["pred"].to_numpy(), probs.argmax(axis=1))
    dims = dev[["arousal", "valence", "dominance"]].to_numpy()
    assert ((dims >= 1) & (dims <= 7)).all()
    # a split without utterances: an empty file with the same schema
    empty = tmp_path / "test2.parquet"
    predict.predict(out / "best.safetensors", *corpus, ["Test2"], [empty], make_cfg())
    t2 = pd.read_parquet(empty)
    assert len(t2) == 0 and list(t2.columns) == list(dev.columns)


def test_stage_entry_points_match_the_config_entry_points(
    reference: tuple[Path, dict[str, Any]], corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    """train.run / predict.run with the rules' named inputs, outputs and params: the same results."""
    cfg = make_cfg()
    out = tmp_path / "stage"
    files = {"best": out / "best.safetensors", "log_csv": out / "train_log.csv", "run": out / "run.json"}
    inputs = {"labels": corpus[0], "manifest": corpus[1]}
    summary = train.run(
        inputs,
        files,
        model=cfg["model"],
        train=config.variant_train(cfg, VARIANT),
        variant=cfg["variants"][VARIANT],
        variant_name=VARIANT,
        seed=SEED,
        threads=THREADS,
    )
    assert summary["config_hash"] == reference[1]["config_hash"]
    predict.run(
        {**inputs, "best": files["best"]},
        [out / "dev.parquet", out / "test1.parquet"],
        splits=["Development", "Test1"],
        train={k: cfg["train"][k] for k in config.PREDICT_TRAIN_KEYS},
    )
    assert_same_predictions(reference[0], out)


def test_same_seed_gives_identical_results(
    reference: tuple[Path, dict[str, Any]], corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    run_and_predict(corpus, tmp_path / "again", make_cfg())
    assert_same_predictions(reference[0], tmp_path / "again")


def test_interrupted_and_resumed_run_is_identical(
    reference: tuple[Path, dict[str, Any]], corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "resumed"
    first = run_and_predict(corpus, out, make_cfg(), stop_after_epochs=1)
    assert first["interrupted"] and not (out / "run.json").exists()
    # Snakemake deletes the outputs of a failed job: they must come back from the checkpoint
    (out / "best.safetensors").unlink()
    (out / "train_log.csv").unlink()
    summary = run_and_predict(corpus, out, make_cfg())
    assert summary["resumed_from_epoch"] == 1 and summary["epochs_run"] == 3
    assert_same_predictions(reference[0], out)


def test_finished_run_is_not_retrained(
    reference: tuple[Path, dict[str, Any]], corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference[0], out)
    summary = run_and_predict(corpus, out, make_cfg())
    assert summary["resumed_from_epoch"] == 3 and summary["epochs_run"] == 3
    assert_same_predictions(reference[0], out)


def test_config_change_starts_fresh(
    reference: tuple[Path, dict[str, Any]],
    corpus: tuple[Path, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = tmp_path / "changed"
    shutil.copytree(reference[0], out)
    with caplog.at_level(logging.WARNING, logger="sertools.training"):
        summary = train.from_config(*corpus, out, make_cfg(max_epochs=2), VARIANT, SEED, THREADS)
    assert "starting fresh" in caplog.text
    assert summary["resumed_from_epoch"] is None and summary["epochs_run"] == 2
    assert summary["config_hash"] != reference[1]["config_hash"]
    assert checkpoint.read_meta(out / "resume" / "last.safetensors")["config_hash"] == summary["config_hash"]


def test_code_change_starts_fresh(
    reference: tuple[Path, dict[str, Any]],
    corpus: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "newcode"
    shutil.copytree(reference[0], out)
    real = provenance.code_fingerprint
    monkeypatch.setattr(
        provenance, "code_fingerprint", lambda module: {**real(module), "sertools_code": "edited"}
    )
    summary = run_and_predict(corpus, out, make_cfg())
    assert summary["resumed_from_epoch"] is None and summary["config_hash"] != reference[1]["config_hash"]
    assert_same_predictions(reference[0], out, same_hash=False)  # same code in fact: same results


def test_corrupt_resume_checkpoint_starts_fresh(
    corpus: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "corrupt"
    (out / "resume").mkdir(parents=True)
    (out / "resume" / "last.safetensors").write_bytes(b"\x80\x04garbage")
    flags = (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads())
    with caplog.at_level(logging.WARNING, logger="sertools.training"):
        summary = train.from_config(*corpus, out, make_cfg(max_epochs=1), VARIANT, SEED, 1)
    assert "unusable" in caplog.text and summary["resumed_from_epoch"] is None
    assert (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()) == flags  # restored


def test_resume_checkpoint_that_does_not_fit_starts_fresh(
    reference: tuple[Path, dict[str, Any]],
    corpus: tuple[Path, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = tmp_path / "misfit"
    shutil.copytree(reference[0], out)
    last = out / "resume" / "last.safetensors"
    ck = checkpoint.load(last)
    tensors = {k: v for k, v in ck.tensors.items() if not k.startswith("model.cat_head")}
    checkpoint.save(last, tensors, ck.meta, "resume")  # same config hash, weights missing
    with caplog.at_level(logging.WARNING, logger="sertools.training"):
        summary = run_and_predict(corpus, out, make_cfg())
    assert "does not fit" in caplog.text and summary["resumed_from_epoch"] is None
    assert_same_predictions(reference[0], out)


_CHILD = """
import json, os, signal, sys
import safetensors.torch
from sertools.training import optimisation, train
from sertools.training.runtime import recoverables
args = json.loads(sys.argv[1])
point = args.pop("kill_at")
resume_writes, batches_after = 0, 0

def die():
    os.kill(os.getpid(), signal.SIGKILL)

real_objective, real_save, real_save_file = (
    optimisation.Objective.__call__, recoverables.Recoverables.save, safetensors.torch.save_file)

def objective(self, *a, **k):
    global batches_after
    if resume_writes:
        batches_after += 1
        if point == "mid_epoch" and batches_after == 3:
            die()
    return real_objective(self, *a, **k)

def save(self, path, meta):
    global resume_writes
    real_save(self, path, meta)
    resume_writes += 1
    if point == "between_epochs":
        die()

def save_file(tensors, filename, metadata=None):
    real_save_file(tensors, filename, metadata=metadata)
    if point == "checkpoint_write" and "last.safetensors" in filename and resume_writes == 1:
        with open(filename, "r+b") as fh:  # half-written temporary file, then the kill
            fh.truncate(os.path.getsize(filename) // 2)
        die()

optimisation.Objective.__call__ = objective
recoverables.Recoverables.save = save
safetensors.torch.save_file = save_file
train.from_config(**args)
"""


@pytest.mark.parametrize("kill_at", ["mid_epoch", "between_epochs", "checkpoint_write"])
def test_sigkill_and_rerun_is_identical(
    reference: tuple[Path, dict[str, Any]], corpus: tuple[Path, Path], tmp_path: Path, kill_at: str
) -> None:
    """SIGKILL in epoch 2, after epoch 1's checkpoint, or while epoch 2's is being written."""
    out = tmp_path / "killed"
    args = {
        "labels": str(corpus[0]),
        "manifest": str(corpus[1]),
        "out_dir": str(out),
        "cfg": make_cfg(),
        "variant": VARIANT,
        "seed": SEED,
        "threads": THREADS,
        "kill_at": kill_at,
    }
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert not (out / "run.json").exists()
    assert resume_state(out)["epochs_done"] == 1
    leftovers = list((out / "resume").glob(".*tmp*"))
    assert bool(leftovers) == (kill_at == "checkpoint_write")  # the torn write never replaced last
    summary = run_and_predict(corpus, out, make_cfg())
    assert summary["resumed_from_epoch"] == 1
    assert_same_predictions(reference[0], out)
    assert not list(out.rglob(".*tmp*"))


def test_missing_audio_is_counted(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    manifest = pd.read_parquet(corpus[1])
    dropped = manifest[manifest["split"] == "Train"].iloc[:2]
    manifest.drop(index=dropped.index).to_parquet(tmp_path / "manifest.parquet", index=False)
    summary = train.from_config(
        corpus[0],
        tmp_path / "manifest.parquet",
        tmp_path / "out",
        make_cfg(max_epochs=1),
        "dist_primary_kl",
        SEED,
        THREADS,
    )
    assert summary["labels_without_audio"] == {"Train": 2}


def test_bad_variant_and_empty_dev(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        train.from_config(*corpus, tmp_path / "x", make_cfg(), "nope", SEED, THREADS)
    manifest = pd.read_parquet(corpus[1])
    manifest[manifest["split"] != "Development"].to_parquet(tmp_path / "m.parquet", index=False)
    with pytest.raises(TrainingError, match="no Development"):
        train.from_config(
            corpus[0], tmp_path / "m.parquet", tmp_path / "y", make_cfg(), VARIANT, SEED, THREADS
        )


def test_train_stats_normalisation_is_stored(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    cfg = config.resolve(
        {"model": {**TINY_MODEL, "waveform_norm": "train_stats"}, "train": {**TRAIN, "max_epochs": 1}}
    )
    train.from_config(*corpus, tmp_path / "ts", cfg, VARIANT, SEED, THREADS)
    stats = checkpoint.read_meta(tmp_path / "ts" / "best.safetensors")["waveform_stats"]
    manifest = pd.read_parquet(corpus[1])
    train_audio = np.concatenate(
        [sf.read(p, dtype="float32")[0] for p in manifest.loc[manifest["split"] == "Train", "path"]]
    )
    assert stats["mean"] == pytest.approx(float(train_audio.mean()), abs=1e-6)
    assert stats["std"] == pytest.approx(float(train_audio.std()), rel=1e-5)
    model, _ = predict.load_model(tmp_path / "ts" / "best.safetensors")
    assert float(model.wave_std) == pytest.approx(stats["std"])

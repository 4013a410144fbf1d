"""Training loop, exact resume (also after SIGKILL) and prediction dumps on a tiny corpus."""

from __future__ import annotations

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

from sertools import config
from sertools.data import dataset as data
from sertools.evaluation import predict
from sertools.training import checkpoint
from sertools.training import loop as training

SR = 16000
CODES = "ASHUFDCNO"
VARIANT = "hard_cbce"
SEED = 3
THREADS = 2
TINY_MODEL = {
    "tiny": {
        "hidden_size": 16,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "conv_dim": [8, 8, 8, 8],
        "num_conv_pos_embedding_groups": 2,
        "num_buckets": 8,
        "max_bucket_distance": 16,
    },
    "head_hidden": 16,
    "head_dropout": 0.2,
}
TRAIN = {
    "batch_size": 4,
    "grad_accum": 2,
    "max_epochs": 3,
    "lr_backbone": 1e-4,
    "lr_heads": 2e-3,
    "max_train_duration_s": 0.6,
    "max_eval_batch_seconds": 4.0,
    "early_stopping_patience": 5,
}


def make_corpus(root: Path, n: int = 42, seed: int = 0) -> tuple[Path, Path]:
    """Label table + manifest + 0.5-0.9 s wavs: Train 2/3, Development 1/6, Test1 the rest, Test2 empty."""
    rng = np.random.default_rng(seed)
    n_train, n_dev = n * 2 // 3, n // 6
    splits = ["Train"] * n_train + ["Development"] * n_dev + ["Test1"] * (n - n_train - n_dev)
    labels, manifest = [], []
    (root / "audio").mkdir(parents=True, exist_ok=True)
    for i, split in enumerate(splits):
        file_id = f"utt_{i:04d}.wav"
        votes = rng.multinomial(6, rng.dirichlet(np.full(9, 0.6))).astype(float)
        top = np.flatnonzero(votes == votes.max())
        hard = int(top[0]) if len(top) == 1 else None
        p = votes / votes.sum()
        nz = p[p > 0]
        entropy = float(-(nz * np.log(nz)).sum() / np.log(9))
        frames = int(rng.uniform(0.5, 0.9) * SR)
        t = np.arange(frames) / SR
        tone = 150 + 40 * (hard if hard is not None else 4)
        wav = 0.3 * np.sin(2 * np.pi * tone * t) + 0.05 * rng.standard_normal(frames)
        path = root / "audio" / file_id
        sf.write(path, wav.astype(np.float32), SR, subtype="FLOAT")
        a, v, d = rng.uniform(1, 7, 3)
        labels.append(
            {
                "file_id": file_id,
                "split": split,
                "speaker": f"spk{i % 5}",
                "consensus": CODES[hard] if hard is not None else "X",
                "hard_label": hard,
                "votes_primary": votes.astype(int).tolist(),
                "votes_merged": votes.tolist(),
                "p_primary": p.tolist(),
                "p_merged": p.tolist(),
                "entropy_primary": entropy,
                "entropy_merged": entropy,
                "agreement": float(p.max()),
                "n_annotators": 6,
                "arousal": a,
                "valence": v,
                "dominance": d,
            }
        )
        manifest.append(
            {
                "file_id": file_id,
                "split": split,
                "path": str(path),
                "duration_s": frames / SR,
                "frames": frames,
                "sample_rate": SR,
            }
        )
    lab = pd.DataFrame(labels)
    lab["hard_label"] = lab["hard_label"].astype("Int64")
    lab.to_parquet(root / "labels.parquet", index=False)
    pd.DataFrame(manifest).to_parquet(root / "manifest.parquet", index=False)
    return root / "labels.parquet", root / "manifest.parquet"


def make_cfg(**train: Any) -> dict[str, Any]:
    return config.resolve({"model": TINY_MODEL, "train": {**TRAIN, **train}})


def run_and_predict(corpus: tuple[Path, Path], out: Path, cfg: dict[str, Any], **kw: Any) -> dict[str, Any]:
    labels, manifest = corpus
    summary = training.train(labels, manifest, out, cfg, kw.pop("variant", VARIANT), SEED, THREADS, **kw)
    if not summary.get("interrupted"):
        predict.predict(
            out / "best.safetensors",
            labels,
            manifest,
            ["Development", "Test1"],
            [out / "dev.parquet", out / "test1.parquet"],
            cfg,
        )
    return summary


def assert_same_predictions(a: Path, b: Path, same_hash: bool = True) -> None:
    for name in ("dev.parquet", "test1.parquet"):
        pa, pb = pd.read_parquet(a / name), pd.read_parquet(b / name)
        assert pa["file_id"].tolist() == pb["file_id"].tolist()
        assert np.array_equal(np.stack(pa["probs"]), np.stack(pb["probs"])), name
        assert np.array_equal(
            pa[["arousal", "valence", "dominance"]].to_numpy(),
            pb[["arousal", "valence", "dominance"]].to_numpy(),
        )
    wa = checkpoint.load(a / "best.safetensors")
    wb = checkpoint.load(b / "best.safetensors")
    if not same_hash:
        wa.meta.pop("config_hash"), wb.meta.pop("config_hash")
    assert wa.meta == wb.meta
    assert wa.tensors.keys() == wb.tensors.keys()
    assert all(torch.equal(wa.tensors[k], wb.tensors[k]) for k in wa.tensors)
    la, lb = pd.read_csv(a / "train_log.csv"), pd.read_csv(b / "train_log.csv")
    pd.testing.assert_frame_equal(la.drop(columns="seconds"), lb.drop(columns="seconds"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def reference(
    corpus: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("ref") / "run"
    return out, run_and_predict(corpus, out, make_cfg())


def test_outputs(reference: tuple[Path, dict[str, Any]], corpus: tuple[Path, Path]) -> None:
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
    assert set(training.LOG_COLUMNS) == set(log.columns)
    assert log["is_full"].all() and (log["pool_size"] == run["n_train"]).all()
    assert np.isclose(log["val_loss"].iloc[run["best_epoch"] - 1], run["best_metric"])
    assert (log["nonfinite_batches"] == 0).all()
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["variant"]["name"] == VARIANT and cfg["seed"] == SEED and cfg["train"]["batch_size"] == 4
    env = json.loads((out / "env.json").read_text())
    assert env["packages"]["torch"] and "commit" in env["git"]
    meta = checkpoint.read_meta(out / "best.safetensors", kind="best")
    assert (
        meta["variant"] == VARIANT
        and meta["epoch"] == run["best_epoch"]
        and meta["config_hash"] == run["config_hash"]
    )


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
        summary = training.train(*corpus, out, make_cfg(max_epochs=2), VARIANT, SEED, THREADS)
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
    real = training.code_fingerprint
    monkeypatch.setattr(training, "code_fingerprint", lambda: {**real(), "sertools_sha256": "edited"})
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
        summary = training.train(*corpus, out, make_cfg(max_epochs=1), VARIANT, SEED, 1)
    assert "unusable" in caplog.text and summary["resumed_from_epoch"] is None
    assert (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()) == flags  # restored


def test_curriculum_waits_before_newbob(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    cfg = make_cfg(max_epochs=3, newbob_threshold=1.0)  # threshold 1: NewBob anneals on every counted epoch
    summary = training.train(*corpus, tmp_path / "cur", cfg, "dist_primary_kl_curriculum", SEED, THREADS)
    log = pd.read_csv(tmp_path / "cur" / "train_log.csv")
    # a = 0.4, T = 3: full from epoch index ceil(1.2) = 2, i.e. the third epoch
    assert log["is_full"].tolist() == [False, False, True]
    assert (
        log["pool_size"].iloc[0] < log["pool_size"].iloc[1] < log["pool_size"].iloc[2] == summary["n_train"]
    )
    assert (
        log["lr_heads"].nunique() == 1
    )  # nothing annealed while waiting; the first full epoch never anneals
    last = checkpoint.read_meta(tmp_path / "cur" / "resume" / "last.safetensors")
    assert len(last["newbob"]["heads"]["metric_values"]) == 1


def test_nonfinite_batches_are_skipped_then_fatal(
    corpus: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = training.Objective.__call__
    calls = {"n": 0}

    def one_nan(self: training.Objective, *args: Any) -> torch.Tensor:
        calls["n"] += 1
        loss = real(self, *args)
        return loss * float("nan") if calls["n"] == 2 else loss

    monkeypatch.setattr(training.Objective, "__call__", one_nan)
    cfg = make_cfg(max_epochs=1, batch_size=1, grad_accum=1)  # >= 10 batches: 1 NaN is within 10 %
    training.train(*corpus, tmp_path / "one", cfg, "hard_ce", SEED, THREADS)
    log = pd.read_csv(tmp_path / "one" / "train_log.csv")
    assert log["nonfinite_batches"].tolist() == [1]
    n = int(log["batches"].iloc[0])
    assert n >= 10

    monkeypatch.setattr(training.Objective, "__call__", lambda self, *a: real(self, *a) * float("nan"))
    first_fatal = n // 10 + 1  # the first count above 10 %
    with pytest.raises(
        training.TrainingError,
        match=rf"epoch 1: {first_fatal} of {n} batches were non-finite \(latest: batch {first_fatal}, loss\)",
    ):
        training.train(*corpus, tmp_path / "all", cfg, "hard_ce", SEED, THREADS)


def test_missing_audio_is_counted(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    manifest = pd.read_parquet(corpus[1])
    dropped = manifest[manifest["split"] == "Train"].iloc[:2]
    manifest.drop(index=dropped.index).to_parquet(tmp_path / "manifest.parquet", index=False)
    summary = training.train(
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
        training.train(*corpus, tmp_path / "x", make_cfg(), "nope", SEED, THREADS)
    manifest = pd.read_parquet(corpus[1])
    manifest[manifest["split"] != "Development"].to_parquet(tmp_path / "m.parquet", index=False)
    with pytest.raises(training.TrainingError, match="no Development"):
        training.train(corpus[0], tmp_path / "m.parquet", tmp_path / "y", make_cfg(), VARIANT, SEED, THREADS)


_CHILD = """
import json, os, signal, sys
import safetensors.torch
from sertools.training import loop as training
args = json.loads(sys.argv[1])
point = args.pop("kill_at")
resume_writes, batches_after = 0, 0

def die():
    os.kill(os.getpid(), signal.SIGKILL)

real_objective, real_write_resume, real_save_file = (
    training.Objective.__call__, training._Trainer.write_resume, safetensors.torch.save_file)

def objective(self, *a):
    global batches_after
    if resume_writes:
        batches_after += 1
        if point == "mid_epoch" and batches_after == 3:
            die()
    return real_objective(self, *a)

def write_resume(self, state):
    global resume_writes
    real_write_resume(self, state)
    resume_writes += 1
    if point == "between_epochs":
        die()

def save_file(tensors, filename, metadata=None):
    real_save_file(tensors, filename, metadata=metadata)
    if point == "checkpoint_write" and "last.safetensors" in filename and resume_writes == 1:
        with open(filename, "r+b") as fh:  # half-written temporary file, then the kill
            fh.truncate(os.path.getsize(filename) // 2)
        die()

training.Objective.__call__ = objective
training._Trainer.write_resume = write_resume
safetensors.torch.save_file = save_file
training.train(**args)
"""


@pytest.mark.parametrize("kill_at", ["mid_epoch", "between_epochs", "checkpoint_write"])
def test_sigkill_and_rerun_is_identical(
    reference: tuple[Path, dict[str, Any]], corpus: tuple[Path, Path], tmp_path: Path, kill_at: str
) -> None:
    """SIGKILL in epoch 2, after epoch 1's checkpoint, or while epoch 2's is being written."""
    out = tmp_path / "killed"
    args = {
        "labels_path": str(corpus[0]),
        "manifest_path": str(corpus[1]),
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
    last = out / "resume" / "last.safetensors"
    assert checkpoint.read_meta(last, "resume")["state"]["epochs_done"] == 1
    leftovers = list((out / "resume").glob(".*tmp*"))
    assert bool(leftovers) == (kill_at == "checkpoint_write")  # the torn write never replaced last
    summary = run_and_predict(corpus, out, make_cfg())
    assert summary["resumed_from_epoch"] == 1
    assert_same_predictions(reference[0], out)
    assert not list(out.rglob(".*tmp*"))


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


def test_train_stats_normalisation_is_stored(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    cfg = config.resolve(
        {"model": {**TINY_MODEL, "waveform_norm": "train_stats"}, "train": {**TRAIN, "max_epochs": 1}}
    )
    training.train(*corpus, tmp_path / "ts", cfg, VARIANT, SEED, THREADS)
    stats = checkpoint.read_meta(tmp_path / "ts" / "best.safetensors")["waveform_stats"]
    manifest = pd.read_parquet(corpus[1])
    train_audio = np.concatenate(
        [sf.read(p, dtype="float32")[0] for p in manifest.loc[manifest["split"] == "Train", "path"]]
    )
    assert stats["mean"] == pytest.approx(float(train_audio.mean()), abs=1e-6)
    assert stats["std"] == pytest.approx(float(train_audio.std()), rel=1e-5)
    model, _ = predict.load_model(tmp_path / "ts" / "best.safetensors")
    assert float(model.wave_std) == pytest.approx(stats["std"])


def test_targets_per_variant(corpus: tuple[Path, Path]) -> None:
    table, report = data.load_table(*corpus)
    assert report["labels_without_audio"] == {} and table["file_id"].is_monotonic_increasing
    train = table[table["split"] == "Train"].reset_index(drop=True)
    is_x = (train["consensus"] == "X").to_numpy()
    assert is_x.any()
    hard = data.build_targets(train, {"targets": "consensus", "loss": "ce"})
    assert hard.is_index and len(hard.rows) == (~is_x).sum()
    assert np.array_equal(hard.cat, train["hard_label"].to_numpy()[hard.rows].astype(int))
    onehot = data.build_targets(train, {"targets": "consensus", "loss": "kl"})
    assert (
        not onehot.is_index
        and np.array_equal(onehot.cat.argmax(1), hard.cat)
        and np.all(onehot.cat.max(1) == 1)
    )
    dist = data.build_targets(train, {"targets": "primary", "loss": "kl"})
    assert len(dist.rows) == (~is_x).sum()
    with_x = data.build_targets(train, {"targets": "merged", "loss": "jsd", "include_no_agreement": True})
    assert len(with_x.rows) == len(train)
    assert np.allclose(with_x.cat.sum(1), 1) and np.array_equal(with_x.hard < 0, is_x)
    assert np.allclose(with_x.dims[:, 0], (train["arousal"].to_numpy() - 1) / 6)
    with pytest.raises(data.DataError, match="needs consensus targets"):
        data.build_targets(train, {"targets": "primary", "loss": "ce"})


def test_crops_are_reproducible_and_collate_pads() -> None:
    starts = [data.crop_start(1, 2, 3, 1000, 300) for _ in range(3)]
    assert len(set(starts)) == 1 and 0 <= starts[0] <= 700
    assert (
        data.crop_start(1, 3, 3, 1000, 300) != starts[0] or data.crop_start(1, 4, 3, 1000, 300) != starts[0]
    )
    assert data.crop_start(1, 2, 3, 200, 300) == 0
    batch = data.collate([(5, np.ones(3, np.float32)), (2, np.ones(6, np.float32))], min_length=8)
    assert batch.wave.shape == (2, 8) and batch.lengths.tolist() == [3, 6] and batch.index.tolist() == [5, 2]
    assert float(batch.wave[0, 3:].abs().sum()) == 0.0

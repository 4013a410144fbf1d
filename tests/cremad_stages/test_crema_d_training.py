"""Targets, class weights, curricula, the model's heads, training and prediction dumps on a 6-class
corpus without A/V/D (CREMA-D): a frozen eGeMAPS head and a tiny fine-tuned model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from stagefiles import CremaDRun
from tinyrun import TINY_MODEL, TRAIN, run_and_predict

from sertools import config
from sertools.classes import CREMA_D
from sertools.data import join, targets
from sertools.evaluation import predict, predictions
from sertools.labels import crema_d_table
from sertools.model import factory
from sertools.training.optimisation import Objective, make_objective
from sertools.training.runtime import checkpoint
from sertools.training.runtime.job import Job, make_job

EGEMAPS = {"mode": "frozen", "upstream": "egemaps", "frozen": {"hidden": 16}}
VARIANTS: dict[str, dict[str, Any]] = {
    "hard_ce": {"targets": "consensus", "loss": "ce", "model": EGEMAPS},
    "hard_cbce": {"targets": "consensus", "loss": "cbce", "model": EGEMAPS},
    "primary_kl_filter": {
        "targets": "primary",
        "loss": "kl",
        "model": EGEMAPS,
        "entropy_curriculum": {"mode": "filter", "ramp_epochs": 2},
    },
    "tiny_kl": {"targets": "primary", "loss": "kl"},
}


def make_cfg() -> dict[str, Any]:
    return config.resolve(
        {
            "model": TINY_MODEL,
            "train": {**TRAIN, "max_epochs": 2, "batch_size": 16, "grad_accum": 1},
            "variants": VARIANTS,
            "evaluation": {"baseline_variant": "hard_ce"},
        }
    )


def _job(cfg: dict[str, Any], name: str, run: CremaDRun) -> Job:
    return make_job(
        config.variant_model(cfg, name),
        config.variant_train(cfg, name),
        cfg["variants"][name],
        name,
        0,
        run.labels,
        run.manifest,
    )


def test_targets_have_six_classes_and_no_dimensions(cremad_run: CremaDRun) -> None:
    joined = join.load_joined(cremad_run.labels, cremad_run.manifest)
    assert joined.classes is CREMA_D
    cfg = make_cfg()
    train = joined.table[joined.table["split"] == "Train"]
    dist = targets.build_targets(train, cfg["variants"]["primary_kl_filter"], classes=CREMA_D)
    hard = targets.build_targets(train, cfg["variants"]["hard_ce"], classes=CREMA_D)
    own = crema_d_table.read(cremad_run.labels).set_index("file_id")
    assert dist.cat.shape == (len(dist.rows), 6) and dist.dims.shape == (len(dist.rows), 0)
    np.testing.assert_allclose(
        dist.cat, np.stack(own.loc[train["file_id"].iloc[dist.rows], "p_votes"]), atol=1e-6
    )
    assert hard.cat.dtype == np.int64 and hard.cat.max() < 6
    assert (hard.cat == own.loc[train["file_id"].iloc[hard.rows], "hard_label"].to_numpy()).all()


def test_class_weights_count_six_classes(cremad_run: CremaDRun) -> None:
    joined = join.load_joined(cremad_run.labels, cremad_run.manifest)
    cfg = make_cfg()
    train = joined.table[joined.table["split"] == "Train"]
    t = targets.build_targets(train, cfg["variants"]["hard_cbce"], classes=CREMA_D)
    job = _job(cfg, "hard_cbce", cremad_run)
    objective = make_objective(job, t, CREMA_D)
    assert objective.class_weight is not None and objective.class_weight.shape == (6,)
    counts = np.bincount(t.cat, minlength=6)
    # the rarer a class in Train, the larger its weight
    order = np.argsort(counts)
    assert objective.class_weight[order[0]] >= objective.class_weight[order[-1]]
    release = _job(
        config.resolve({**cfg, "train": {**cfg["train"], "class_counts": "release"}}), "hard_cbce", cremad_run
    )
    with pytest.raises(ValueError, match="class_counts: train"):
        make_objective(release, t, CREMA_D)


def test_no_dimensional_loss_without_dimensions() -> None:
    objective = Objective("kl", "ccc", 1.0)
    logits = torch.zeros(4, 6, requires_grad=True)
    target = torch.full((4, 6), 1 / 6)
    loss = objective(logits, torch.zeros(4, 0), target, torch.zeros(4, 0))
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-6)


def test_models_without_a_dimensional_head() -> None:
    cfg = make_cfg()
    head = factory.build(config.variant_model(cfg, "hard_ce"), (1, 88), CREMA_D)
    out = head(torch.randn(3, 88))
    assert out.logits.shape == (3, 6) and out.dims.shape == (3, 0) and out.dims_logvar is None
    assert not any(name.startswith("dim_head") for name, _ in head.named_parameters())
    rebuilt = factory.from_architecture(head.architecture())
    assert rebuilt.num_classes == 6 and rebuilt.dimensions == ()
    tiny = factory.build(config.variant_model(cfg, "tiny_kl"), None, CREMA_D)
    out = tiny(torch.randn(2, 8000))
    assert out.logits.shape == (2, 6) and out.dims.shape == (2, 0)
    arch = tiny.architecture()
    assert arch["num_classes"] == 6 and arch["dimensions"] == []


@pytest.mark.parametrize("variant", ["hard_cbce", "primary_kl_filter"])
def test_a_frozen_egemaps_head_trains_and_predicts(
    cremad_run: CremaDRun, features: Path, tmp_path: Path, variant: str
) -> None:
    cfg = make_cfg()
    out = tmp_path / variant
    summary = run_and_predict(
        (cremad_run.labels, cremad_run.manifest), out, cfg, variant=variant, features_dir=features
    )
    assert summary["epochs_run"] == 2
    log = pd.read_csv(out / "train_log.csv")
    assert log["train_loss"].notna().all() and log["val_macro_f1"].between(0, 1).all()
    meta = checkpoint.read_meta(out / "best.safetensors", kind="best")
    assert meta["architecture"]["num_classes"] == 6 and meta["architecture"]["dimensions"] == []
    assert meta["classes"] == list(CREMA_D.names)  # inference names the outputs by this record
    labels = crema_d_table.read(cremad_run.labels)
    for name, split in (("dev.parquet", "Development"), ("test1.parquet", "Test1")):
        dump = predictions.read(out / name)
        assert dump.columns.tolist() == ["file_id", "split", "probs", "pred"]
        assert sorted(dump["file_id"]) == sorted(labels.loc[labels["split"] == split, "file_id"])
        probs = np.stack(dump["probs"])
        assert probs.shape[1] == 6 and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        assert (dump["pred"].to_numpy() == probs.argmax(axis=1)).all()
    assert json.loads((out / "run.json").read_text())["model"].startswith("frozen eGeMAPS")


def test_a_tiny_fine_tuned_model_trains_and_predicts(cremad_run: CremaDRun, tmp_path: Path) -> None:
    cfg = make_cfg()
    run_and_predict((cremad_run.labels, cremad_run.manifest), tmp_path, cfg, variant="tiny_kl")
    model, _ = predict.load_model(tmp_path / "best.safetensors")
    assert model.num_classes == 6 and model.dim_head is None
    dump = predictions.read(tmp_path / "test1.parquet")
    assert np.stack(dump["probs"]).shape[1] == 6 and "arousal" not in dump.columns

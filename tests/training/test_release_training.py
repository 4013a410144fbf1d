"""The paper release's training end to end on the tiny corpus: TC-GRU head, gradual unfreezing,
whole utterances, the release's losses, the in-batch entropy curriculum, KLD selection, resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from tinyrun import SEED, THREADS, TINY_MODEL, TRAIN, assert_same_predictions, make_corpus, run_and_predict

from sertools import config
from sertools.model.network import build_model
from sertools.training import loop, train
from sertools.training.runtime import checkpoint
from sertools.training.runtime.seeding import reseed

RELEASE_MODEL = {
    **TINY_MODEL,
    "tiny": {**TINY_MODEL["tiny"], "num_hidden_layers": 3},
    "head": "tc_gru",
    "layer_aggregation": "last",
    "dim_scale": "neg1_1",
    "tc_gru": {"hidden": 12, "head_hidden": 12},
}
RELEASE_TRAIN = {
    **TRAIN,
    "max_epochs": 3,
    "max_train_duration_s": None,
    "grad_clip": None,
    "unfreeze": [{"epoch": 1, "layers": 1}, {"epoch": 2, "layers": 2, "lr_factor": 0.5}],
    "selection_metric": "val_kld",
    "early_stopping_min_delta": 0.001,
    "dim_loss": "gaussian_nll_ccc",
    "dim_weight": 0.3,
    "kl_target_floor": 1e-8,
    "cbce_beta": 0.9999,
    "cbce_reduction": "mean",
}
VARIANTS = {
    "mh_filter": {
        "targets": "primary",
        "loss": "kl",
        "hard_labels": "guarded_argmax",
        "entropy_curriculum": {
            "mode": "filter",
            "warmup_epochs": 1,
            "ramp_epochs": 2,
            "start_threshold": 0.3,
        },
        "train": {"kl_class_weighting": "inverse_frequency"},
    },
    "h_cb": {
        "targets": "consensus",
        "loss": "cbce",
        "hard_labels": "consensus",
        "train": {"selection_metric": "one_minus_macro_f1"},
    },
}


def release_cfg() -> dict[str, Any]:
    return config.resolve(
        {
            "model": RELEASE_MODEL,
            "train": RELEASE_TRAIN,
            "variants": VARIANTS,
            "evaluation": {"baseline_variant": "h_cb"},
        }
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    labels, manifest = make_corpus(tmp_path_factory.mktemp("corpus"))
    # primary-vote distributions double as the guarded-argmax labels of this fabricated corpus
    lab = pd.read_parquet(labels)
    lab["hard_guarded_primary"] = [int(np.argmax(p)) for p in lab["p_primary"]]
    lab.to_parquet(labels, index=False)
    return labels, manifest


@pytest.fixture(scope="module")
def reference(corpus: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release") / "ref"
    run_and_predict(corpus, out, release_cfg(), variant="mh_filter")
    return out


def test_unfreezing_schedule_and_learning_rates_in_the_log(reference: Path) -> None:
    log = pd.read_csv(reference / "train_log.csv")
    assert log["trainable_layers"].tolist() == [1, 2, 2]
    base = RELEASE_TRAIN["lr_backbone"]
    # the factor 0.5 applies in epoch 2 only (NewBob with the default threshold may also anneal)
    assert log["lr_backbone"].iloc[0] == pytest.approx(base)
    assert log["lr_backbone"].iloc[1] <= 0.5 * base + 1e-12 < log["lr_backbone"].iloc[2]
    assert np.isfinite(log["val_kld"]).all()
    best = checkpoint.read_meta(reference / "best.safetensors")
    assert best["selection_metric"] == "val_kld"
    assert best["metric_value"] == pytest.approx(log["val_kld"].min())
    assert best["architecture"]["head"] == "tc_gru" and best["architecture"]["dim_scale"] == "neg1_1"


def test_frozen_parts_never_change(corpus: tuple[Path, Path], reference: Path) -> None:
    """The CNN, the feature projection and the bottom layer keep their initial weights (seeded init)."""
    reseed(SEED)
    init = build_model(release_cfg()["model"]).state_dict()
    best = {
        k.removeprefix("model."): v
        for k, v in checkpoint.load(reference / "best.safetensors").tensors.items()
    }
    never = ("feature_extractor", "feature_projection", "pos_conv", "encoder.layer_norm", "encoder.layers.0.")
    frozen = [k for k in init if any(part in k for part in never)]
    assert frozen and all(torch.equal(init[k], best[k]) for k in frozen)
    top = [k for k in init if "encoder.layers.2." in k]
    assert top and any(not torch.equal(init[k], best[k]) for k in top)


def test_whole_utterances_predictions_on_the_rating_scale(reference: Path) -> None:
    pred = pd.read_parquet(reference / "test1.parquet")
    dims = pred[["arousal", "valence", "dominance"]].to_numpy()
    assert ((dims >= 1.0) & (dims <= 7.0)).all()


def test_release_run_resumes_identically(corpus: tuple[Path, Path], reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    assert run_and_predict(corpus, out, release_cfg(), variant="mh_filter", stop_after_epochs=2)[
        "interrupted"
    ]
    run_and_predict(corpus, out, release_cfg(), variant="mh_filter")
    assert_same_predictions(reference, out)


def test_sample_weights_reach_the_loss(
    corpus: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Epoch 1 is warm-up (no weights); from epoch 2 the filter leaves high-entropy samples out."""
    seen: list[tuple[int, list[float]]] = []
    real = loop.batch_loss

    def spy(setup: loop.Setup, batch: Any, epoch: int) -> torch.Tensor:
        h = torch.from_numpy(setup.data.train_entropy[batch.index.numpy()])
        seen.append((epoch, setup.sample_weighting.weights(h, epoch + 1).tolist()))
        return real(setup, batch, epoch)

    monkeypatch.setattr(loop, "batch_loss", spy)
    cfg = release_cfg()
    cfg["train"]["max_epochs"] = 2
    train.from_config(*corpus, tmp_path / "cur", cfg, "mh_filter", SEED, THREADS)
    first = [w for e, ws in seen if e == 0 for w in ws]
    second = [w for e, ws in seen if e == 1 for w in ws]
    assert first and all(w == 1.0 for w in first)
    assert 0.0 in second  # threshold 0.3: some samples are filtered out


def test_hard_row_selects_on_macro_f1_with_release_cbce(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    cfg = release_cfg()
    cfg["variants"]["h_cb"]["train"]["max_epochs"] = 2
    summary = train.from_config(*corpus, tmp_path / "hcb", cfg, "h_cb", SEED, THREADS)
    log = pd.read_csv(tmp_path / "hcb" / "train_log.csv")
    assert summary["selection_metric"] == "one_minus_macro_f1"
    assert summary["best_metric"] == pytest.approx((1.0 - log["val_macro_f1"]).min())

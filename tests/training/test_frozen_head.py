"""Head-only training on cached frozen-upstream features: same variants, checkpoints, resume and dumps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from tinyrun import TINY_MODEL, TRAIN, assert_same_predictions, make_corpus, run_and_predict

from sertools import config
from sertools.evaluation import predict, predictions
from sertools.features import extract, store
from sertools.model.frozen import FeatureHeadModel
from sertools.training.runtime import checkpoint

SPLITS = ("Train", "Development", "Test1")
VARIANTS = {
    "head_kl": {
        "targets": "primary",
        "loss": "kl",
        "model": {"mode": "frozen", "upstream": "wavlm", "frozen": {"hidden": 16}},
        "entropy_curriculum": {"mode": "weight", "ramp_epochs": 2},
    },
    "head_ce": {"targets": "consensus", "loss": "cbce", "model": {"mode": "frozen", "upstream": "wavlm"}},
}


def make_cfg(**train_kw: Any) -> dict[str, Any]:
    return config.resolve(
        {
            "model": TINY_MODEL,
            "train": {**TRAIN, **train_kw},
            "variants": VARIANTS,
            "evaluation": {"baseline_variant": "head_ce"},
        }
    )


def write_features(manifest: Path, out: Path, cfg: dict[str, Any], **settings: Any) -> Path:
    for split in SPLITS:
        extract.run(
            {"manifest": manifest},
            {"features": out / f"{split}.safetensors", "summary": out / f"{split}.json"},
            upstream="wavlm",
            split=split,
            settings={**cfg["features"]["wavlm"], **settings},
            model=cfg["model"],
        )
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("frozen")
    labels, manifest = make_corpus(root / "corpus")
    return labels, manifest, write_features(manifest, root / "features", make_cfg())


def run(setup: tuple[Path, Path, Path], out: Path, variant: str = "head_kl", **kw: Any) -> dict[str, Any]:
    labels, manifest, feats = setup
    cfg = kw.pop("cfg", None) or make_cfg()
    return run_and_predict((labels, manifest), out, cfg, variant=variant, features_dir=feats, **kw)


@pytest.fixture(scope="module")
def reference(setup: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("head_ref")
    run(setup, out)
    return out


def test_features_stage_accounts_for_every_row(setup: tuple[Path, Path, Path]) -> None:
    _, manifest, feats = setup
    m = pd.read_parquet(manifest)
    for split in SPLITS:
        summary = json.loads((feats / f"{split}.json").read_text())
        assert summary["rows_read"] == summary["rows_written"] == int((m["split"] == split).sum())
        assert store.read(feats / f"{split}.safetensors").file_ids == sorted(
            m.loc[m["split"] == split, "file_id"]
        )


def test_head_run_writes_the_usual_outputs(reference: Path, setup: tuple[Path, Path, Path]) -> None:
    summary = json.loads((reference / "run.json").read_text())
    assert summary["model"] == "frozen wavlm (tiny)" and summary["epochs_run"] == TRAIN["max_epochs"]
    log = pd.read_csv(reference / "train_log.csv")
    assert len(log) == TRAIN["max_epochs"] and log["train_loss"].notna().all()
    meta = checkpoint.read_meta(reference / "best.safetensors", kind="best")
    assert meta["architecture"]["kind"] == "frozen_head" and meta["architecture"]["hidden"] == 16
    model, _ = predict.load_model(reference / "best.safetensors")
    assert isinstance(model, FeatureHeadModel) and model.layers == 3
    manifest = pd.read_parquet(setup[1])
    for name, split in (("dev.parquet", "Development"), ("test1.parquet", "Test1")):
        table = pd.read_parquet(reference / name)
        assert table.columns.tolist() == [f.name for f in predictions.SCHEMA]
        assert len(table) == int((manifest["split"] == split).sum())
        assert np.allclose(np.stack(table["probs"]).sum(axis=1), 1.0, atol=1e-5)


def test_only_the_head_trains_and_the_layer_weights_move(reference: Path) -> None:
    ck = checkpoint.load(reference / "best.safetensors", kind="best")
    weights = ck.tensors["model.layer_weights"]
    assert weights.shape == (3,) and not torch.equal(weights, torch.zeros(3))
    assert not any(k.startswith("model.backbone") for k in ck.tensors)


def test_same_seed_identical_and_resume_identical(
    reference: Path, setup: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    run(setup, tmp_path / "again")
    assert_same_predictions(reference, tmp_path / "again")
    out = tmp_path / "resumed"
    first = run(setup, out, stop_after_epochs=1)
    assert first["interrupted"]
    (out / "best.safetensors").unlink()
    summary = run(setup, out)
    assert summary["resumed_from_epoch"] == 1
    assert_same_predictions(reference, out)


def test_hard_row_on_features(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    summary = run(setup, tmp_path / "ce", variant="head_ce")
    assert summary["selection_metric"] == "val_loss" and summary["n_train"] > 0


def test_changed_features_change_the_config_hash(
    reference: Path, setup: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    labels, manifest, _ = setup
    other = write_features(manifest, tmp_path / "f2", make_cfg(), seed=5)
    summary = run((labels, manifest, other), tmp_path / "other")
    assert summary["config_hash"] != json.loads((reference / "run.json").read_text())["config_hash"]


def test_features_that_do_not_fit_the_head_stop_with_file_and_key(
    reference: Path, setup: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    labels, manifest, _ = setup
    wide = write_features(manifest, tmp_path / "wide", make_cfg(), std_pooling=True)
    with pytest.raises(
        store.FeatureError, match=r"Development.safetensors: key 'features' has rows of \[3, 32\]"
    ):
        predict.predict(
            reference / "best.safetensors",
            labels,
            manifest,
            ["Development"],
            [tmp_path / "d.parquet"],
            make_cfg(),
            features_dir=wide,
        )


def test_feature_head_standardises_egemaps_only() -> None:
    rows = np.random.default_rng(0).normal(50.0, 7.0, size=(40, 1, 5)).astype(np.float32)
    for upstream, standardised in (("egemaps", True), ("wavlm", False)):
        torch.manual_seed(0)
        model = FeatureHeadModel(upstream, 1, 5, hidden=8)
        model.set_feature_stats(rows)
        assert model.standardise is standardised
        assert torch.allclose(model.feat_mean, torch.from_numpy(rows.mean(axis=0)), atol=1e-4)
        out = model.eval()(torch.from_numpy(rows.reshape(40, -1)))
        assert out.logits.shape == (40, 9) and out.dims.shape == (40, 3) and out.dims_logvar.shape == (40, 3)
    with pytest.raises(ValueError, match=r"do not fit the head's \[1, 5\]"):
        model(torch.zeros(2, 6))


def test_frozen_variant_with_unfreeze_is_refused() -> None:
    variants = {"v": {"targets": "primary", "loss": "kl", "model": {"mode": "frozen", "upstream": "egemaps"}}}
    with pytest.raises(config.ConfigError, match=r"variants.v.train.unfreeze"):
        config.resolve(
            {
                "variants": variants,
                "train": {"unfreeze": [{"epoch": 1, "layers": 2}]},
                "evaluation": {"baseline_variant": "v"},
            }
        )
    variants["v"]["model"]["backbone"] = "other"
    variants["v"]["model"]["upstream"] = "wavlm"
    with pytest.raises(config.ConfigError, match=r"variants.v.model.backbone'"):
        config.resolve({"variants": variants, "evaluation": {"baseline_variant": "v"}})

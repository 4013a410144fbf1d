"""config/paper.yaml through the path its training runs: the release's class weights in H CB's objective,
the X utterances in every distributional row's Train data, and a model whose outputs depend on its
batch-mates (the release's padded GroupNorm) next to ours, whose outputs do not.

The corpus is the synthetic one, built by the label and manifest stages with paper.yaml's own label
settings; the model is paper.yaml's with the tiny random-init backbone in place of WavLM-Base.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from tinyrun import TINY_MODEL

from sertools import config
from sertools.classes import CLASSES, NO_AGREEMENT
from sertools.corpus.synthetic.generate import generate
from sertools.data import manifest
from sertools.labels import build
from sertools.model.network import build_model
from sertools.training import data as training_data
from sertools.training.optimisation import make_objective
from sertools.training.runtime.job import Job, make_job

ROOT = Path(__file__).resolve().parents[2]
#: the release's CBCE weights (effective number, beta 0.9999, mean 1) from its hard-coded counts
RELEASE_CBCE = {
    "Neutral": 0.346, "Happy": 0.347, "Angry": 0.374, "Sad": 0.364, "Fear": 3.019,
    "Disgust": 1.839, "Contempt": 0.986, "Surprise": 0.623, "Other": 1.102,
}  # fmt: skip
#: the release's WKLD weights ((1/n) / mean, clamped to [0.25, 5]) from its hard-coded counts
RELEASE_WKLD = {
    "Neutral": 0.25, "Happy": 0.25, "Angry": 0.25, "Sad": 0.25, "Fear": 3.275,
    "Disgust": 2.093, "Contempt": 0.984, "Surprise": 0.823, "Other": 1.388,
}  # fmt: skip


def paper_cfg(**model: Any) -> dict[str, Any]:
    """config/paper.yaml resolved, with the tiny backbone in place of WavLM-Base (and ``model``
    overrides), on the CPU (paper.yaml itself asks for CUDA)."""
    user = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    user["corpus"]["root"] = "/not/read/here"
    user["train"]["device"] = "cpu"
    user["model"].update(backbone="tiny", tiny=TINY_MODEL["tiny"], tc_gru={"hidden": 12, "head_hidden": 12})
    user["model"].update(model)
    return config.resolve(user)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Label table and manifest of a small synthetic corpus, made with paper.yaml's label settings."""
    root = tmp_path_factory.mktemp("paper")
    generate(root / "corpus", 160, 5, min_duration_s=0.6, max_duration_s=0.8)
    cfg = paper_cfg()
    out = {"table": root / "labels.parquet", "summary": root / "labels.json"}
    labels_dir = root / "corpus" / "Labels"
    build.run(
        {"consensus": labels_dir / "labels_consensus.csv", "detailed": labels_dir / "labels.txt"},
        out,
        labels=cfg["labels"],
        evaluation_splits=cfg["evaluation"]["splits"],
    )
    manifest.run(
        {"labels": out["table"], "audio": root / "corpus" / "Audios"},
        {"manifest": root / "manifest.parquet", "summary": root / "manifest.json"},
        manifest=cfg["manifest"],
    )
    return out["table"], root / "manifest.parquet"


def _job(cfg: dict[str, Any], name: str, corpus: tuple[Path, Path]) -> Job:
    variant = cfg["variants"][name]
    return make_job(
        config.variant_model(cfg, name), config.variant_train(cfg, name), variant, name, 0, *corpus
    )


def test_h_cb_objective_uses_the_release_weights(corpus: tuple[Path, Path]) -> None:
    cfg = paper_cfg()
    job = _job(cfg, "h_cb", corpus)
    data = training_data.load_training_data(*corpus, job, torch.device("cpu"))
    objective = make_objective(job, data.train_targets)
    assert objective.kind == "cbce" and objective.cbce_reduction == "mean"
    got = dict(zip(CLASSES, objective.class_weight.tolist(), strict=True))
    assert got == pytest.approx(RELEASE_CBCE, abs=6e-4)
    for name in ("mh_wkld", "ml_wkld"):
        job = _job(cfg, name, corpus)
        data = training_data.load_training_data(*corpus, job, torch.device("cpu"))
        got = dict(zip(CLASSES, make_objective(job, data.train_targets).class_weight.tolist(), strict=True))
        assert got == pytest.approx(RELEASE_WKLD, abs=6e-4), name
    # our own choice, the counts of the labels trained on, gives other weights
    job = _job(cfg, "h_cb", corpus)
    ours = dataclasses.replace(job, train={**job.train, "class_counts": "train"})
    data = training_data.load_training_data(*corpus, ours, torch.device("cpu"))
    assert not np.allclose(
        make_objective(ours, data.train_targets).class_weight.numpy(), list(RELEASE_CBCE.values())
    )


def test_every_distributional_row_trains_and_validates_on_its_x_utterances(corpus: tuple[Path, Path]) -> None:
    cfg = paper_cfg()
    labels = pd.read_parquet(corpus[0])
    have_audio = set(pd.read_parquet(corpus[1])["file_id"])
    x_train = {
        f
        for f, s, c in zip(labels["file_id"], labels["split"], labels["consensus"], strict=True)
        if s == "Train" and c == NO_AGREEMENT and f in have_audio
    }
    assert x_train, "the corpus must have X utterances in Train"
    distributional = [n for n, v in cfg["variants"].items() if v["targets"] != "consensus"]
    assert len(distributional) == 16  # 8 fine-tuned and 8 frozen rows
    for name in distributional:
        if config.variant_model(cfg, name)["mode"] == "frozen":
            assert cfg["variants"][name]["include_no_agreement"], name
            continue  # same targets as the fine-tuned row; its data needs the features files
        data = training_data.load_training_data(*corpus, _job(cfg, name, corpus), torch.device("cpu"))
        assert x_train <= set(data.train_rows["file_id"]), name
        dev = data.dev_table.iloc[data.dev_targets.rows]
        assert (dev["consensus"] == NO_AGREEMENT).any(), name
        assert (data.train_targets.hard >= 0).all(), name  # X gets its guarded-argmax label


def test_hard_rows_train_on_x_as_other(corpus: tuple[Path, Path]) -> None:
    cfg = paper_cfg()
    data = training_data.load_training_data(*corpus, _job(cfg, "h_ce", corpus), torch.device("cpu"))
    rows = data.train_rows.reset_index(drop=True)
    is_x = (rows["consensus"] == NO_AGREEMENT).to_numpy()
    assert is_x.any() and (data.train_targets.cat[is_x] == CLASSES.index("Other")).all()


def _first_row(model: torch.nn.Module, waves: list[torch.Tensor]) -> torch.Tensor:
    lengths = torch.tensor([len(w) for w in waves])
    batch = torch.zeros(len(waves), int(lengths.max()))
    for i, w in enumerate(waves):
        batch[i, : len(w)] = w
    with torch.no_grad():
        return model(batch, lengths).logits[0]


@pytest.mark.parametrize(("group_norm", "depends"), [("padded", True), ("valid_frames", False)])
def test_padded_group_norm_makes_outputs_depend_on_batch_mates(group_norm: str, depends: bool) -> None:
    cfg = paper_cfg(group_norm=group_norm)
    assert (cfg["model"]["group_norm"] == "padded") == (group_norm == "padded")
    torch.manual_seed(0)
    model = build_model(cfg["model"]).eval()
    assert model.architecture()["group_norm"] == group_norm
    rng = torch.Generator().manual_seed(1)
    wave = torch.randn(9600, generator=rng)
    alone = _first_row(model, [wave])
    with_longer = _first_row(model, [wave, torch.randn(16000, generator=rng)])
    differs = not torch.allclose(alone, with_longer, atol=1e-5)
    assert differs == depends


def test_layerdrop_null_keeps_the_backbone_value() -> None:
    assert paper_cfg()["model"]["layerdrop"] is None
    assert build_model(paper_cfg()["model"]).backbone.config.layerdrop == pytest.approx(0.1)
    assert build_model(paper_cfg(layerdrop=0.0)["model"]).backbone.config.layerdrop == 0.0


def test_an_unknown_group_norm_is_refused_by_the_schema_and_the_model() -> None:
    with pytest.raises(config.ConfigError, match=r"model\.group_norm"):
        paper_cfg(group_norm="stock")
    from sertools.model.backbone import make_backbone
    from sertools.model.network import SERModel

    with pytest.raises(ValueError, match="group_norm"):
        SERModel(make_backbone(config.resolve({})["model"]), group_norm="stock")

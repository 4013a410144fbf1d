"""A tiny corpus and a tiny model trained on it the way the demo trains (shared by the inference tests).

The model is the demo's kind at test scale: the paper release's TC-GRU and Gaussian
heads on the last layer of a tiny random-init WavLM, ``group_norm: padded`` (outputs
depend on the batch-mates) and ``eval_batching: file_order``, so matching its
prediction dumps needs the run's own batches.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from tinyrun import TINY_MODEL, TRAIN, make_corpus, run_and_predict

from sertools import config
from sertools.inference import export

DEMO_LIKE = {
    **TINY_MODEL,
    "head": "tc_gru",
    "layer_aggregation": "last",
    "group_norm": "padded",
    "tc_gru": {"hidden": 16, "head_hidden": 16, "dropout": 0.0, "head_dropout": 0.0},
    "dim_scale": "neg1_1",
}


def demo_like_cfg(**train: Any) -> dict[str, Any]:
    return config.resolve(
        {"model": DEMO_LIKE, "train": {**TRAIN, "max_epochs": 1, "eval_batching": "file_order", **train}}
    )


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_corpus(tmp_path_factory.mktemp("infer_corpus"))


@pytest.fixture(scope="session")
def trained(corpus: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory laid out as the workflow's (results/train/<variant>/seed<N>) with its dumps."""
    out = tmp_path_factory.mktemp("infer_results") / "results" / "train" / "hard_cbce" / "seed3"
    run_and_predict(corpus, out, demo_like_cfg())
    return out


@pytest.fixture(scope="session")
def exported(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("infer_export") / "model"
    export.export(trained, out)
    return out

"""A 6-class corpus through the stages after labels: one CREMA-D-layout download, its label table
and its manifest (stagefiles.py), built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from stagefiles import CremaDRun, build, extract_features
from test_crema_d_training import make_cfg
from tinyrun import run_and_predict


@pytest.fixture(scope="session")
def cremad_run(tmp_path_factory: pytest.TempPathFactory) -> CremaDRun:
    return build(tmp_path_factory.mktemp("cremad_stages"))


@pytest.fixture(scope="session")
def features(cremad_run: CremaDRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The download's eGeMAPS features of Train, Development and Test1 (default settings), extracted once."""
    return extract_features(cremad_run.manifest, tmp_path_factory.mktemp("cremad_features"))


@pytest.fixture(scope="session")
def dumps(cremad_run: CremaDRun, features: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Test1 prediction dumps of two trained frozen eGeMAPS heads (hard CE and primary KLD), trained once."""
    root = tmp_path_factory.mktemp("cremad_heads")
    cfg = make_cfg()
    out = {}
    for variant in ("hard_ce", "primary_kl_filter"):
        run_and_predict(
            (cremad_run.labels, cremad_run.manifest),
            root / variant,
            cfg,
            variant=variant,
            features_dir=features,
        )
        out[variant] = root / variant / "test1.parquet"
    return out

"""A 6-class corpus through the stages after labels: one CREMA-D-layout download, its label table
and its manifest (stagefiles.py), built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from stagefiles import CremaDRun, build

from sertools import config
from sertools.features import extract
from sertools.splits import DEVELOPMENT, TEST1, TRAIN


@pytest.fixture(scope="session")
def cremad_run(tmp_path_factory: pytest.TempPathFactory) -> CremaDRun:
    return build(tmp_path_factory.mktemp("cremad_stages"))


@pytest.fixture(scope="session")
def features(cremad_run: CremaDRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The download's eGeMAPS features of Train, Development and Test1 (default settings), extracted once."""
    out = tmp_path_factory.mktemp("cremad_features")
    settings = config.resolve({})["features"]["egemaps"]
    for split in (TRAIN, DEVELOPMENT, TEST1):
        extract.run(
            {"manifest": cremad_run.manifest},
            {"features": out / f"{split}.safetensors", "summary": out / f"{split}.json"},
            upstream="egemaps",
            split=split,
            settings=settings,
        )
    return out

"""A 6-class corpus through the stages after labels: one CREMA-D-layout download, its label table
and its manifest (stagefiles.py), built once per test session."""

from __future__ import annotations

import pytest
from stagefiles import CremaDRun, build


@pytest.fixture(scope="session")
def cremad_run(tmp_path_factory: pytest.TempPathFactory) -> CremaDRun:
    return build(tmp_path_factory.mktemp("cremad_stages"))

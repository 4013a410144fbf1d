"""The two dependency lists (pip and conda) must agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch", "pysoundfile": "soundfile"}


def _split(spec: str) -> tuple[str, str]:
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec.strip())
    assert m, spec
    return m.group(1).lower(), m.group(2).replace(" ", "")


def _normalise(version: str) -> str:
    # conda "=2.11" means 2.11.* (pip "==2.11.*")
    if re.fullmatch(r"=[0-9.]+", version):
        return f"=={version[1:]}.*"
    return version


def test_environment_yml_matches_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pip = dict(_split(d) for d in deps)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    for d in env["dependencies"]:
        if not isinstance(d, str) or d.startswith(("python", "pip")):
            continue
        name, ver = _split(d)
        conda[CONDA_NAMES.get(name, name)] = _normalise(ver)
    assert conda == pip


def test_torch_and_torchaudio_versions_match():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(_split(d) for d in deps)
    assert pins["torch"] == pins["torchaudio"]


def test_workflow_schema_is_the_package_schema():
    a = (ROOT / "workflow/schemas/config.schema.yaml").read_text()
    b = (ROOT / "src/sertools/data/config.schema.yaml").read_text()
    assert a == b

"""The install is what uv.lock says, and every dependency list agrees with it."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

_spec = importlib.util.spec_from_file_location("pin_environment", ROOT / "tools/pin_environment.py")
pin_environment = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pin_environment)


def _locked() -> dict[str, str]:
    return pin_environment.locked_versions(ROOT / "uv.lock")


def _project_entry() -> dict:
    return next(p for p in LOCK["package"] if p["name"] == "sertools")


def test_every_locked_package_is_installed_at_its_locked_version():
    """What this interpreter imports is exactly what CI tested (not what a specifier allows)."""
    wrong = {}
    for name, version in _locked().items():
        try:
            installed = md.version(name)
        except md.PackageNotFoundError:
            installed = "missing"
        # local build tags (torch 2.11.0+cu130) are part of the same release
        if installed.split("+")[0] != version:
            wrong[name] = (version, installed)
    assert not wrong, f"locked vs installed: {wrong}"


def test_torch_and_torchaudio_are_one_release():
    locked = _locked()
    assert locked["torch"] == locked["torchaudio"]
    deps = {Requirement(d).name: Requirement(d) for d in PYPROJECT["project"]["dependencies"]}
    assert str(deps["torch"].specifier) == f"=={locked['torch']}"
    assert str(deps["torchaudio"].specifier) == f"=={locked['torch']}"
    import torch
    import torchaudio

    assert torch.__version__.split("+")[0] == torchaudio.__version__.split("+")[0] == locked["torch"]


def _requirements(specs) -> set[tuple[str, str, str]]:
    out = set()
    for spec in specs:
        req = Requirement(spec) if isinstance(spec, str) else spec
        out.add((canonicalize_name(req.name), str(req.specifier), str(req.marker or "")))
    return out


def test_lock_was_regenerated_after_pyproject_changed():
    """uv.lock records the requirements it was resolved for; they must be pyproject.toml's."""
    project = PYPROJECT["project"]
    ours = list(project["dependencies"])
    for extra, specs in project.get("optional-dependencies", {}).items():
        ours += [f"{s}; extra == '{extra}'" if ";" not in s else s for s in specs]
    recorded = []
    for r in _project_entry()["metadata"]["requires-dist"]:
        text = r["name"] + r.get("specifier", "")
        if "marker" in r:
            text += f"; {r['marker']}"
        recorded.append(text)
    assert _requirements(ours) == _requirements(recorded), "pyproject.toml changed: run `make lock`"


def test_lock_is_for_this_platform():
    assert LOCK["requires-python"] == PYPROJECT["project"]["requires-python"]
    assert sys.version_info[:2] == (3, 11)


def test_environment_yml_pins_the_locked_versions():
    text = (ROOT / "environment.yml").read_text()
    assert pin_environment.pinned(text, _locked()) == text, "run `make lock` (tools/pin_environment.py)"
    # and it lists every runtime dependency
    import yaml

    listed = {
        pin_environment.CONDA_NAMES.get(d.split("=")[0], d.split("=")[0])
        for d in yaml.safe_load(text)["dependencies"]
        if isinstance(d, str)
    }
    runtime = {canonicalize_name(Requirement(d).name) for d in PYPROJECT["project"]["dependencies"]}
    assert runtime <= listed


def test_pinned_rewrites_a_stale_pin():
    text = "dependencies:\n  - python=3.11\n  - pytorch==2.10.0\n  - numpy\n  - pip:\n      - -e .\n"
    got = pin_environment.pinned(text, {"torch": "2.11.0", "numpy": "2.4.6"})
    assert (
        got
        == "dependencies:\n  - python=3.11\n  - pytorch==2.11.0\n  - numpy==2.4.6\n  - pip:\n      - -e .\n"
    )
    with pytest.raises(SystemExit, match=r"not in uv\.lock"):
        pin_environment.pinned("dependencies:\n  - nosuchpkg\n", {})


def test_envcheck_names_the_package_that_fails(monkeypatch):
    from sertools import envcheck

    def broken() -> str:
        raise OSError("libtorchaudio.so: undefined symbol: torch_exception_get_what_without_backtrace")

    monkeypatch.setattr(envcheck, "CHECKS", [("torchaudio", broken), ("numpy", envcheck._plain("numpy"))])
    assert envcheck.failures() == [
        "torchaudio: OSError: libtorchaudio.so: undefined symbol: torch_exception_get_what_without_backtrace"
    ]
    assert envcheck.main() == 1


def test_envcheck_passes_on_this_install():
    from sertools import envcheck

    assert envcheck.failures() == []


def test_workflow_schema_is_the_package_schema():
    a = (ROOT / "workflow/schemas/config.schema.yaml").read_text()
    b = (ROOT / "src/sertools/config.schema.yaml").read_text()
    assert a == b

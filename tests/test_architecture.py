"""The package tree is the architecture: imports flow one way, every rule has a stage module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sertools import architecture, deps

ROOT = Path(__file__).resolve().parents[1]
MODULES = architecture.all_modules()
#: modules that must never import torch (numpy-only label and metric code)
NO_TORCH = ("sertools.labels", "sertools.corpus", "sertools.measures", "sertools.report")


def test_every_module_has_a_layer():
    for module in MODULES:
        if module != deps.PACKAGE:
            architecture.layer_of(module)


@pytest.mark.parametrize("module", [m for m in MODULES if m != deps.PACKAGE])
def test_imports_flow_down_the_layers(module):
    """A lower stage never imports a higher one (corpus < labels < data < model < training < ...)."""
    mine = architecture.layer_of(module)
    upward = sorted(m for m in deps.direct_imports(module) if architecture.layer_of(m) > mine)
    assert not upward, f"{module} (layer {mine}) imports higher layers: {upward}"


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith(NO_TORCH)])
def test_label_and_metric_code_never_imports_torch(module):
    source = deps.module_path(module).read_text()
    assert not re.search(r"^\s*(import torch|from torch)", source, re.M), module
    # nor through a sertools module it imports
    for dep in deps.closure(module):
        text = deps.module_path(dep).read_text()
        assert not re.search(r"^\s*(import torch|from torch)", text, re.M), f"{module} -> {dep}"


def test_every_rule_has_a_stage_module_with_run():
    rules = set()
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        rules |= set(re.findall(r"^rule (\w+):", smk.read_text(), re.M))
        rules |= set(re.findall(r"^use rule \w+ as (\w+) with:", smk.read_text(), re.M))
    assert rules == set(architecture.STAGES)
    for rule, module in architecture.STAGES.items():
        source = deps.module_path(module).read_text()
        assert re.search(r"^def run\(", source, re.M), f"rule {rule}: {module} has no run()"


def test_stage_modules_are_named_after_their_rules():
    """rule manifest -> sertools.data.manifest; rule metrics -> sertools.evaluation.metrics; ..."""
    for rule, module in architecture.STAGES.items():
        parts = module.split(".")
        # a rule reusing another's stage (use rule ... as ..._head / ..._gpu) is named after it
        rule = rule.removesuffix("_head").removesuffix("_gpu")
        # rule study_fit -> sertools.study.fit; the study's copies of a stage (study_labels, ...)
        # run that stage on the study's paths
        rule = rule.removeprefix("study_")
        stem = {
            "synth_corpus": "synthetic",
            "corpus": "synthetic",
            "votes": "synthetic",
            "corpus_labels": "labels",
            "train": "training",
        }.get(rule, rule)
        assert stem in parts, f"rule {rule} runs {module}"


def test_dependencies_follow_added_imports(tmp_path, monkeypatch):
    """A new import in a stage module adds the imported file to the rule's inputs."""
    pkg = tmp_path / "sertools"
    (pkg / "stage").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "stage" / "__init__.py").write_text("")
    (pkg / "helper.py").write_text("X = 1\n")
    (pkg / "other.py").write_text("from sertools import helper\n")
    (pkg / "stage" / "run.py").write_text("from sertools.other import thing\n")
    monkeypatch.setattr(deps, "ROOT", pkg)
    deps.direct_imports.cache_clear()
    try:
        got = [p.relative_to(pkg).as_posix() for p in deps.files("sertools.stage.run")]
        assert got == ["helper.py", "other.py", "stage/run.py"]
        (pkg / "stage" / "run.py").write_text("from sertools.other import thing\nfrom . import sibling\n")
        (pkg / "stage" / "sibling.py").write_text("")
        deps.direct_imports.cache_clear()
        got = [p.relative_to(pkg).as_posix() for p in deps.files("sertools.stage.run")]
        assert got == ["helper.py", "other.py", "stage/run.py", "stage/sibling.py"]
    finally:
        deps.direct_imports.cache_clear()


def test_readme_package_map_is_current():
    text = (ROOT / "README.md").read_text()
    begin, end = architecture.MAP_BEGIN, architecture.MAP_END
    assert begin in text and end in text
    block = text.split(begin, 1)[1].split(end, 1)[0].strip()
    assert block == architecture.render_map().strip(), "README package map is stale: run `make readme`"


def test_code_fingerprint_ignores_docstrings_comments_and_layout(tmp_path, monkeypatch):
    """The fingerprint a rule reruns on changes with what the code does, not with how it reads."""
    pkg = tmp_path / "sertools"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text('"""Helper."""\n\nSCALE = 2\n')
    stage = pkg / "stage.py"
    monkeypatch.setattr(deps, "ROOT", pkg)
    deps.direct_imports.cache_clear()

    def fingerprint(source: str) -> str:
        stage.write_text(source)
        deps.direct_imports.cache_clear()
        return deps.code_fingerprint("sertools.stage")

    try:
        base = fingerprint(
            '"""A stage."""\nfrom sertools import helper\n\n\ndef run(x):\n    """Scale."""\n    return x * helper.SCALE\n'
        )
        same = [
            # another docstring, a comment, an attribute doc, another layout and quotes
            '"""A stage, documented at length."""\nfrom sertools import helper\n\n\n'
            "def run(x):  # scale x\n    return (\n        x\n        * helper.SCALE\n    )\n",
            "from sertools import helper\n\n\ndef run(x):\n    '''Only a docstring.'''\n    return x * helper.SCALE\n",
        ]
        for source in same:
            assert fingerprint(source) == base, source
        changed = [
            # a new assignment is code, even next to an attribute doc
            'from sertools import helper\nDOC = 1\n"""Attribute doc."""\n\n\ndef run(x):\n    return x * helper.SCALE\n',
            "from sertools import helper\n\n\ndef run(x):\n    return x * helper.SCALE + 0\n",
            "from sertools import helper\n\n\ndef run(y):\n    return y * helper.SCALE\n",
        ]
        for source in changed:
            assert fingerprint(source) != base, source
        fingerprint(same[0])
        (pkg / "helper.py").write_text("SCALE = 3\n")  # an imported module's code counts too
        assert deps.code_fingerprint("sertools.stage") != base
        (pkg / "helper.py").write_text("# two\nSCALE = 2\n")
        assert deps.code_fingerprint("sertools.stage") == base
        # paths are relative to the package: a moved package has the same fingerprint
        moved = tmp_path / "elsewhere" / "sertools"
        moved.parent.mkdir()
        pkg.rename(moved)
        monkeypatch.setattr(deps, "ROOT", moved)
        deps.direct_imports.cache_clear()
        assert deps.code_fingerprint("sertools.stage") == base
    finally:
        deps.direct_imports.cache_clear()


def test_architecture_tables_are_not_in_any_stage_fingerprint():
    """Adding a rule or a layer (sertools.architecture) never reruns a stage."""
    for module in set(architecture.STAGES.values()):
        assert "sertools.architecture" not in deps.closure(module), module

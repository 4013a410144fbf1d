"""The package's architecture: the stage module behind each workflow rule, and the layers.

Kept apart from :mod:`sertools.deps` (the import graph and code fingerprints that
stages use) so that editing this table, e.g. adding a rule, never changes a stage's
code fingerprint. ``python -m sertools.architecture --write README.md`` rewrites the
README's package map.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sertools.deps import PACKAGE, ROOT, files, module_path

#: Workflow rule -> the stage module whose ``run`` it calls (workflow/rules/*.smk
#: take their library inputs from here through ``lib(rule)``).
STAGES: dict[str, str] = {
    "synth_corpus": "sertools.corpus.synthetic.generate",
    "labels": "sertools.labels.stage",
    "manifest": "sertools.data.manifest",
    "features": "sertools.features.extract",
    "features_gpu": "sertools.features.extract",
    "train": "sertools.training.train",
    "train_head": "sertools.training.train",
    "predict": "sertools.evaluation.predict",
    "predict_head": "sertools.evaluation.predict",
    "reference": "sertools.evaluation.reference",
    "metrics": "sertools.evaluation.metrics",
    "significance": "sertools.evaluation.significance",
    "tables": "sertools.report.tables",
    "figures": "sertools.report.figures",
    "paper_comparison": "sertools.report.paper_comparison",
    "study_corpus": "sertools.corpus.synthetic.generate",
    "study_votes": "sertools.corpus.synthetic.generate",
    "study_corpus_labels": "sertools.labels.build",
    "study_labels": "sertools.labels.build",
    "study_manifest": "sertools.data.manifest",
    "study_features": "sertools.features.extract",
    "study_fit": "sertools.study.fit",
    "study_evaluate": "sertools.study.evaluate",
    "study_report": "sertools.study.report",
}

#: Layers from the bottom up. A module may import only from its own layer or a
#: lower one (tests/test_architecture.py). Foundations are top-level modules.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "sertools.classes",
        "sertools.io",
        "sertools.config",
        "sertools.splits",
        "sertools.deps",
        "sertools.runlog",
        "sertools.measures",
        "sertools.arrays",
        "sertools.device",
    ),
    ("sertools.corpus",),
    ("sertools.labels",),
    ("sertools.data",),
    ("sertools.model",),
    ("sertools.features",),
    ("sertools.training.runtime",),  # checkpoints, outputs, provenance, ...: never the loop above them
    ("sertools.training",),
    ("sertools.evaluation",),
    ("sertools.inference",),  # a trained model on any audio: above prediction, below the reports
    ("sertools.report",),
    ("sertools.study",),
    ("sertools.cli", "sertools.where", "sertools.envcheck", "sertools.architecture", "sertools.check"),
)


def layer_of(module: str) -> int:
    """Index into :data:`LAYERS` of a module (by its longest matching prefix)."""
    best, rank = -1, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, rank = len(name), i
    if rank < 0:
        raise ValueError(f"{module} belongs to no layer in sertools.architecture.LAYERS")
    return rank


def all_modules() -> list[str]:
    """Every module of the package, dotted, sorted (package ``__init__`` files included)."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = [PACKAGE, *rel.parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append(".".join(parts))
    return sorted(out)


def _summary(module: str) -> str:
    path = module_path(module)
    doc = ast.get_docstring(ast.parse(path.read_text())) if path else None
    return (doc or "").strip().split("\n\n")[0].replace("\n", " ")


def render_map() -> str:
    """The README's package map: each stage's rule, module and library files, then every module."""
    lines = [
        "| rule | stage module (`run`) | library files it depends on |",
        "|---|---|---|",
    ]
    for rule, module in STAGES.items():
        paths = [p.relative_to(ROOT).as_posix() for p in files(module)]
        lines.append(f"| `{rule}` | `{module}` | {len(paths)}: {', '.join(f'`{f}`' for f in paths)} |")
    lines += ["", "| module | what it is |", "|---|---|"]
    for module in all_modules():
        path = module_path(module)
        if path is None:
            raise RuntimeError(f"{module}: no file behind a module of the package")
        if module == PACKAGE or path.name == "__init__.py":
            continue
        lines.append(f"| `{module.removeprefix(PACKAGE + '.')}` | {_summary(module)} |")
    return "\n".join(lines)


MAP_BEGIN, MAP_END = (
    "<!-- BEGIN package-map (python -m sertools.architecture) -->",
    "<!-- END package-map -->",
)


def write_map(readme: Path) -> None:
    """Replace the package-map block of ``readme`` with :func:`render_map`."""
    text = readme.read_text()
    if MAP_BEGIN not in text or MAP_END not in text:
        raise SystemExit(f"{readme}: markers {MAP_BEGIN!r} ... {MAP_END!r} not found")
    head, rest = text.split(MAP_BEGIN, 1)
    tail = rest.split(MAP_END, 1)[1]
    readme.write_text(f"{head}{MAP_BEGIN}\n{render_map()}\n{MAP_END}{tail}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--write"]:
        write_map(Path(sys.argv[2]))
    else:
        print(render_map())

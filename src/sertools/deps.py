"""Which sertools modules a stage's output depends on, read from the imports.

Snakemake does not follow Python imports, so a rule lists the library files
whose code decides its output as inputs (an edit then reruns that rule and
everything after it). Training also hashes the same files into its config hash
so that a resume checkpoint made by other code is not reused. Both take the
list from here: the transitive closure of ``sertools`` imports of the stage's
entry module, parsed with :mod:`ast` (nothing is imported or run). Adding an
import to a stage module therefore adds the file to its rule, with no second
list to keep in step.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = "sertools"
ROOT = Path(__file__).resolve().parent


def module_path(module: str) -> Path | None:
    """File of a dotted ``sertools`` module (``None`` if it is not one)."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    parts = module.split(".")[1:]
    if not parts:
        return ROOT / "__init__.py"
    rel = Path(*parts)
    for candidate in (ROOT / rel.with_suffix(".py"), ROOT / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _resolve_relative(module: str, level: int, target: str | None, is_package: bool) -> str:
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, target] if target else base)


@cache
def direct_imports(module: str) -> frozenset[str]:
    """``sertools`` modules imported anywhere in ``module`` (top level or inside functions)."""
    path = module_path(module)
    if path is None:
        raise ValueError(f"{module!r} is not a module of the {PACKAGE} package")
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, node.level, node.module, path.name == "__init__.py")
                if node.level
                else node.module or ""
            )
            found.add(base)
            # `from sertools.data import batching` imports the submodule sertools.data.batching
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(m for m in found if m not in (module, PACKAGE) and module_path(m) is not None)


def closure(*modules: str) -> list[str]:
    """The modules and every ``sertools`` module they import, transitively (sorted)."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(direct_imports(m))
    return sorted(seen)


def files(*modules: str) -> list[Path]:
    """Source files of :func:`closure` (empty package ``__init__`` files left out)."""
    out = []
    for m in closure(*modules):
        path = module_path(m)
        if path is not None and not (path.name == "__init__.py" and not path.read_text().strip()):
            out.append(path)
    return out


# ----------------------------------------------------------------------------- the package's architecture

#: Workflow rule -> the stage module whose ``run`` it calls (workflow/rules/*.smk
#: take their library inputs from here through ``lib(rule)``).
STAGES: dict[str, str] = {
    "synth_corpus": "sertools.corpus.synthetic.generate",
    "labels": "sertools.labels.build",
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
    ("sertools.training",),
    ("sertools.evaluation",),
    ("sertools.report",),
    ("sertools.study",),
    ("sertools.cli", "sertools.where", "sertools.envcheck"),
)


def layer_of(module: str) -> int:
    """Index into :data:`LAYERS` of a module (by its longest matching prefix)."""
    best, rank = -1, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, rank = len(name), i
    if rank < 0:
        raise ValueError(f"{module} belongs to no layer in sertools.deps.LAYERS")
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
        if module == PACKAGE or module_path(module).name == "__init__.py":
            continue
        lines.append(f"| `{module.removeprefix(PACKAGE + '.')}` | {_summary(module)} |")
    return "\n".join(lines)


MAP_BEGIN, MAP_END = "<!-- BEGIN package-map (python -m sertools.deps) -->", "<!-- END package-map -->"


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

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

"""Which sertools modules a stage's output depends on, and a fingerprint of their code.

Snakemake does not follow Python imports, so each rule carries the fingerprint
of the library code that decides its output as a parameter (workflow/rules/common.smk,
``code_version``): a change of the fingerprint reruns the rule and everything after
it. Training hashes the same fingerprint into its config hash so that a resume
checkpoint made by other code is not reused. Both take it from here: the
transitive closure of ``sertools`` imports of the stage's entry module, parsed
with :mod:`ast` (nothing is imported or run), so adding an import to a stage
module adds the file with no second list to keep in step.

The fingerprint is of the code as Python runs it: each file's syntax tree without
docstrings, other bare string statements, comments, line numbers or layout. Editing
a docstring or comment, or reformatting, therefore reruns nothing; any change to
what the code does (a constant, a name, an operator) reruns the rules that import
it. It hashes paths relative to the package, never absolute ones, so a checkout
that is moved or copied with its results (mtimes kept) plans no job. No stage
writes a docstring into its outputs; the README's package map, which does, is not
a stage.
"""

from __future__ import annotations

import ast
import hashlib
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


class _NoDocstrings(ast.NodeTransformer):
    """Drops bare string statements (docstrings, attribute docs): they do nothing when run."""

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and all(isinstance(n, ast.stmt) for n in body):
            kept = [n for n in body if not _is_bare_string(n)]
            # any node with a statement list in ``body``; ast.AST does not declare the field
            node.body = kept or [ast.Pass()]  # type: ignore[attr-defined]
        return node


def _is_bare_string(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


_CODE_CACHE: dict[tuple[Path, int, int], str] = {}


def code_digest(path: Path) -> str:
    """SHA-256 of a source file's syntax tree without docstrings, comments, positions or layout."""
    stat = path.stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    if key not in _CODE_CACHE:
        tree = _NoDocstrings().visit(ast.parse(path.read_text(), filename=str(path)))
        dump = ast.dump(tree, annotate_fields=False, include_attributes=False)
        _CODE_CACHE[key] = hashlib.sha256(dump.encode()).hexdigest()
    return _CODE_CACHE[key]


def code_fingerprint(module: str) -> str:
    """SHA-256 over :func:`files` of ``module``: each file's path relative to the package and its
    :func:`code_digest` (see the module docstring for what it ignores)."""
    h = hashlib.sha256()
    for path in files(module):
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + code_digest(path).encode() + b"\n")
    return h.hexdigest()

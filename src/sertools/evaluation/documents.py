"""What the metrics and significance documents share: a JSON file with a schema id, checked by
one walker over its top level and its splits.

:mod:`sertools.evaluation.metrics_doc` and
:mod:`sertools.evaluation.significance_doc` each describe their layout with a
:class:`Layout`, which checks the documents they write and read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sertools.io import read_json, write_json

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    """One kind of document: its name, schema id, top-level keys, error and per-split check."""

    #: how messages name a document (``"metrics document"``)
    name: str
    #: what a document without ``splits`` is not (``"variant_metrics"``)
    result: str
    schema: str
    top_keys: tuple[str, ...]
    error: type[ValueError]
    #: ``check_split(where, split, content, strict)`` raises :attr:`error` on a malformed split
    check_split: Callable[[str, str, Any, bool], None]

    def validate(self, doc: Any, where: str, strict: bool) -> None:
        """Raise :attr:`error` unless ``doc`` is a mapping with a ``splits`` mapping whose every
        split passes :attr:`check_split`; ``strict``: also the schema id and every top-level key."""
        if not isinstance(doc, Mapping) or not isinstance(doc.get("splits"), Mapping):
            raise self.error(f"{where} is not a {self.result} result (no 'splits')")
        if strict:
            if doc.get("schema") != self.schema:
                raise self.error(f"{where}: schema {doc.get('schema')!r}, expected {self.schema!r}")
            missing = [k for k in self.top_keys if k not in doc]
            if missing:
                raise self.error(f"{where}: lacks key(s) {missing}")
        for split, content in doc["splits"].items():
            self.check_split(where, split, content, strict)

    def write(self, path: str | Path, doc: Mapping[str, Any]) -> None:
        """Check ``doc`` (strictly) and write it atomically as sorted, indented JSON."""
        self.validate(doc, f"{self.name} for {path}", strict=True)
        write_json(path, doc)

    def read(self, path: str | Path) -> dict[str, Any]:
        """The document at ``path``, checked strictly."""
        doc = read_json(path, error=self.error)
        self.validate(doc, f"{self.name} {path}", strict=True)
        return doc

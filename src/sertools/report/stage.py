"""What the report stages (tables, figures) share: reading their inputs and checking their outputs.

Every problem with a variant's document is raised as the stage's own error
with the document's message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sertools.classes import MSP_PODCAST, ClassSet, from_names
from sertools.evaluation import metrics_doc

__all__ = ["check_declared", "document_classes", "raised_as", "read_documents", "validate_metrics"]

PathLike = str | Path


@contextmanager
def raised_as(
    error: type[Exception], caught: type[Exception] | tuple[type[Exception], ...]
) -> Iterator[None]:
    """Turn an exception of ``caught`` inside the block into ``error`` with the same message."""
    try:
        yield
    except caught as err:
        raise error(str(err)) from None


def read_documents(
    read: Callable[[PathLike], dict[str, Any]],
    variants: Sequence[str],
    paths: Iterable[PathLike],
    error: type[Exception],
    caught: type[Exception] = ValueError,
) -> dict[str, dict[str, Any]]:
    """``variant -> read(path)``, the paths in ``variants`` order; a ``caught`` problem as ``error``."""
    docs = {}
    for v, path in zip(variants, paths, strict=True):
        with raised_as(error, caught):
            docs[v] = read(path)
    return docs


def validate_metrics(metrics: Mapping[str, Mapping[str, Any]], error: type[Exception]) -> None:
    """Check every variant's metrics document (:func:`sertools.evaluation.metrics_doc.validate`)."""
    for v, doc in metrics.items():
        with raised_as(error, metrics_doc.MetricsDocError):
            metrics_doc.validate(doc, f"metrics of variant {v!r}")


def check_declared(
    outputs: Iterable[PathLike] | Mapping[str, PathLike],
    written: Iterable[Path],
    error: type[Exception],
    stage: str,
) -> None:
    """Raise ``error`` unless every file of ``outputs`` is among those the ``stage`` wrote."""
    declared = outputs.values() if isinstance(outputs, Mapping) else outputs
    missing = sorted({str(Path(p)) for p in declared} - {str(p) for p in written})
    if missing:
        raise error(f"{stage}: declared outputs that are not {stage}: {missing}")


def document_classes(
    metrics: Mapping[str, Mapping[str, Any]], error: type[Exception] = ValueError
) -> ClassSet:
    """The class set the metrics documents share (their ``classes``; MSP-Podcast's when unnamed)."""
    found = {tuple(doc.get("classes") or MSP_PODCAST.names) for doc in metrics.values()}
    if len(found) > 1:
        raise error(f"the metrics documents have different classes: {sorted(found)}")
    try:
        return from_names(next(iter(found))) if found else MSP_PODCAST
    except ValueError as e:
        raise error(str(e)) from None

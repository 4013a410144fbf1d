"""The significance document: the JSON file the ``significance`` stage writes for one variant.

Written by :mod:`sertools.evaluation.significance`, read by
:mod:`sertools.report.tables` (which applies Holm's correction across
variants). Layout (``schema`` = :data:`SCHEMA`)::

    {schema, variant, baseline, settings, schemes?: {common_hard_labels, strata_distribution},
     strata: [stratum names],
     splits: {split: {"all" | stratum: {n_utterances, metrics: {name: comparison}}}}}

``schemes`` names the hard labels and the strata distribution the comparison
used (the common ones of the ``evaluation`` section). It is written only when
they are not the defaults ``consensus`` and ``primary`` (so a default run's
document is what it always was); :func:`schemes` reads it either way.

A *comparison* is ``{diff, ci_low, ci_high, p_value, variant, baseline}``:
variant minus baseline, the percentile CI of the paired differences, the
uncorrected two-sided bootstrap p-value and both point values (null for NaN).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

from sertools.evaluation.documents import Layout
from sertools.splits import ordered

__all__ = [
    "SCHEMA",
    "Comparison",
    "SignificanceDocError",
    "baseline",
    "block_names",
    "comparisons",
    "read",
    "schemes",
    "split_names",
    "stratum_names",
    "validate",
    "write",
]

PathLike = str | Path

SCHEMA = "sertools.significance/1"
_TOP_KEYS = ("schema", "variant", "baseline", "settings", "strata", "splits")


class Comparison(TypedDict):
    """Variant minus baseline for one metric on one utterance set."""

    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    variant: float | None
    baseline: float | None


class SignificanceDocError(ValueError):
    """A significance document is unreadable or does not have the documented layout."""


def validate(doc: Any, where: str = "significance document", *, strict: bool = False) -> None:
    """Raise :class:`SignificanceDocError` unless ``doc`` has the layout consumers rely on.

    Always: a mapping with ``splits``, each split a mapping of utterance sets
    (``"all"`` and the strata), each a mapping. ``strict`` (files): also the
    schema id and every top-level key.
    """
    _LAYOUT.validate(doc, where, strict)


def _check_split(where: str, name: str, blocks: Any, strict: bool) -> None:
    if not isinstance(blocks, Mapping) or not all(isinstance(b, Mapping) for b in blocks.values()):
        raise SignificanceDocError(f"{where}: split {name!r} is not a mapping of utterance sets")


_LAYOUT = Layout(
    "significance document", "significance", SCHEMA, _TOP_KEYS, SignificanceDocError, _check_split
)


def write(path: PathLike, doc: Mapping[str, Any]) -> None:
    """Check ``doc`` (strictly) and write it atomically as sorted, indented JSON."""
    _LAYOUT.write(path, doc)


def read(path: PathLike) -> dict[str, Any]:
    """The significance document at ``path``, checked strictly."""
    return _LAYOUT.read(path)


def baseline(doc: Mapping[str, Any]) -> str | None:
    """The variant compared against (None when the document does not say)."""
    return doc.get("baseline")


def schemes(doc: Mapping[str, Any]) -> dict[str, str]:
    """The common hard-label scheme and strata distribution the comparison used."""
    found = doc.get("schemes") or {}
    return {
        "common_hard_labels": found.get("common_hard_labels", "consensus"),
        "strata_distribution": found.get("strata_distribution", "primary"),
    }


def split_names(doc: Mapping[str, Any]) -> list[str]:
    """The compared splits, in reporting order."""
    return ordered(doc["splits"])


def stratum_names(doc: Mapping[str, Any]) -> list[str]:
    """The entropy strata in bin order (empty when the document names none)."""
    return list(doc.get("strata") or [])


def block_names(doc: Mapping[str, Any], split: str) -> list[str]:
    """The utterance sets (``"all"`` and strata) of ``split``, as stored."""
    return list(doc["splits"][split])


def comparisons(doc: Mapping[str, Any], split: str, block: str) -> Mapping[str, Comparison]:
    """``metric -> comparison`` for one utterance set ({} when it has none)."""
    return doc["splits"][split][block].get("metrics", {})

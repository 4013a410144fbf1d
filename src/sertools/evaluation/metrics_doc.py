"""The metrics document: the JSON file the ``metrics`` stage writes for one variant.

Written by :mod:`sertools.evaluation.metrics`, read by the tables and figures
of :mod:`sertools.report`. Layout (``schema`` = :data:`SCHEMA`)::

    {schema, variant, settings, classes, strata: [stratum names], has_truth,
     schemes: {common_hard_labels, strata_distribution, paper_reference,
               own_hard_labels, own_distribution, ccc_targets, dim_scale},
     splits: {split: {
        n_seeds, prediction_files,
        n_utterances: {all, hard, labelled_without_prediction},
        metrics: {name: entry},
        own: {scheme, hard_column, n_utterances: {hard}, metrics: {name: entry},
              confusion_matrix: {rows, columns, summed, per_seed}},
        strata: {stratum: {lo, hi, n_utterances: {all, hard}, metrics: {name: entry}}},
        strata_own: null | {distribution, scheme,
                            strata: {stratum: {lo, hi, n_utterances: {all, hard},
                                               metrics: {name: entry}}}},
        other_class: {"all" | stratum: {n_utterances, other_pred_share, other_mass,
                                        human_other_share}},
        confusion_matrix: {rows, columns, summed, per_seed},
        reliability_diagram: {edges, count, mean_confidence, accuracy, pooled_over_seeds},
        examples: [{file_id, stratum, entropy_primary, entropy_strata?, consensus,
                    p_primary, p_merged, probs, p_true?}]}}}

An *entry* is ``{mean, sd_seeds, ci_low, ci_high, per_seed, n}`` (NaN written
as null). ``metrics``, ``strata``, ``confusion_matrix`` and the rest are under
the common hard-label scheme ``schemes.common_hard_labels`` and stratified by
``schemes.strata_distribution``; ``own`` holds the hard-label metrics under the
variant's own scheme ``schemes.own_hard_labels``; ``strata_own`` (null for a
variant with hard targets) is stratified by the variant's own target
distribution and scored on its own scheme (``docs/metrics.md``). ``schemes``,
``own`` and ``strata_own`` are absent from documents written before they
existed; the accessors then give the defaults or empty mappings. The accessors
below read a document the way every consumer does: an absent split, stratum
or metric gives None or an empty mapping.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

from sertools.evaluation.documents import Layout
from sertools.splits import ordered

__all__ = [
    "SCHEMA",
    "Entry",
    "MetricsDocError",
    "block",
    "confusion_summed",
    "entry",
    "examples",
    "intended_block",
    "intended_size",
    "n_seeds",
    "number",
    "other_class",
    "own_block",
    "own_confusion_summed",
    "own_distribution",
    "own_entry",
    "own_scheme",
    "own_stratum_block",
    "own_stratum_keys",
    "own_stratum_size",
    "read",
    "reliability_diagram",
    "schemes",
    "split_names",
    "split_result",
    "stratum_keys",
    "stratum_names",
    "stratum_size",
    "validate",
    "value",
    "write",
]

PathLike = str | Path

SCHEMA = "sertools.variant_metrics/1"
_TOP_KEYS = ("schema", "variant", "settings", "classes", "strata", "has_truth", "splits")
_SPLIT_KEYS = (
    "n_seeds",
    "prediction_files",
    "n_utterances",
    "metrics",
    "strata",
    "other_class",
    "confusion_matrix",
    "reliability_diagram",
    "examples",
)


class Entry(TypedDict):
    """One metric of one utterance set: seed mean and SD, bootstrap CI, per-seed values, size."""

    mean: float | None
    sd_seeds: float | None
    ci_low: float | None
    ci_high: float | None
    per_seed: list[float | None]
    n: int


class MetricsDocError(ValueError):
    """A metrics document is unreadable or does not have the documented layout."""


# ============================================================================= file and checks


def validate(doc: Any, where: str = "metrics document", *, strict: bool = False) -> None:
    """Raise :class:`MetricsDocError` unless ``doc`` has the layout consumers rely on.

    Always: a mapping with ``splits``, each split a mapping with ``n_seeds``
    and ``metrics``. ``strict`` (files written or read by the stages): also
    the schema id and every top-level and per-split key of the layout.
    """
    _LAYOUT.validate(doc, where, strict)


def _check_split(where: str, name: str, res: Any, strict: bool) -> None:
    need = _SPLIT_KEYS if strict else ("n_seeds", "metrics")
    absent = [k for k in need if not isinstance(res, Mapping) or k not in res]
    if absent:
        raise MetricsDocError(f"{where}: split {name!r} lacks key(s) {absent}")
    own = res.get("own")
    if own is not None and (
        not isinstance(own, Mapping) or not isinstance(own.get("metrics"), Mapping) or "scheme" not in own
    ):
        raise MetricsDocError(f"{where}: split {name!r}: 'own' needs a 'scheme' and a 'metrics' mapping")
    st = res.get("strata_own")
    if st is not None and (
        not isinstance(st, Mapping) or not isinstance(st.get("strata"), Mapping) or "distribution" not in st
    ):
        raise MetricsDocError(
            f"{where}: split {name!r}: 'strata_own' needs a 'distribution' and a 'strata' mapping"
        )


_LAYOUT = Layout("metrics document", "variant_metrics", SCHEMA, _TOP_KEYS, MetricsDocError, _check_split)


def write(path: PathLike, doc: Mapping[str, Any]) -> None:
    """Check ``doc`` (strictly) and write it atomically as sorted, indented JSON."""
    _LAYOUT.write(path, doc)


def read(path: PathLike) -> dict[str, Any]:
    """The metrics document at ``path``, checked strictly."""
    return _LAYOUT.read(path)


def number(x: float) -> float | None:
    """A float for the document: NaN and infinities become None (JSON null)."""
    x = float(x)
    return x if math.isfinite(x) else None


# ================================================================================= accessors


def split_names(doc: Mapping[str, Any]) -> list[str]:
    """The evaluated splits, in reporting order."""
    return ordered(doc["splits"])


def stratum_names(doc: Mapping[str, Any]) -> list[str]:
    """The entropy strata in bin order (empty when the document names none)."""
    return list(doc.get("strata") or [])


def split_result(doc: Mapping[str, Any], split: str) -> Mapping[str, Any] | None:
    """Everything about ``split`` (None when it was not evaluated)."""
    return doc["splits"].get(split)


def n_seeds(doc: Mapping[str, Any], split: str) -> int:
    """Training seeds averaged for ``split``."""
    return doc["splits"][split]["n_seeds"]


def block(doc: Mapping[str, Any], split: str, stratum: str | None = None) -> Mapping[str, Entry]:
    """``metric -> entry`` of the whole split, or of one entropy stratum ({} when absent)."""
    res = doc["splits"].get(split) or {}
    if stratum is None:
        return res.get("metrics", {})
    return res.get("strata", {}).get(stratum, {}).get("metrics", {})


def entry(doc: Mapping[str, Any], split: str, metric: str, stratum: str | None = None) -> Entry | None:
    """One metric's entry (None when absent)."""
    return block(doc, split, stratum).get(metric)


def stratum_keys(doc: Mapping[str, Any], split: str) -> list[str]:
    """The strata the split's result lists (as stored)."""
    return list((doc["splits"].get(split) or {}).get("strata", {}))


def stratum_size(doc: Mapping[str, Any], split: str, stratum: str) -> int:
    """Utterances (X included) of ``stratum`` in ``split`` (0 when absent)."""
    res = doc["splits"].get(split) or {}
    return res.get("strata", {}).get(stratum, {}).get("n_utterances", {}).get("all", 0)


def other_class(doc: Mapping[str, Any], split: str) -> Mapping[str, Any]:
    """The Other-class analysis of ``split``: ``"all" | stratum -> row`` ({} when absent)."""
    return (doc["splits"].get(split) or {}).get("other_class") or {}


def confusion_summed(doc: Mapping[str, Any], split: str) -> Sequence[Sequence[int]]:
    """The (K, K) confusion matrix of ``split`` summed over seeds."""
    return doc["splits"][split]["confusion_matrix"]["summed"]


def reliability_diagram(doc: Mapping[str, Any], split: str) -> Mapping[str, Any]:
    """Bin edges, counts, mean confidence and accuracy of ``split`` (pooled over seeds)."""
    return doc["splits"][split]["reliability_diagram"]


def examples(doc: Mapping[str, Any], split: str) -> list[Mapping[str, Any]]:
    """The example utterances of ``split`` (one per non-empty stratum; [] when absent)."""
    return list((doc["splits"].get(split) or {}).get("examples", []))


_SCHEME_DEFAULTS = {
    "common_hard_labels": "consensus",
    "strata_distribution": "primary",
    "paper_reference": None,
    "own_hard_labels": None,
    "own_distribution": None,
    "ccc_targets": "ratings",  # CCC against the ratings as rated, or each row's training targets
    "dim_scale": None,
}


def schemes(doc: Mapping[str, Any]) -> dict[str, str | None]:
    """The label schemes and distributions of the document (defaults for an older document)."""
    found = doc.get("schemes") or {}
    return {k: found.get(k, v) for k, v in _SCHEME_DEFAULTS.items()}


def _own(doc: Mapping[str, Any], split: str) -> Mapping[str, Any]:
    return (doc["splits"].get(split) or {}).get("own") or {}


def own_scheme(doc: Mapping[str, Any], split: str) -> str | None:
    """The variant's own hard-label scheme in ``split`` (None when the document has no own block)."""
    return _own(doc, split).get("scheme")


def own_block(doc: Mapping[str, Any], split: str) -> Mapping[str, Entry]:
    """``metric -> entry`` of the hard-label metrics under the variant's own scheme ({} when absent)."""
    return _own(doc, split).get("metrics", {})


def own_entry(doc: Mapping[str, Any], split: str, metric: str) -> Entry | None:
    """One metric under the variant's own scheme (None when absent)."""
    return own_block(doc, split).get(metric)


def own_confusion_summed(doc: Mapping[str, Any], split: str) -> Sequence[Sequence[int]]:
    """The confusion matrix under the own scheme, summed over seeds ([] when absent)."""
    return (_own(doc, split).get("confusion_matrix") or {}).get("summed", [])


def _intended(doc: Mapping[str, Any], split: str) -> Mapping[str, Any]:
    return (doc["splits"].get(split) or {}).get("intended") or {}


def intended_block(doc: Mapping[str, Any], split: str) -> Mapping[str, Entry]:
    """``metric -> entry`` of the hard-label metrics against the speaker's intended emotion ({} for a
    corpus without one)."""
    return _intended(doc, split).get("metrics", {})


def intended_size(doc: Mapping[str, Any], split: str) -> int:
    """The utterances scored against the intended emotion in ``split`` (0 without an intended block)."""
    return int((_intended(doc, split).get("n_utterances") or {}).get("hard", 0))


def _strata_own(doc: Mapping[str, Any], split: str) -> Mapping[str, Any]:
    return (doc["splits"].get(split) or {}).get("strata_own") or {}


def own_distribution(doc: Mapping[str, Any], split: str) -> str | None:
    """The own target distribution the split's ``strata_own`` uses (None for hard targets)."""
    return _strata_own(doc, split).get("distribution")


def own_stratum_keys(doc: Mapping[str, Any], split: str) -> list[str]:
    """The strata of ``strata_own`` (as stored; [] for hard targets)."""
    return list(_strata_own(doc, split).get("strata", {}))


def own_stratum_block(doc: Mapping[str, Any], split: str, stratum: str) -> Mapping[str, Entry]:
    """``metric -> entry`` of one own-target stratum ({} when absent)."""
    return _strata_own(doc, split).get("strata", {}).get(stratum, {}).get("metrics", {})


def own_stratum_size(doc: Mapping[str, Any], split: str, stratum: str) -> int:
    """Utterances of one own-target stratum (0 when absent)."""
    return _strata_own(doc, split).get("strata", {}).get(stratum, {}).get("n_utterances", {}).get("all", 0)


def value(e: Mapping[str, Any] | None, key: str) -> float:
    """A field of an entry as float; NaN for a missing entry or a null value."""
    v = None if e is None else e.get(key)
    return float("nan") if v is None else float(v)

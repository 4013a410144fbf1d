"""The long-form rows of the result tables (the CSV files), from the metrics and
significance documents and the label summary.

Every value is text: floats with 6 decimals (NaN as an empty field, 4 decimals
for label statistics), integers as digits. Rows come in a fixed order: the
given variant order (baseline first), splits in :func:`sertools.splits.ordered`
order, metrics in :data:`METRIC_ORDER` then alphabetically, ``"all"`` and then
the strata in bin order. The significance rows carry Holm-adjusted p-values
(``docs/metrics.md``, "Significance"). The paper release's metrics
(:data:`RELEASE_METRICS`) are left out of the main and strata tables, which
therefore stay as they were; the own-scheme and own-target strata tables and
the paper comparison show them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from sertools import splits as partitions
from sertools.classes import CODES, DIMENSIONS, NO_AGREEMENT
from sertools.corpus.crema_d import modality_order
from sertools.evaluation import metrics_doc, significance_doc
from sertools.evaluation.significance import holm
from sertools.report.render import fmt_float, fmt_int
from sertools.report.stage import raised_as

__all__ = [
    "ATTRIBUTES",
    "CCC_COLUMNS",
    "INTENDED_COLUMNS",
    "INTENDED_METRICS",
    "LABEL_COLUMNS",
    "MAIN_COLUMNS",
    "METRIC_ORDER",
    "OTHER_COLUMNS",
    "OTHER_FIELDS",
    "OWN_COLUMNS",
    "OWN_ORDER",
    "REFERENCE_MODEL",
    "RELEASE_METRICS",
    "SIGNIFICANCE_COLUMNS",
    "STRATA_COLUMNS",
    "STRATA_OWN_COLUMNS",
    "Row",
    "TableError",
    "ccc_rows",
    "intended_rows",
    "label_rows",
    "main_rows",
    "other_rows",
    "own_rows",
    "significance_rows",
    "strata_own_rows",
    "strata_rows",
    "variant_order",
]

#: the fields of a metric entry, and of a comparison, shown as they are (6 decimals)
_ENTRY_FIELDS: tuple[str, ...] = ("mean", "sd_seeds", "ci_low", "ci_high")
_COMPARISON_FIELDS: tuple[str, ...] = ("diff", "ci_low", "ci_high", "p_value")

MAIN_COLUMNS: tuple[str, ...] = (
    "variant",
    "model",
    "split",
    "metric",
    *_ENTRY_FIELDS,
    "n_seeds",
    "n_utterances",
)
STRATA_COLUMNS: tuple[str, ...] = ("variant", "split", "stratum", *MAIN_COLUMNS[3:])
SIGNIFICANCE_COLUMNS: tuple[str, ...] = (
    "variant",
    "baseline",
    "split",
    "stratum",
    "metric",
    *_COMPARISON_FIELDS,
    "p_holm",
    "significant",
)
CCC_COLUMNS: tuple[str, ...] = ("variant", "split", "attribute", *MAIN_COLUMNS[4:])
OTHER_FIELDS = ("other_pred_share", "other_mass", "human_other_share")
OTHER_COLUMNS: tuple[str, ...] = (
    "variant",
    "split",
    "stratum",
    "n_seeds",
    "n_utterances",
    *(f"{f}{sfx}" for f in OTHER_FIELDS for sfx in ("", "_ci_low", "_ci_high")),
)
LABEL_COLUMNS: tuple[str, ...] = ("split", "statistic", "value")
#: the intended-emotion table: each metric against the perceived consensus and the intended emotion
INTENDED_COLUMNS: tuple[str, ...] = ("variant", "model", "split", "labels", *MAIN_COLUMNS[3:])
#: the hard-label metrics of the intended-emotion table, in order
INTENDED_METRICS: tuple[str, ...] = ("macro_f1", "accuracy", "uar")
OWN_COLUMNS: tuple[str, ...] = ("variant", "split", "scheme", *MAIN_COLUMNS[3:])
#: the strata table's columns with the variant's own target distribution and scheme
STRATA_OWN_COLUMNS: tuple[str, ...] = (*STRATA_COLUMNS[:2], "distribution", "scheme", *STRATA_COLUMNS[2:])

METRIC_ORDER: tuple[str, ...] = (
    "macro_f1",
    "accuracy",
    "jsd_primary",
    "kld_primary",
    "jsd_merged",
    "kld_merged",
    *(f"ccc_{d}" for d in DIMENSIONS),
    "ece",
    "jsd_true",
    "kld_true",
)
#: the dimensional attributes of the CCC table
ATTRIBUTES: tuple[str, ...] = DIMENSIONS
#: the paper release's metrics: not in the main and strata tables (which stay as they were)
RELEASE_METRICS: frozenset[str] = frozenset(
    {"uar", "macro_f1_published", "jsd_paper", "kld_paper", "ccc_mean"}
)
#: metric order of the own-scheme tables (then alphabetically)
OWN_ORDER: tuple[str, ...] = (
    "macro_f1",
    "macro_f1_published",
    "uar",
    "accuracy",
    "f1_Other",
    "weighted_f1",
    "ece",
    "brier_onehot",
)

#: the model label of a reference row (sertools.evaluation.reference.MODEL): its Model column
REFERENCE_MODEL = "reference"

Row = dict[str, str]


class TableError(ValueError):
    """The metric or significance inputs cannot be turned into tables."""


# ================================================================================== ordering


def _order_key(order: Sequence[str]) -> Callable[[str], tuple[int, str]]:
    rank = {v: i for i, v in enumerate(order)}
    return lambda v: (rank.get(v, len(rank)), v)


def _strata_order(present: Iterable[str], names: Sequence[str] | None, with_all: bool = True) -> list[str]:
    """``"all"`` first, then the strata in bin order (``names`` from the JSON), then anything else."""
    order = ([partitions.ALL] if with_all else []) + list(names or [])
    return sorted(present, key=_order_key(order))


def variant_order(variants: Iterable[str], baseline: str | None, references: Sequence[str] = ()) -> list[str]:
    """The baseline first, then the other variants alphabetically, then the ``references``
    present, in their given order (ceiling, then floor)."""
    present = list(variants)
    models = sorted((v for v in present if v not in references), key=lambda v: (v != baseline, v))
    return models + [r for r in references if r in present]


def _metric_order(metrics: Iterable[str], order: Sequence[str] = METRIC_ORDER) -> list[str]:
    return sorted(metrics, key=_order_key(order))


# ====================================================================================== rows


def _metric_rows(variant: str, doc: Mapping[str, Any], split: str, stratum: str | None) -> list[Row]:
    block = metrics_doc.block(doc, split, stratum)
    shown = {m: e for m, e in block.items() if m not in RELEASE_METRICS}
    rows = _entry_rows(variant, metrics_doc.n_seeds(doc, split), split, shown, METRIC_ORDER)
    if stratum is not None:
        for row in rows:
            row["stratum"] = stratum
    return rows


def _entry_rows(
    variant: str, n_seeds: int, split: str, block: Mapping[str, Mapping[str, Any]], order: Sequence[str]
) -> list[Row]:
    """One row per metric entry of ``block``, in ``order`` then alphabetically."""
    return [
        {
            "variant": variant,
            "split": split,
            "metric": m,
            **_floats(block[m], _ENTRY_FIELDS),
            "n_seeds": fmt_int(n_seeds),
            "n_utterances": fmt_int(block[m].get("n")),
        }
        for m in _metric_order(block, order)
    ]


def _floats(e: Mapping[str, Any], fields: Sequence[str]) -> Row:
    """The ``fields`` of a metric entry or comparison as text (6 decimals; empty for null)."""
    return {f: fmt_float(e.get(f)) for f in fields}


def _splits(
    metrics: Mapping[str, Mapping[str, Any]], order: Sequence[str]
) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """``(variant, its metrics document, split)`` for every split of the variants in ``order``."""
    for v in order:
        for split in metrics_doc.split_names(metrics[v]):
            yield v, metrics[v], split


def main_rows(metrics: Mapping[str, Mapping[str, Any]], order: Sequence[str]) -> list[Row]:
    """Every metric of every split (whole split) of the variants in ``order``, with the variant's model."""
    return [
        {**row, "model": str(doc.get("model") or "")}
        for v, doc, split in _splits(metrics, order)
        for row in _metric_rows(v, doc, split, None)
    ]


def _empty_stratum_row(variant: str, doc: Mapping[str, Any], split: str, stratum: str) -> Row:
    """The one row of a stratum without utterances: it records the size 0."""
    return {
        "variant": variant,
        "split": split,
        "stratum": stratum,
        "metric": "n_utterances",
        **dict.fromkeys(_ENTRY_FIELDS, ""),
        "n_seeds": fmt_int(metrics_doc.n_seeds(doc, split)),
        "n_utterances": "0",
    }


def strata_rows(metrics: Mapping[str, Mapping[str, Any]], order: Sequence[str]) -> list[Row]:
    """Every metric per entropy stratum; an empty stratum gets one row recording its size."""
    rows = []
    for v, doc, split in _splits(metrics, order):
        present = metrics_doc.stratum_keys(doc, split)
        for stratum in _strata_order(present, metrics_doc.stratum_names(doc), with_all=False):
            rows += _metric_rows(v, doc, split, stratum) or [_empty_stratum_row(v, doc, split, stratum)]
    return rows


def own_rows(metrics: Mapping[str, Mapping[str, Any]], order: Sequence[str]) -> list[Row]:
    """The hard-label metrics of every split under each variant's own scheme (variants without
    an own block are left out)."""
    rows = []
    for v, doc, split in _splits(metrics, order):
        scheme = metrics_doc.own_scheme(doc, split)
        if scheme is not None:
            block = metrics_doc.own_block(doc, split)
            got = _entry_rows(v, metrics_doc.n_seeds(doc, split), split, block, OWN_ORDER)
            rows += [{**r, "scheme": scheme} for r in got]
    return rows


def strata_own_rows(metrics: Mapping[str, Mapping[str, Any]], order: Sequence[str]) -> list[Row]:
    """Every metric per stratum of each distributional variant's own target distribution (own
    scheme); an empty stratum gets one row recording its size."""
    rows = []
    for v, doc, split in _splits(metrics, order):
        dist = metrics_doc.own_distribution(doc, split)
        if dist is None:
            continue
        scheme = metrics_doc.own_scheme(doc, split) or ""
        n_seeds = metrics_doc.n_seeds(doc, split)
        present = metrics_doc.own_stratum_keys(doc, split)
        for stratum in _strata_order(present, metrics_doc.stratum_names(doc), with_all=False):
            block = metrics_doc.own_stratum_block(doc, split, stratum)
            got = _entry_rows(v, n_seeds, split, block, METRIC_ORDER) or [
                _empty_stratum_row(v, doc, split, stratum)
            ]
            rows += [{**r, "distribution": dist, "scheme": scheme, "stratum": stratum} for r in got]
    return rows


def ccc_rows(main: Sequence[Row]) -> list[Row]:
    """The CCC rows of the main table, one per attribute."""
    rows = []
    for r in main:
        if r["metric"].startswith("ccc_") and r["metric"][4:] in ATTRIBUTES:
            rows.append({**{k: r[k] for k in CCC_COLUMNS if k in r}, "attribute": r["metric"][4:]})
    return rows


def other_rows(metrics: Mapping[str, Mapping[str, Any]], order: Sequence[str]) -> list[Row]:
    """The Other-class analysis, whole split and per stratum."""
    rows = []
    for v, doc, split in _splits(metrics, order):
        other = metrics_doc.other_class(doc, split)
        for stratum in _strata_order(other, metrics_doc.stratum_names(doc)):
            o = other[stratum]
            row = {
                "variant": v,
                "split": split,
                "stratum": stratum,
                "n_seeds": fmt_int(metrics_doc.n_seeds(doc, split)),
                "n_utterances": fmt_int(o.get("n_utterances")),
            }
            for f in OTHER_FIELDS:
                e = o.get(f) or {}
                row[f] = fmt_float(e.get("mean"))
                row[f"{f}_ci_low"] = fmt_float(e.get("ci_low"))
                row[f"{f}_ci_high"] = fmt_float(e.get("ci_high"))
            rows.append(row)
    return rows


def _comparisons(
    significance: Mapping[str, Mapping[str, Any]], baseline: str
) -> list[tuple[str, str, str, str, str, Mapping[str, Any]]]:
    """(variant, baseline, split, stratum, metric, comparison) of every non-baseline variant."""
    raw: list[tuple[str, str, str, str, str, Mapping[str, Any]]] = []
    for v in sorted(significance):
        sig = significance[v]
        with raised_as(TableError, significance_doc.SignificanceDocError):
            significance_doc.validate(sig, f"significance of variant {v!r}")
        base = significance_doc.baseline(sig) or baseline
        if v == base:
            continue
        for split in significance_doc.split_names(sig):
            blocks = significance_doc.block_names(sig, split)
            for stratum in _strata_order(blocks, significance_doc.stratum_names(sig)):
                blk = significance_doc.comparisons(sig, split, stratum)
                for m in _metric_order(blk):
                    raw.append((v, base, split, stratum, m, blk[m]))
    return raw


def _holm_adjusted(raw: Sequence[tuple[str, str, str, str, str, Mapping[str, Any]]]) -> list[float]:
    """Holm over variants within each split x stratum x metric, in the order of ``raw``."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, (_, _, split, stratum, m, _) in enumerate(raw):
        groups.setdefault((split, stratum, m), []).append(i)
    p_holm = [float("nan")] * len(raw)
    for idx in groups.values():
        ps = [raw[i][5].get("p_value") for i in idx]
        adj = holm([float("nan") if p is None else float(p) for p in ps])
        for i, a in zip(idx, adj, strict=True):
            p_holm[i] = float(a)
    return p_holm


def significance_rows(
    significance: Mapping[str, Mapping[str, Any]], baseline: str, ci_level: float
) -> list[Row]:
    raw = _comparisons(significance, baseline)
    alpha = 1.0 - ci_level
    rows = []
    for (v, base, split, stratum, m, e), ph in zip(raw, _holm_adjusted(raw), strict=True):
        rows.append(
            {
                "variant": v,
                "baseline": base,
                "split": split,
                "stratum": stratum,
                "metric": m,
                **_floats(e, _COMPARISON_FIELDS),
                "p_holm": fmt_float(ph),
                "significant": "" if math.isnan(ph) else ("true" if ph < alpha else "false"),
            }
        )
    return rows


def intended_rows(metrics: Mapping[str, Mapping[str, Any]], order: Sequence[str]) -> list[Row]:
    """:data:`INTENDED_METRICS` of every split scored against the perceived consensus (``labels``
    ``perceived``: the main table's values) and against the speaker's intended emotion (``intended``),
    the same predictions; variants whose documents have no intended block give no rows."""
    rows: list[Row] = []
    for v, doc, split in _splits(metrics, order):
        intended = metrics_doc.intended_block(doc, split)
        if not intended:
            continue
        for labels, block in (("perceived", metrics_doc.block(doc, split)), ("intended", intended)):
            for row in _entry_rows(v, metrics_doc.n_seeds(doc, split), split, block, INTENDED_METRICS):
                if row["metric"] in INTENDED_METRICS:
                    rows.append({**row, "model": str(doc.get("model") or ""), "labels": labels})
    return rows


#: the statistics of a CREMA-D label summary per modality (``statistics.<modality>``), in table order:
#: (statistic, path of keys in the modality's block)
_CREMA_D_STATISTICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("clips", ("clips",)),
    ("responses", ("responses",)),
    ("responses_per_clip_mean", ("responses_per_clip", "mean")),
    ("responses_matching_intended", ("responses_matching_intended",)),
    ("plurality_matching_intended", ("plurality_matching_intended",)),
    ("fleiss_kappa", ("fleiss_kappa", "kappa")),
    ("tie_share", ("ties", "share")),
    ("entropy_mean", ("entropy", "mean")),
    ("entropy_median", ("entropy", "q50")),
)


def _label_cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return fmt_float(value, 4)


def _crema_d_label_rows(summary: Mapping[str, Any]) -> list[Row]:
    """A CREMA-D label summary: clips and actors per split (the chosen modality's labels), then per
    modality (the ``split`` column names it) the raters' statistics of :data:`_CREMA_D_STATISTICS`."""
    rows: list[Row] = []
    per_split = summary.get("splits", {})
    for split in partitions.ordered(per_split):
        d = per_split[split]
        for stat in ("clips", "actors"):
            rows.append({"split": split, "statistic": stat, "value": _label_cell(d.get(stat))})
        for sex, n in sorted((d.get("clips_by_sex") or {}).items()):
            rows.append({"split": split, "statistic": f"clips_{sex.lower()}", "value": _label_cell(n)})
    found = summary.get("statistics") or {}
    for modality in modality_order(found):
        block = found[modality]
        for stat, keys in _CREMA_D_STATISTICS:
            value: Any = block
            for k in keys:
                value = value.get(k) if isinstance(value, Mapping) else None
            rows.append({"split": modality, "statistic": stat, "value": _label_cell(value)})
    return rows


def label_rows(summary: Mapping[str, Any]) -> list[Row]:
    """Label statistics per split from the label stage's summary (a CREMA-D summary: per split and
    per modality)."""
    if summary.get("corpus") == "crema_d":
        return _crema_d_label_rows(summary)
    rows: list[Row] = []

    def add(split: str, stat: str, value: Any) -> None:
        if isinstance(value, bool) or value is None:
            text = "" if value is None else str(value).lower()
        elif isinstance(value, (int, np.integer)):
            text = str(int(value))
        else:
            text = fmt_float(value, 4)
        rows.append({"split": split, "statistic": stat, "value": text})

    dist = summary.get("class_distribution", {})
    kappa = summary.get("reliability", {}).get("fleiss_kappa_primary", {})
    hist = summary.get("entropy_histogram", {})
    edges = hist.get("edges")
    for split in partitions.ordered(dist):
        d = dist[split]
        n = int(d.get("utterances", 0))
        add(split, "utterances", n)
        cons = d.get("consensus", {})
        for code in (*CODES, NO_AGREEMENT):
            add(split, f"consensus_{code}", int(cons.get(code, 0)))
        add(split, "no_agreement_share", cons.get(NO_AGREEMENT, 0) / n if n else None)
        add(split, "fleiss_kappa_primary", kappa.get(split))
        counts = hist.get(split, {}).get("primary")
        if edges and counts:
            for i, c in enumerate(counts):
                close = "]" if i == len(counts) - 1 else ")"
                add(split, f"entropy_primary_hist_[{edges[i]:.2f}, {edges[i + 1]:.2f}{close}", int(c))
    alpha = summary.get("reliability", {}).get("krippendorff_alpha_interval", {})
    for attr in ATTRIBUTES:
        if attr in alpha:
            add(partitions.ALL, f"krippendorff_alpha_{attr}", alpha[attr])
    apu = summary.get("annotators_per_utterance", {})
    for k in ("min", "mean", "max"):
        if k in apu:
            add(partitions.ALL, f"annotators_per_utterance_{k}", apu[k])
    if "workers" in summary:
        add(partitions.ALL, "workers", int(summary["workers"]))
    return rows

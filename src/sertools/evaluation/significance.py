"""Significance: paired bootstrap of a variant against the baseline, Holm's correction, and
the ``significance`` stage that writes one variant's significance document.

Both systems are evaluated on the same resamples of the same utterances, each
averaged over its seeds inside every resample (``docs/metrics.md``,
"Significance"). Hard-label metrics use the common scheme
``evaluation.common_hard_labels`` and the strata the common distribution
``evaluation.strata_distribution`` (:mod:`sertools.evaluation.schemes`), so
every variant is compared with the baseline on the same labels. The stage reports uncorrected p-values; Holm's correction
needs the whole family and is applied where the family is known: by
:mod:`sertools.report.table_rows` over the variants of one split, stratum and
metric, and by :mod:`sertools.study.collect` over the families of
:mod:`sertools.study.families` (the study's own comparisons, which resample
seeds as well, come from :mod:`sertools.study.scores`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Unpack

import numpy as np

from sertools.classes import DIMENSIONS
from sertools.evaluation import evaldata, schemes, settings, significance_doc
from sertools.evaluation.bootstrap import (
    Options,
    as_sets,
    check_ci,
    percentile_ci,
    replicates_per_set,
    seed_mean,
)
from sertools.evaluation.evaldata import EvalData, EvaluationError
from sertools.evaluation.metrics_doc import number
from sertools.evaluation.strata import split_strata, stratum_names
from sertools.splits import ordered

__all__ = [
    "CONFIG_KEYS",
    "SIGNIFICANCE_METRICS",
    "PairedCI",
    "bootstrap_p",
    "compare",
    "holm",
    "paired_bootstrap",
    "run",
]

PathLike = str | Path

#: keys of the ``evaluation`` config section this stage reads
CONFIG_KEYS: tuple[str, ...] = ("splits", *settings.KEYS, "common_hard_labels", "strata_distribution")
#: compared against the baseline by the paired bootstrap (those present are used)
SIGNIFICANCE_METRICS: tuple[str, ...] = (
    "macro_f1",
    "accuracy",
    *(f"{m}_{target}" for target in ("primary", "merged", "true") for m in ("jsd", "kld")),
    *(f"ccc_{d}" for d in DIMENSIONS),
    "ece",
    "other_share_pred",
    "other_mass",
)


# ============================================================================ paired bootstrap


class PairedCI(NamedTuple):
    """Variant minus baseline on shared resamples, with a two-sided bootstrap p-value."""

    diff: float
    lo: float
    hi: float
    p_value: float
    variant: float
    baseline: float


def paired_bootstrap(
    variant: EvalData | Sequence[EvalData],
    baseline: EvalData | Sequence[EvalData],
    B: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    **options: Unpack[Options],
) -> dict[str, PairedCI]:
    """Paired bootstrap of ``variant - baseline`` (each one or several seeds) on shared resamples.

    ``diff`` is the difference of the seed-averaged point estimates; the CI
    is the percentile interval of the per-resample differences ``d*``. The
    two-sided p-value for "no difference" is

        p = min(1, 2 * min((1 + #{d* <= 0}) / (B + 1), (1 + #{d* >= 0}) / (B + 1)))

    (NaN replicates dropped from B). The +1 keeps p > 0 with finitely many
    resamples, and identical systems (all ``d* = 0``) give p = 1.
    """
    check_ci(ci)
    v_sets, b_sets = as_sets(variant), as_sets(baseline)
    points, per_set = replicates_per_set([*v_sets, *b_sets], B, seed, **options)
    nv = len(v_sets)
    v_rep, b_rep = seed_mean(per_set[:nv]), seed_mean(per_set[nv:])
    out: dict[str, PairedCI] = {}
    for k in points[0]:
        d = v_rep[k] - b_rep[k]
        v_pt = float(np.mean([p[k] for p in points[:nv]]))
        b_pt = float(np.mean([p[k] for p in points[nv:]]))
        out[k] = PairedCI(v_pt - b_pt, *percentile_ci(d, ci), bootstrap_p(d), v_pt, b_pt)
    return out


def bootstrap_p(diffs: np.ndarray) -> float:
    """The two-sided bootstrap p-value of :func:`paired_bootstrap` from the replicates of a difference."""
    d = diffs[~np.isnan(diffs)]
    if not len(d):
        return float("nan")
    b = len(d)
    le = (1 + np.count_nonzero(d <= 0)) / (b + 1)
    ge = (1 + np.count_nonzero(d >= 0)) / (b + 1)
    return float(min(1.0, 2.0 * min(le, ge)))


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the input order.

    Sorted ascending, ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``
    (1-based ``j``), so adjusted values are monotone and capped at 1. NaN
    entries stay NaN and do not count towards ``m``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D, got shape {p.shape}")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


# ================================================================================ the stage


def _paired_block(v: Sequence[EvalData], b: Sequence[EvalData], s: Mapping[str, Any]) -> dict[str, Any]:
    if not v or v[0].n == 0:
        return {}
    res = paired_bootstrap(v, b, **settings.bootstrap_kw(s))
    return {
        k: {
            "diff": number(res[k].diff),
            "ci_low": number(res[k].lo),
            "ci_high": number(res[k].hi),
            "p_value": number(res[k].p_value),
            "variant": number(res[k].variant),
            "baseline": number(res[k].baseline),
        }
        for k in SIGNIFICANCE_METRICS
        if k in res
    }


def _split_comparison(
    v_sets: Sequence[EvalData], b_sets: Sequence[EvalData], s: Mapping[str, Any], split: str
) -> dict[str, Any]:
    """``"all"`` and every entropy stratum of one split: sizes and paired comparisons."""
    if not v_sets[0].same_utterances(b_sets[0]):
        raise EvaluationError(
            f"{split}: the variant ({v_sets[0].n} utterances) and the baseline ({b_sets[0].n}) "
            "were not evaluated on the same utterances"
        )
    n = v_sets[0].n
    out: dict[str, Any] = {"all": {"n_utterances": n, "metrics": _paired_block(v_sets, b_sets, s)}}
    _, masks = split_strata(v_sets[0], s["entropy_bins"])
    for name, mask in zip(stratum_names(s["entropy_bins"]), masks, strict=True):
        block = {}
        if mask.any():
            block = _paired_block([d.subset(mask) for d in v_sets], [d.subset(mask) for d in b_sets], s)
        out[name] = {"n_utterances": int(mask.sum()), "metrics": block}
    return out


def _check_split_paths(pred_paths: Mapping[str, Sequence[PathLike]], what: str) -> None:
    if not isinstance(pred_paths, Mapping) or not pred_paths:
        raise EvaluationError(f"{what}: need a mapping split -> list of prediction files (one per seed)")


def compare(
    variant_paths: Mapping[str, Sequence[PathLike]],
    baseline_paths: Mapping[str, Sequence[PathLike]],
    labels_path: PathLike,
    evaluation: Mapping[str, Any],
    truth_path: PathLike | None = None,
    *,
    variant: str | None = None,
    baseline: str | None = None,
) -> dict[str, Any]:
    """The significance document of ``variant - baseline`` (seed-averaged, shared resamples).

    Per split and per entropy stratum (``"all"`` = whole split), for the
    metrics of :data:`SIGNIFICANCE_METRICS` that exist (layout:
    :mod:`sertools.evaluation.significance_doc`). The baseline name defaults
    to ``evaluation["baseline_variant"]``.
    """
    s = settings.resolve(evaluation)
    common = schemes.resolve(evaluation)
    _check_split_paths(variant_paths, "significance (variant)")
    _check_split_paths(baseline_paths, "significance (baseline)")
    absent = sorted(set(variant_paths) - set(baseline_paths))
    if absent:
        raise EvaluationError(f"significance: the baseline has no predictions for split(s) {absent}")
    view = evaldata.read_label_view(labels_path)
    labels, columns = schemes.label_columns(view.table, common, reference=False)
    truth = evaldata.read_truth(truth_path)
    doc: dict[str, Any] = {
        "schema": significance_doc.SCHEMA,
        "variant": variant,
        "baseline": baseline if baseline is not None else evaluation.get("baseline_variant"),
        "settings": s,
        "strata": stratum_names(s["entropy_bins"]),
        "splits": {},
    }
    used = {k: common[k] for k in ("common_hard_labels", "strata_distribution")}
    if used != significance_doc.schemes({}):  # the defaults stay implicit (documents as before)
        doc["schemes"] = used
    for split in ordered(variant_paths):
        v_sets, _ = evaldata.load_split(
            list(variant_paths[split]), labels, split, truth, view.classes, **columns
        )
        b_sets, _ = evaldata.load_split(
            list(baseline_paths[split]), labels, split, truth, view.classes, **columns
        )
        doc["splits"][split] = _split_comparison(v_sets, b_sets, s, split)
    return doc


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    evaluation: Mapping[str, Any],
    baseline: str,
    seeds: Sequence[Any],
    variant: str | None,
) -> dict[str, Any]:
    """The ``significance`` rule: write ``variant`` vs ``baseline`` to ``outputs["significance"]``.

    ``inputs``: per split of ``evaluation["splits"]`` the variant's prediction
    dumps (key = split) and the baseline's (key ``baseline_<split>``), one
    file per seed in ``seeds`` order; ``labels``; optionally ``truth``.
    """
    splits = evaluation["splits"]
    doc = compare(
        {s: evaldata.seed_files(inputs[s], seeds, s) for s in splits},
        {s: evaldata.seed_files(inputs[f"baseline_{s}"], seeds, s) for s in splits},
        inputs["labels"],
        evaluation,
        inputs.get("truth"),
        variant=variant,
        baseline=baseline,
    )
    significance_doc.write(outputs["significance"], doc)
    return doc

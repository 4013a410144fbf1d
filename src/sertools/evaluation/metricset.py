"""The metric set of one prediction set: every metric of an :class:`EvalData` by name.

:func:`compute_all` computes each metric directly with :mod:`sertools.measures`;
it is the reference the bootstrap's sums-based recomputation
(:mod:`sertools.evaluation.bootstrap`) reproduces, and it gives the per-seed
point values of the metrics document. Which utterances each metric uses is
set out in ``docs/metrics.md``.
"""

from __future__ import annotations

import numpy as np

from sertools.evaluation.evaldata import EvalData
from sertools.measures import (
    brier,
    ccc,
    ccc_mean,
    confusion_matrix,
    ece,
    f1_scores,
    jsd,
    jsd_paper,
    kld,
    kld_paper,
    macro_f1_published,
    onehot,
    uar,
)

__all__ = ["compute_all"]


def compute_all(data: EvalData, prob_floor: float = 1e-12, ece_bins: int = 15) -> dict[str, float]:
    """Every metric of one prediction set, as a flat ``name -> value`` dict.

    Names: ``accuracy, macro_f1, weighted_f1, f1_<Class>, uar,
    macro_f1_published``, ``jsd_primary, kld_primary, jsd_merged, kld_merged``
    (plus ``jsd_true, kld_true`` when ``p_true`` is set, and the release's
    ``jsd_paper, kld_paper`` when ``p_ref`` is set), ``ccc_<dimension>,
    ccc_mean``, ``ece, brier_onehot, brier_primary``, ``other_share_pred,
    other_mass, other_share_human``, ``n_hard, n_all``. Metrics over an empty
    set are NaN. The class set of ``data`` decides the classes of ``f1_<Class>``; one
    without Other has no ``other_*``, one without A/V/D no ``ccc_*``, and a set without
    ``p_merged`` no ``*_merged``.
    """
    out = _hard_metrics(data)
    out.update(_distribution_metrics(data, prob_floor))
    out.update(_ccc_metrics(data))
    hard_rows = data.hard >= 0
    out["ece"] = ece(data.probs, data.pred, data.hard, ece_bins)
    out["brier_onehot"] = _mean(brier(data.probs[hard_rows], onehot(data.hard[hard_rows], data.classes.k)))
    out["brier_primary"] = _mean(brier(data.probs, data.p_primary))
    other = data.classes.other
    if other is not None:
        out["other_share_pred"] = _mean((data.pred == other).astype(np.float64))
        out["other_mass"] = _mean(data.probs[:, other])
        out["other_share_human"] = _mean(data.p_primary[:, other])
    out["n_hard"] = float(hard_rows.sum())
    out["n_all"] = float(data.n)
    return out


def _hard_metrics(data: EvalData) -> dict[str, float]:
    """Accuracy and F1 scores on the hard-labelled utterances (NaN without any)."""
    cm = confusion_matrix(data.hard, data.pred, data.classes.k)
    n_hard = int(cm.sum())
    f1 = f1_scores(cm)
    support = cm.sum(axis=1)
    nan = float("nan")
    out = {
        "accuracy": float(np.trace(cm) / n_hard) if n_hard else nan,
        "macro_f1": float(f1.mean()) if n_hard else nan,
        "weighted_f1": float((f1 * support).sum() / n_hard) if n_hard else nan,
        "uar": uar(cm),
        "macro_f1_published": macro_f1_published(cm),
    }
    for c, name in enumerate(data.classes.names):
        out[f"f1_{name}"] = float(f1[c]) if n_hard else nan
    return out


def _distribution_metrics(data: EvalData, prob_floor: float) -> dict[str, float]:
    """Mean JSD and KLD against each human (and, when present, latent-truth) distribution."""
    targets = [("primary", data.p_primary)]
    if data.p_merged is not None:
        targets.append(("merged", data.p_merged))
    if data.p_true is not None:
        targets.append(("true", data.p_true))
    out: dict[str, float] = {}
    for tag, target in targets:
        out[f"jsd_{tag}"] = _mean(jsd(target, data.probs))
        out[f"kld_{tag}"] = _mean(kld(target, data.probs, prob_floor))
    if data.p_ref is not None:
        out["jsd_paper"] = _mean(jsd_paper(data.probs, data.p_ref))
        out["kld_paper"] = _mean(kld_paper(data.p_ref, data.probs, prob_floor=prob_floor))
    return out


def _ccc_metrics(data: EvalData) -> dict[str, float]:
    """CCC per dimension and their mean (NaN without dimensional predictions or labels)."""
    out: dict[str, float] = {}
    dimensions = data.classes.dimensions
    if not dimensions:
        return out
    for j, dim in enumerate(dimensions):
        if data.dims_pred is None or data.dims_true is None:
            out[f"ccc_{dim}"] = float("nan")
        else:
            out[f"ccc_{dim}"] = ccc(data.dims_pred[:, j], data.dims_true[:, j])
    out["ccc_mean"] = ccc_mean([out[f"ccc_{dim}"] for dim in dimensions])
    return out


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else float("nan")

"""The ``metrics`` stage: the prediction dumps of one variant -> its metrics document.

For every evaluated split (all seeds together) this module chooses the
utterance sets, bootstraps them (:mod:`sertools.evaluation.bootstrap`) and
arranges the results in the layout of :mod:`sertools.evaluation.metrics_doc`.
Which utterances each metric uses, and the suffix ``_noX``, are set out in
``docs/metrics.md``; in short:

* Hard metrics (``accuracy, macro_f1, weighted_f1, f1_<Class>, ece,
  brier_onehot``) always exclude X (no agreement) utterances.
* Distributional metrics (``jsd_*, kld_*, brier_primary``), ``ccc_<dimension>``
  and ``other_*`` use every utterance with votes (X included). The same
  distributional metrics on the hard-labelled utterances only carry the
  suffix ``_noX`` (``jsd_primary_noX``), bootstrapped on their own.
* ``jsd_true, kld_true`` (and ``_noX``) compare with the latent truth of the
  synthetic corpus when the rule has a ``truth`` input.

The same is repeated per entropy stratum (:mod:`sertools.evaluation.strata`),
each resampled within itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sertools.classes import CLASSES, CODES, NO_AGREEMENT
from sertools.evaluation import metrics_doc, settings
from sertools.evaluation.bootstrap import SeedCI, bootstrap_multiseed
from sertools.evaluation.evaldata import (
    EvalData,
    EvaluationError,
    load_split,
    read_labels,
    read_truth,
    seed_files,
)
from sertools.evaluation.metricset import compute_all
from sertools.evaluation.strata import split_strata, stratum_names
from sertools.measures import confusion_matrix, ece_bin
from sertools.splits import ordered

__all__ = [
    "CONFIG_KEYS",
    "DIST_METRICS",
    "HARD_METRICS",
    "EvaluationError",
    "run",
    "variant_metrics",
]

PathLike = str | Path

#: keys of the ``evaluation`` config section this stage reads
CONFIG_KEYS: tuple[str, ...] = ("splits", *settings.KEYS)
HARD_METRICS: frozenset[str] = frozenset(
    {"accuracy", "macro_f1", "weighted_f1", "ece", "brier_onehot", *(f"f1_{c}" for c in CLASSES)}
)
#: metrics that get a "_noX" twin computed on the hard-labelled utterances only
DIST_METRICS: tuple[str, ...] = (
    "jsd_primary",
    "kld_primary",
    "jsd_merged",
    "kld_merged",
    "jsd_true",
    "kld_true",
    "brier_primary",
)
#: metric-engine name -> name in the Other-class analysis
OTHER_FIELDS: dict[str, str] = {
    "other_share_pred": "other_pred_share",
    "other_mass": "other_mass",
    "other_share_human": "human_other_share",
}
_NO_ENTRY = {"mean": None, "sd_seeds": None, "ci_low": None, "ci_high": None}


# ================================================================================ metric blocks


def _entry(ci: SeedCI, per_seed: Sequence[float], n: int) -> dict[str, Any]:
    vals = np.asarray(per_seed, dtype=np.float64)
    ok = vals[np.isfinite(vals)]
    mean = float(ok.mean()) if len(ok) == len(vals) and len(vals) else float("nan")
    sd = float(np.std(vals, ddof=1)) if len(vals) > 1 and len(ok) == len(vals) else float("nan")
    num = metrics_doc.number
    return {
        "mean": num(mean),
        "sd_seeds": num(sd),
        "ci_low": num(ci.lo),
        "ci_high": num(ci.hi),
        "per_seed": [num(v) for v in vals],
        "n": int(n),
    }


def _metric_n(name: str, n_all: int, n_hard: int) -> int:
    base = name.removesuffix("_noX")
    return n_hard if base in HARD_METRICS or name.endswith("_noX") else n_all


def _metric_block(sets: Sequence[EvalData], s: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every metric of one utterance set (seed-averaged, with CIs), plus the ``_noX`` twins."""
    n_all = sets[0].n
    if n_all == 0:
        return {}
    hard = sets[0].hard >= 0
    n_hard = int(hard.sum())
    kw = settings.bootstrap_kw(s)
    out: dict[str, dict[str, Any]] = {}
    boot = bootstrap_multiseed(sets, **kw)
    points = [compute_all(d, s["prob_floor"], s["ece_bins"]) for d in sets]
    for k, ci in boot.items():
        if k in ("n_all", "n_hard"):
            continue
        out[k] = _entry(ci, [p[k] for p in points], _metric_n(k, n_all, n_hard))
    if n_hard:
        out.update(_no_x_block(sets, s, hard, boot, points))
    return out


def _no_x_block(
    sets: Sequence[EvalData],
    s: Mapping[str, Any],
    hard: np.ndarray,
    boot: Mapping[str, SeedCI],
    points: Sequence[Mapping[str, float]],
) -> dict[str, dict[str, Any]]:
    """The :data:`DIST_METRICS` on the hard-labelled utterances, as ``<name>_noX``."""
    n_hard = int(hard.sum())
    if n_hard < len(hard):
        sub = [d.subset(hard) for d in sets]
        boot = bootstrap_multiseed(sub, **settings.bootstrap_kw(s))
        points = [compute_all(d, s["prob_floor"], s["ece_bins"]) for d in sub]
    return {f"{k}_noX": _entry(boot[k], [p[k] for p in points], n_hard) for k in DIST_METRICS if k in boot}


def _other_row(block: Mapping[str, Mapping[str, Any]], n_all: int) -> dict[str, Any]:
    row: dict[str, Any] = {"n_utterances": int(n_all)}
    for src, dst in OTHER_FIELDS.items():
        e = block.get(src)
        row[dst] = {k: e[k] for k in _NO_ENTRY} if e else dict(_NO_ENTRY)
    return row


# ========================================================================= per-split analyses


def _strata_results(
    sets: Sequence[EvalData],
    s: Mapping[str, Any],
    block: Mapping[str, Mapping[str, Any]],
    masks: Sequence[np.ndarray],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per entropy stratum: its metric block, and the Other-class rows (whole split first)."""
    d0 = sets[0]
    edges = s["entropy_bins"]
    strata: dict[str, Any] = {}
    other: dict[str, Any] = {"all": _other_row(block, d0.n)}
    for i, (name, mask) in enumerate(zip(stratum_names(edges), masks, strict=True)):
        sblock = _metric_block([d.subset(mask) for d in sets], s) if mask.any() else {}
        strata[name] = {
            "lo": edges[i],
            "hi": edges[i + 1],
            "n_utterances": {"all": int(mask.sum()), "hard": int((mask & (d0.hard >= 0)).sum())},
            "metrics": sblock,
        }
        other[name] = _other_row(sblock, int(mask.sum()))
    return strata, other


def _confusion(sets: Sequence[EvalData]) -> dict[str, Any]:
    per_seed_cm = [confusion_matrix(d.hard, d.pred) for d in sets]
    return {
        "rows": "consensus class (X excluded)",
        "columns": "predicted class",
        "summed": np.sum(per_seed_cm, axis=0).tolist() if per_seed_cm else [],
        "per_seed": [cm.tolist() for cm in per_seed_cm],
    }


def _reliability(sets: Sequence[EvalData], n_bins: int) -> dict[str, Any]:
    """Reliability-diagram data on hard-labelled utterances, pooled over seeds (ECE's bins)."""
    count = np.zeros(n_bins)
    s_conf = np.zeros(n_bins)
    s_acc = np.zeros(n_bins)
    for d in sets:
        keep = d.hard >= 0
        conf = d.probs[keep].max(axis=1)
        correct = (d.pred[keep] == d.hard[keep]).astype(np.float64)
        b = ece_bin(conf, n_bins)
        count += np.bincount(b, minlength=n_bins)
        s_conf += np.bincount(b, weights=conf, minlength=n_bins)
        s_acc += np.bincount(b, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mc, acc = s_conf / count, s_acc / count
    return {
        "edges": np.linspace(0.0, 1.0, n_bins + 1).tolist(),
        "count": [int(c) for c in count],
        "mean_confidence": [metrics_doc.number(v) for v in mc],
        "accuracy": [metrics_doc.number(v) for v in acc],
        "pooled_over_seeds": len(sets),
    }


def _examples(
    sets: Sequence[EvalData], entropy: np.ndarray, masks: Sequence[np.ndarray], names: Sequence[str]
) -> list[dict[str, Any]]:
    """One utterance per non-empty stratum: the median by (entropy, file_id) within the stratum."""
    d0 = sets[0]
    if not d0.n:
        return []
    mean_probs = np.mean([d.probs for d in sets], axis=0)
    fids = d0.file_ids.astype(str)
    out = []
    for name, mask in zip(names, masks, strict=True):
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        order = idx[np.lexsort((fids[idx], entropy[idx]))]
        i = int(order[(len(order) - 1) // 2])
        ex: dict[str, Any] = {
            "file_id": str(fids[i]),
            "stratum": name,
            "entropy_primary": float(entropy[i]),
            "consensus": CODES[d0.hard[i]] if d0.hard[i] >= 0 else NO_AGREEMENT,
            "p_primary": d0.p_primary[i].tolist(),
            "p_merged": d0.p_merged[i].tolist(),
            "probs": mean_probs[i].tolist(),
        }
        if d0.p_true is not None:
            ex["p_true"] = d0.p_true[i].tolist()
        out.append(ex)
    return out


def _split_metrics(
    sets: Sequence[EvalData], s: Mapping[str, Any], unpredicted: int, paths: Sequence[PathLike]
) -> dict[str, Any]:
    """Everything the metrics document holds about one split."""
    d0 = sets[0]
    block = _metric_block(sets, s)
    entropy, masks = split_strata(d0, s["entropy_bins"])
    strata, other = _strata_results(sets, s, block, masks)
    return {
        "n_seeds": len(sets),
        "prediction_files": [str(p) for p in paths],
        "n_utterances": {
            "all": d0.n,
            "hard": int((d0.hard >= 0).sum()),
            "labelled_without_prediction": int(unpredicted),
        },
        "metrics": block,
        "strata": strata,
        "other_class": other,
        "confusion_matrix": _confusion(sets),
        "reliability_diagram": _reliability(sets, s["ece_bins"]),
        "examples": _examples(sets, entropy, masks, stratum_names(s["entropy_bins"])),
    }


# ================================================================================ public API


def variant_metrics(
    pred_paths: Mapping[str, Sequence[PathLike]],
    labels_path: PathLike,
    evaluation: Mapping[str, Any],
    truth_path: PathLike | None = None,
    *,
    variant: str | None = None,
) -> dict[str, Any]:
    """The metrics document of one variant (layout: :mod:`sertools.evaluation.metrics_doc`).

    ``pred_paths`` maps each split to one prediction dump per seed (the same
    seed order for every split); ``evaluation`` is the config section
    (:data:`CONFIG_KEYS`; ``splits`` is not read here).
    """
    s = settings.resolve(evaluation)
    if not isinstance(pred_paths, Mapping) or not pred_paths:
        raise EvaluationError(
            "variant_metrics: need a mapping split -> list of prediction files (one per seed)"
        )
    labels = read_labels(labels_path)
    truth = read_truth(truth_path)
    doc: dict[str, Any] = {
        "schema": metrics_doc.SCHEMA,
        "variant": variant,
        "settings": s,
        "classes": list(CLASSES),
        "strata": stratum_names(s["entropy_bins"]),
        "has_truth": truth is not None,
        "splits": {},
    }
    for split in ordered(pred_paths):
        paths = list(pred_paths[split])
        sets, unpredicted = load_split(paths, labels, split, truth)
        doc["splits"][split] = _split_metrics(sets, s, unpredicted, paths)
    return doc


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    evaluation: Mapping[str, Any],
    seeds: Sequence[Any],
    variant: str | None,
) -> dict[str, Any]:
    """The ``metrics`` rule: write the metrics document of ``variant`` to ``outputs["metrics"]``.

    ``inputs``: one list of prediction dumps per split of ``evaluation["splits"]``
    (key = split name, one file per seed, in ``seeds`` order), ``labels`` (the
    label table) and optionally ``truth`` (the synthetic corpus's latent truth).
    """
    pred_paths = {s: seed_files(inputs[s], seeds, s) for s in evaluation["splits"]}
    doc = variant_metrics(pred_paths, inputs["labels"], evaluation, inputs.get("truth"), variant=variant)
    metrics_doc.write(outputs["metrics"], doc)
    return doc

"""Evaluation stage: prediction dumps of one variant -> a JSON of metrics with bootstrap CIs.

All numbers come from :mod:`sertools.metrics` (one fast multi-seed bootstrap per
utterance set). This module only chooses the utterance sets, joins the files
and arranges the results.

Utterance sets and metric names (per split, and again per entropy stratum):

* Hard metrics (``accuracy, macro_f1, weighted_f1, f1_<Class>, ece,
  brier_onehot``) always exclude X (no agreement) utterances.
* Distributional metrics (``jsd_*, kld_*, brier_primary``) and
  ``ccc_<dimension>``, ``other_*`` use every utterance with votes (X
  included). The same distributional metrics on the hard-labelled utterances
  only carry the suffix ``_noX`` (``jsd_primary_noX``); that set is
  bootstrapped on its own (resampled within the hard-labelled utterances).
* ``jsd_true, kld_true`` (and ``_noX``) compare with the latent truth of the
  synthetic corpus when ``truth_path`` is given.

Every metric entry holds ``mean`` (over seeds), ``sd_seeds`` (ddof=1, null for
one seed), ``ci_low, ci_high`` (percentile bootstrap of the seed-averaged
metric: the same resamples for every seed), ``per_seed`` (point values in the
order of the given paths) and ``n`` (utterances the metric is computed on).
NaN is written as JSON ``null``.

Entropy strata use the normalised entropy of the primary-vote distribution
(``entropy_primary`` of the label table) and the edges ``entropy_bins``
(last bin closed). Each stratum is resampled within itself.

Config keys read (the ``evaluation`` section): ``bootstrap_resamples``,
``bootstrap_seed``, ``ci_level``, ``entropy_bins``, ``prob_floor``, ``ece_bins``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sertools.classes import CLASSES, CODES, NO_AGREEMENT
from sertools.evaluation.scores import (
    EvalData,
    PairedCI,
    SeedCI,
    bootstrap_multiseed,
    compute_all,
    confusion_matrix,
    entropy_strata,
    paired_bootstrap,
    stratum_names,
)
from sertools.io import write_json

__all__ = [
    "DIST_METRICS",
    "EVAL_KEYS",
    "HARD_METRICS",
    "SIGNIFICANCE_METRICS",
    "SPLIT_ORDER",
    "EvaluationError",
    "load_split",
    "run_significance",
    "run_variant_metrics",
    "significance",
    "variant_metrics",
]

PathLike = str | Path

EVAL_KEYS: tuple[str, ...] = (
    "bootstrap_resamples",
    "bootstrap_seed",
    "ci_level",
    "entropy_bins",
    "prob_floor",
    "ece_bins",
)
SPLIT_ORDER: tuple[str, ...] = ("Train", "Development", "Test1", "Test2")
HARD_METRICS: frozenset[str] = frozenset(
    {"accuracy", "macro_f1", "weighted_f1", "ece", "brier_onehot", *(f"f1_{c}" for c in CLASSES)}
)
# Metrics that get a "_noX" twin computed on the hard-labelled utterances only.
DIST_METRICS: tuple[str, ...] = (
    "jsd_primary",
    "kld_primary",
    "jsd_merged",
    "kld_merged",
    "jsd_true",
    "kld_true",
    "brier_primary",
)
# Compared against the baseline by the paired bootstrap (those present are used).
SIGNIFICANCE_METRICS: tuple[str, ...] = (
    "macro_f1",
    "accuracy",
    "jsd_primary",
    "kld_primary",
    "jsd_merged",
    "kld_merged",
    "jsd_true",
    "kld_true",
    "ccc_arousal",
    "ccc_valence",
    "ccc_dominance",
    "ece",
    "other_share_pred",
    "other_mass",
)
# metric-engine name -> name in the Other-class analysis
OTHER_FIELDS: dict[str, str] = {
    "other_share_pred": "other_pred_share",
    "other_mass": "other_mass",
    "other_share_human": "human_other_share",
}
_SCHEMA_METRICS = "sertools.variant_metrics/1"
_SCHEMA_SIG = "sertools.significance/1"


class EvaluationError(ValueError):
    """Inputs of the evaluation stage are missing or inconsistent."""


# ============================================================================ settings and IO


def _settings(eval_cfg: Mapping[str, Any]) -> dict[str, Any]:
    missing = [k for k in EVAL_KEYS if k not in eval_cfg]
    if missing:
        raise EvaluationError(f"evaluation config lacks key(s) {missing} (pass config['evaluation'])")
    s = {k: eval_cfg[k] for k in EVAL_KEYS}
    s["bootstrap_resamples"] = int(s["bootstrap_resamples"])
    s["bootstrap_seed"] = int(s["bootstrap_seed"])
    s["ci_level"] = float(s["ci_level"])
    s["entropy_bins"] = [float(e) for e in s["entropy_bins"]]
    s["prob_floor"] = float(s["prob_floor"])
    s["ece_bins"] = int(s["ece_bins"])
    if s["bootstrap_resamples"] < 1:
        raise EvaluationError("evaluation.bootstrap_resamples must be >= 1")
    if not 0 < s["ci_level"] < 1:
        raise EvaluationError("evaluation.ci_level must lie in (0, 1)")
    stratum_names(s["entropy_bins"])  # validates the edges
    return s


def _boot_kw(s: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "B": s["bootstrap_resamples"],
        "seed": s["bootstrap_seed"],
        "ci": s["ci_level"],
        "prob_floor": s["prob_floor"],
        "ece_bins": s["ece_bins"],
    }


def _read_parquet(path: PathLike, what: str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise EvaluationError(f"{what} not found: {p}")
    try:
        return pd.read_parquet(p)
    except Exception as err:  # pyarrow raises several types for a broken file
        raise EvaluationError(f"{what} {p} is not a readable parquet file ({err})") from None


def _read_labels(path: PathLike) -> pd.DataFrame:
    df = _read_parquet(path, "label table")
    need = ("file_id", "split", "hard_label", "p_primary", "p_merged")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise EvaluationError(f"label table {path} lacks column(s) {missing}")
    return df


def _read_truth(path: PathLike | None) -> pd.DataFrame | None:
    if path is None:
        return None
    df = _read_parquet(path, "latent truth")
    if "file_id" not in df.columns or "p_true" not in df.columns:
        raise EvaluationError(f"latent truth {path} needs the columns file_id and p_true")
    return df[["file_id", "p_true"]]


def load_split(
    pred_paths: Sequence[PathLike],
    labels: pd.DataFrame,
    split: str,
    truth: pd.DataFrame | None = None,
) -> tuple[list[EvalData], int]:
    """One :class:`EvalData` per seed for ``split``, aligned on ``file_id``.

    Returns the sets and the number of labelled utterances of the split that
    have no prediction (utterances the manifest dropped, e.g. missing audio).
    Every seed must predict the same utterances.
    """
    if isinstance(pred_paths, (str, Path)) or not len(pred_paths):
        raise EvaluationError(f"{split}: need a non-empty list of prediction files (one per seed)")
    lab = labels[labels["split"] == split]
    sets: list[EvalData] = []
    for path in pred_paths:
        pred = _read_parquet(path, f"prediction dump of {split}")
        if "split" in pred.columns and len(pred) and not (pred["split"] == split).all():
            found = sorted(set(pred["split"].astype(str)))
            raise EvaluationError(f"{path}: expected split {split!r}, the file holds {found}")
        try:
            d = EvalData.from_frames(pred, lab, truth, allow_extra_labels=True)
        except ValueError as err:
            raise EvaluationError(f"{path} ({split}): {err}") from None
        if sets and not np.array_equal(d.file_ids, sets[0].file_ids):
            raise EvaluationError(
                f"{path}: predicts other utterances than {pred_paths[0]} "
                f"({d.n} vs {sets[0].n}); every seed must cover the same utterances"
            )
        sets.append(d)
    return sets, len(lab) - sets[0].n


def _entropy_of(d: EvalData) -> np.ndarray:
    if d.entropy is not None and np.all(np.isfinite(d.entropy)):
        return d.entropy
    from sertools.labels.distributions import normalised_entropy  # lazy: pulls in the corpus readers

    return normalised_entropy(d.p_primary)


def _ordered(splits: Sequence[str]) -> list[str]:
    rank = {s: i for i, s in enumerate(SPLIT_ORDER)}
    return sorted(splits, key=lambda s: (rank.get(s, len(rank)), s))


# ================================================================================ blocks


def _num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _entry(ci: SeedCI, per_seed: Sequence[float], n: int) -> dict[str, Any]:
    vals = np.asarray(per_seed, dtype=np.float64)
    ok = vals[np.isfinite(vals)]
    mean = float(ok.mean()) if len(ok) == len(vals) and len(vals) else float("nan")
    sd = float(np.std(vals, ddof=1)) if len(vals) > 1 and len(ok) == len(vals) else float("nan")
    return {
        "mean": _num(mean),
        "sd_seeds": _num(sd),
        "ci_low": _num(ci.lo),
        "ci_high": _num(ci.hi),
        "per_seed": [_num(v) for v in vals],
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
    kw = _boot_kw(s)
    out: dict[str, dict[str, Any]] = {}
    boot = bootstrap_multiseed(sets, **kw)
    points = [compute_all(d, s["prob_floor"], s["ece_bins"]) for d in sets]
    for k, ci in boot.items():
        if k in ("n_all", "n_hard"):
            continue
        out[k] = _entry(ci, [p[k] for p in points], _metric_n(k, n_all, n_hard))
    if n_hard:
        sub = [d.subset(hard) for d in sets] if n_hard < n_all else list(sets)
        boot_h = boot if n_hard == n_all else bootstrap_multiseed(sub, **kw)
        points_h = (
            points if n_hard == n_all else [compute_all(d, s["prob_floor"], s["ece_bins"]) for d in sub]
        )
        for k in DIST_METRICS:
            if k in boot_h:
                out[f"{k}_noX"] = _entry(boot_h[k], [p[k] for p in points_h], n_hard)
    return out


def _other_row(block: Mapping[str, Mapping[str, Any]], n_all: int) -> dict[str, Any]:
    row: dict[str, Any] = {"n_utterances": int(n_all)}
    for src, dst in OTHER_FIELDS.items():
        e = block.get(src)
        row[dst] = (
            {k: e[k] for k in ("mean", "sd_seeds", "ci_low", "ci_high")}
            if e
            else {"mean": None, "sd_seeds": None, "ci_low": None, "ci_high": None}
        )
    return row


def _ece_bins_of(conf: np.ndarray, n_bins: int) -> np.ndarray:
    """Right-closed equal-width bins ((m-1)/M, m/M], as the ECE in sertools.metrics."""
    return np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def _reliability(sets: Sequence[EvalData], n_bins: int) -> dict[str, Any]:
    """Reliability-diagram data on hard-labelled utterances, pooled over seeds."""
    count = np.zeros(n_bins)
    s_conf = np.zeros(n_bins)
    s_acc = np.zeros(n_bins)
    for d in sets:
        keep = d.hard >= 0
        conf = d.probs[keep].max(axis=1)
        correct = (d.pred[keep] == d.hard[keep]).astype(np.float64)
        b = _ece_bins_of(conf, n_bins)
        count += np.bincount(b, minlength=n_bins)
        s_conf += np.bincount(b, weights=conf, minlength=n_bins)
        s_acc += np.bincount(b, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mc, acc = s_conf / count, s_acc / count
    return {
        "edges": np.linspace(0.0, 1.0, n_bins + 1).tolist(),
        "count": [int(c) for c in count],
        "mean_confidence": [_num(v) for v in mc],
        "accuracy": [_num(v) for v in acc],
        "pooled_over_seeds": len(sets),
    }


def _examples(
    sets: Sequence[EvalData], entropy: np.ndarray, masks: Sequence[np.ndarray], names: Sequence[str]
) -> list[dict[str, Any]]:
    """One utterance per non-empty stratum: the median by (entropy, file_id) within the stratum."""
    d0 = sets[0]
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
    d0 = sets[0]
    n_all, n_hard = d0.n, int((d0.hard >= 0).sum())
    res: dict[str, Any] = {
        "n_seeds": len(sets),
        "prediction_files": [str(p) for p in paths],
        "n_utterances": {"all": n_all, "hard": n_hard, "labelled_without_prediction": int(unpredicted)},
    }
    block = _metric_block(sets, s)
    res["metrics"] = block
    names = stratum_names(s["entropy_bins"])
    edges = s["entropy_bins"]
    h = _entropy_of(d0) if n_all else np.zeros(0)
    masks = entropy_strata(h, edges) if n_all else [np.zeros(0, bool)] * len(names)
    strata: dict[str, Any] = {}
    other: dict[str, Any] = {"all": _other_row(block, n_all)}
    for i, (name, mask) in enumerate(zip(names, masks, strict=True)):
        sub = [d.subset(mask) for d in sets] if n_all else []
        sblock = _metric_block(sub, s) if mask.any() else {}
        strata[name] = {
            "lo": edges[i],
            "hi": edges[i + 1],
            "n_utterances": {"all": int(mask.sum()), "hard": int((mask & (d0.hard >= 0)).sum())},
            "metrics": sblock,
        }
        other[name] = _other_row(sblock, int(mask.sum()))
    res["strata"] = strata
    res["other_class"] = other
    per_seed_cm = [confusion_matrix(d.hard, d.pred) for d in sets]
    res["confusion_matrix"] = {
        "rows": "consensus class (X excluded)",
        "columns": "predicted class",
        "summed": np.sum(per_seed_cm, axis=0).tolist() if per_seed_cm else [],
        "per_seed": [cm.tolist() for cm in per_seed_cm],
    }
    res["reliability_diagram"] = _reliability(sets, s["ece_bins"])
    res["examples"] = _examples(sets, h, masks, names) if n_all else []
    return res


def _check_split_paths(pred_paths: Mapping[str, Sequence[PathLike]], what: str) -> None:
    if not isinstance(pred_paths, Mapping) or not pred_paths:
        raise EvaluationError(f"{what}: need a mapping split -> list of prediction files (one per seed)")


# ================================================================================ public API


def variant_metrics(
    pred_paths: Mapping[str, Sequence[PathLike]],
    labels_path: PathLike,
    eval_cfg: Mapping[str, Any],
    truth_path: PathLike | None = None,
    *,
    variant: str | None = None,
) -> dict[str, Any]:
    """All metrics of one variant (see the module docstring); a JSON-serialisable dict.

    ``pred_paths`` maps each split to one prediction dump per seed (the same
    seed order for every split). Layout::

        {schema, variant, settings, classes, strata: [names],
         splits: {split: {n_seeds, prediction_files, n_utterances: {all, hard,
                  labelled_without_prediction}, metrics: {name: entry},
                  strata: {name: {lo, hi, n_utterances, metrics}},
                  other_class: {"all" | stratum: {n_utterances, other_pred_share,
                                other_mass, human_other_share}},
                  confusion_matrix: {summed, per_seed}, reliability_diagram:
                  {edges, count, mean_confidence, accuracy}, examples: [...]}}}
    """
    s = _settings(eval_cfg)
    _check_split_paths(pred_paths, "variant_metrics")
    labels = _read_labels(labels_path)
    truth = _read_truth(truth_path)
    out: dict[str, Any] = {
        "schema": _SCHEMA_METRICS,
        "variant": variant,
        "settings": s,
        "classes": list(CLASSES),
        "strata": stratum_names(s["entropy_bins"]),
        "has_truth": truth is not None,
        "splits": {},
    }
    for split in _ordered(list(pred_paths)):
        paths = list(pred_paths[split])
        sets, unpredicted = load_split(paths, labels, split, truth)
        out["splits"][split] = _split_metrics(sets, s, unpredicted, paths)
    return out


def run_variant_metrics(
    pred_paths: Mapping[str, Sequence[PathLike]],
    labels_path: PathLike,
    eval_cfg: Mapping[str, Any],
    out_path: PathLike,
    truth_path: PathLike | None = None,
    *,
    variant: str | None = None,
) -> dict[str, Any]:
    """:func:`variant_metrics`, written atomically to ``out_path`` as JSON."""
    res = variant_metrics(pred_paths, labels_path, eval_cfg, truth_path, variant=variant)
    write_json(out_path, res)
    return res


def _paired_entry(p: PairedCI) -> dict[str, Any]:
    return {
        "diff": _num(p.diff),
        "ci_low": _num(p.lo),
        "ci_high": _num(p.hi),
        "p_value": _num(p.p_value),
        "variant": _num(p.variant),
        "baseline": _num(p.baseline),
    }


def _paired_block(v: Sequence[EvalData], b: Sequence[EvalData], s: Mapping[str, Any]) -> dict[str, Any]:
    if not v or v[0].n == 0:
        return {}
    res = paired_bootstrap(v, b, **_boot_kw(s))
    return {k: _paired_entry(res[k]) for k in SIGNIFICANCE_METRICS if k in res}


def significance(
    variant_paths: Mapping[str, Sequence[PathLike]],
    baseline_paths: Mapping[str, Sequence[PathLike]],
    labels_path: PathLike,
    eval_cfg: Mapping[str, Any],
    truth_path: PathLike | None = None,
    *,
    variant: str | None = None,
    baseline: str | None = None,
) -> dict[str, Any]:
    """Paired bootstrap of ``variant - baseline`` (seed-averaged, shared resamples).

    Per split and per entropy stratum (``"all"`` = whole split), for the
    metrics of :data:`SIGNIFICANCE_METRICS` that exist: ``diff, ci_low,
    ci_high, p_value`` (two-sided, uncorrected) and both point values. Holm
    correction needs every variant and is applied by :mod:`sertools.tables`.
    The baseline name defaults to ``eval_cfg["baseline_variant"]``.
    """
    s = _settings(eval_cfg)
    _check_split_paths(variant_paths, "significance (variant)")
    _check_split_paths(baseline_paths, "significance (baseline)")
    absent = sorted(set(variant_paths) - set(baseline_paths))
    if absent:
        raise EvaluationError(f"significance: the baseline has no predictions for split(s) {absent}")
    labels = _read_labels(labels_path)
    truth = _read_truth(truth_path)
    names = stratum_names(s["entropy_bins"])
    out: dict[str, Any] = {
        "schema": _SCHEMA_SIG,
        "variant": variant,
        "baseline": baseline if baseline is not None else eval_cfg.get("baseline_variant"),
        "settings": s,
        "strata": names,
        "splits": {},
    }
    for split in _ordered(list(variant_paths)):
        v_sets, _ = load_split(list(variant_paths[split]), labels, split, truth)
        b_sets, _ = load_split(list(baseline_paths[split]), labels, split, truth)
        if not np.array_equal(v_sets[0].file_ids, b_sets[0].file_ids):
            raise EvaluationError(
                f"{split}: the variant ({v_sets[0].n} utterances) and the baseline ({b_sets[0].n}) "
                "were not evaluated on the same utterances"
            )
        n = v_sets[0].n
        split_out: dict[str, Any] = {"all": {"n_utterances": n, "metrics": _paired_block(v_sets, b_sets, s)}}
        h = _entropy_of(v_sets[0]) if n else np.zeros(0)
        masks = entropy_strata(h, s["entropy_bins"]) if n else [np.zeros(0, bool)] * len(names)
        for name, mask in zip(names, masks, strict=True):
            block = {}
            if mask.any():
                block = _paired_block([d.subset(mask) for d in v_sets], [d.subset(mask) for d in b_sets], s)
            split_out[name] = {"n_utterances": int(mask.sum()), "metrics": block}
        out["splits"][split] = split_out
    return out


def run_significance(
    variant_paths: Mapping[str, Sequence[PathLike]],
    baseline_paths: Mapping[str, Sequence[PathLike]],
    labels_path: PathLike,
    eval_cfg: Mapping[str, Any],
    out_path: PathLike,
    truth_path: PathLike | None = None,
    *,
    variant: str | None = None,
    baseline: str | None = None,
) -> dict[str, Any]:
    """:func:`significance`, written atomically to ``out_path`` as JSON."""
    res = significance(
        variant_paths, baseline_paths, labels_path, eval_cfg, truth_path, variant=variant, baseline=baseline
    )
    write_json(out_path, res)
    return res

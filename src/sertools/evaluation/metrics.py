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
* The paper release's metrics: ``uar`` and ``macro_f1_published`` (hard),
  ``jsd_paper, kld_paper`` (nats, against ``evaluation.paper_reference``) and
  ``ccc_mean``.

The hard labels of ``metrics`` are those of the common scheme
``evaluation.common_hard_labels``; the block ``own`` repeats the hard metrics
under the variant's own ``hard_labels`` (:mod:`sertools.evaluation.schemes`).
The same is repeated per entropy stratum (:mod:`sertools.evaluation.strata`),
each resampled within itself: ``strata`` on the common distribution
``evaluation.strata_distribution`` and, for a variant with distributional
targets, ``strata_own`` on its own target distribution (own scheme).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sertools.classes import CLASS_SETS, DIMENSIONS, NO_AGREEMENT
from sertools.data.dim_scale import to_model_scale, to_rating_scale
from sertools.evaluation import metrics_doc, schemes, settings
from sertools.evaluation.bootstrap import SeedCI, bootstrap_multiseed
from sertools.evaluation.evaldata import (
    EvalData,
    EvaluationError,
    hard_labels,
    label_column,
    load_split,
    read_label_view,
    read_labels,
    read_truth,
    seed_files,
)
from sertools.evaluation.metricset import compute_all
from sertools.evaluation.strata import entropy_strata, split_strata, stratum_names
from sertools.labels.view import INTENDED_COLUMN
from sertools.measures import confusion_matrix, ece_bin, normalised_entropy
from sertools.splits import ordered

__all__ = [
    "CONFIG_KEYS",
    "DIST_METRICS",
    "HARD_METRICS",
    "OWN_METRICS",
    "EvaluationError",
    "read_labels",
    "run",
    "variant_metrics",
]

PathLike = str | Path

#: keys of the ``evaluation`` config section this stage reads
CONFIG_KEYS: tuple[str, ...] = ("splits", *settings.KEYS, *schemes.COMMON_DEFAULTS, "ccc_targets")
CCC_TARGETS = ("ratings", "model_scale")
HARD_METRICS: frozenset[str] = frozenset(
    {
        "accuracy",
        "macro_f1",
        "weighted_f1",
        "uar",
        "macro_f1_published",
        "ece",
        "brier_onehot",
        *(f"f1_{c}" for classes in CLASS_SETS.values() for c in classes.names),
    }
)
#: the metrics of the ``own`` block: every metric that depends on the hard labels
OWN_METRICS: frozenset[str] = HARD_METRICS
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


def _metric_block(
    sets: Sequence[EvalData], s: Mapping[str, Any], with_no_x: bool = True
) -> dict[str, dict[str, Any]]:
    """Every metric of one utterance set (seed-averaged, with CIs), plus the ``_noX`` twins."""
    n_all = sets[0].n
    if n_all == 0:
        return {}
    hard = sets[0].hard >= 0
    n_hard = int(hard.sum())
    kw = settings.bootstrap_kw(s)
    out: dict[str, dict[str, Any]] = {}
    boot = bootstrap_multiseed(sets, method=s["ci_method"], **kw)
    points = [compute_all(d, s["prob_floor"], s["ece_bins"]) for d in sets]
    for k, ci in boot.items():
        if k in ("n_all", "n_hard"):
            continue
        out[k] = _entry(ci, [p[k] for p in points], _metric_n(k, n_all, n_hard))
    if n_hard and with_no_x:
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
        boot = bootstrap_multiseed(sub, method=s["ci_method"], **settings.bootstrap_kw(s))
        points = [compute_all(d, s["prob_floor"], s["ece_bins"]) for d in sub]
    return {f"{k}_noX": _entry(boot[k], [p[k] for p in points], n_hard) for k in DIST_METRICS if k in boot}


def _intended_block(sets: Sequence[EvalData], s: Mapping[str, Any], intended: np.ndarray) -> dict[str, Any]:
    """The hard-label metrics against the actor's intended emotion (every utterance has one), with
    their confusion matrix: the same predictions as the perceived-consensus block beside it."""
    intended_sets = [d.with_hard(intended) for d in sets]
    block = _metric_block(intended_sets, s, with_no_x=False)
    return {
        "hard_column": INTENDED_COLUMN,
        "n_utterances": {"hard": int((intended >= 0).sum())},
        "metrics": {k: v for k, v in block.items() if k in HARD_METRICS},
        "confusion_matrix": _confusion(intended_sets, rows="intended class"),
    }


def _other_row(block: Mapping[str, Mapping[str, Any]], n_all: int) -> dict[str, Any]:
    row: dict[str, Any] = {"n_utterances": int(n_all)}
    for src, dst in OTHER_FIELDS.items():
        e = block.get(src)
        row[dst] = {k: e[k] for k in _NO_ENTRY} if e else dict(_NO_ENTRY)
    return row


# ========================================================================= per-split analyses


def _strata_blocks(
    sets: Sequence[EvalData], s: Mapping[str, Any], masks: Sequence[np.ndarray]
) -> dict[str, Any]:
    """Per entropy stratum: its edges, sizes and metric block."""
    d0 = sets[0]
    edges = s["entropy_bins"]
    strata: dict[str, Any] = {}
    for i, (name, mask) in enumerate(zip(stratum_names(edges), masks, strict=True)):
        strata[name] = {
            "lo": edges[i],
            "hi": edges[i + 1],
            "n_utterances": {"all": int(mask.sum()), "hard": int((mask & (d0.hard >= 0)).sum())},
            "metrics": _metric_block([d.subset(mask) for d in sets], s) if mask.any() else {},
        }
    return strata


def _strata_results(
    sets: Sequence[EvalData],
    s: Mapping[str, Any],
    block: Mapping[str, Mapping[str, Any]],
    masks: Sequence[np.ndarray],
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Per entropy stratum: its metric block, and the Other-class rows (whole split first; None for
    a class set without Other)."""
    strata = _strata_blocks(sets, s, masks)
    if sets[0].classes.other is None:
        return strata, None
    other: dict[str, Any] = {"all": _other_row(block, sets[0].n)}
    for name, st in strata.items():
        other[name] = _other_row(st["metrics"], st["n_utterances"]["all"])
    return strata, other


def _confusion(sets: Sequence[EvalData], rows: str = "consensus class (X excluded)") -> dict[str, Any]:
    per_seed_cm = [confusion_matrix(d.hard, d.pred, d.classes.k) for d in sets]
    return {
        "rows": rows,
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
    sets: Sequence[EvalData],
    entropy: np.ndarray,
    masks: Sequence[np.ndarray],
    names: Sequence[str],
    primary_strata: bool = True,
    consensus: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """One utterance per non-empty stratum: the median by (entropy, file_id) within the stratum.

    ``entropy`` is the stratifying entropy; ``entropy_primary`` of an example
    is that value when the strata are on the primary votes, else computed from
    ``p_primary``. ``consensus``: the consensus labels (-1 = X) when the hard
    labels of ``sets`` are another scheme's.
    """
    d0 = sets[0]
    if not d0.n:
        return []
    mean_probs = np.mean([d.probs for d in sets], axis=0)
    fids = d0.require_file_ids().astype(str)
    cons = d0.hard if consensus is None else consensus
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
            "entropy_primary": (
                float(entropy[i]) if primary_strata else float(normalised_entropy(d0.p_primary[i : i + 1])[0])
            ),
            "consensus": d0.classes.codes[cons[i]] if cons[i] >= 0 else NO_AGREEMENT,
            "p_primary": d0.p_primary[i].tolist(),
            "p_merged": None if d0.p_merged is None else d0.p_merged[i].tolist(),
            "probs": mean_probs[i].tolist(),
        }
        if not primary_strata:
            ex["entropy_strata"] = float(entropy[i])
        if d0.p_true is not None:
            ex["p_true"] = d0.p_true[i].tolist()
        out.append(ex)
    return out


class _Own:
    """The variant's own label scheme and target distribution, as read from its config."""

    def __init__(self, variant_cfg: Mapping[str, Any] | None, common: Mapping[str, str]) -> None:
        self.scheme = schemes.own_scheme(variant_cfg)
        self.column = schemes.hard_column(self.scheme)
        self.distribution = schemes.own_distribution(variant_cfg)
        self.same_scheme = self.scheme == common["common_hard_labels"]
        self.same_strata = self.same_scheme and self.distribution == common["strata_distribution"]

    def check(self, labels: pd.DataFrame) -> None:
        """The label table has the own scheme's column and the own distribution."""
        if self.column not in labels.columns:
            raise EvaluationError(f"label table lacks column {self.column!r} (the variant's hard_labels)")
        if self.distribution is not None and not (
            self.distribution == "primary" and "entropy_primary" in labels.columns
        ):
            col = schemes.distribution_column(self.distribution)
            if col not in labels.columns:
                raise EvaluationError(f"label table lacks column {col!r} (the variant's targets)")


def _own_block(
    own_sets: Sequence[EvalData],
    s: Mapping[str, Any],
    own: _Own,
    common_block: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The hard-label metrics under the variant's own scheme, with its confusion matrix."""
    if own.same_scheme:
        metrics = {k: v for k, v in common_block.items() if k in OWN_METRICS}
    else:
        block = _metric_block(own_sets, s, with_no_x=False)
        metrics = {k: v for k, v in block.items() if k in OWN_METRICS}
    return {
        "scheme": own.scheme,
        "hard_column": own.column,
        "n_utterances": {"hard": int((own_sets[0].hard >= 0).sum())},
        "metrics": metrics,
        "confusion_matrix": _confusion(own_sets),
    }


def _own_entropy(labels: pd.DataFrame, d0: EvalData, distribution: str) -> np.ndarray:
    """The normalised entropy of the own target distribution, in the order of ``d0``."""
    file_ids = d0.require_file_ids()
    lab = labels[labels["file_id"].isin(file_ids)]
    h = pd.Series(schemes.strata_entropy(lab, distribution), index=lab["file_id"].to_numpy())
    values = h.loc[file_ids].to_numpy(dtype=np.float64)
    if distribution == "primary" and not np.all(np.isfinite(values)):
        values = normalised_entropy(d0.p_primary)
    return values


def _own_strata(
    own_sets: Sequence[EvalData],
    s: Mapping[str, Any],
    own: _Own,
    labels: pd.DataFrame,
    common_strata: Mapping[str, Any],
) -> dict[str, Any] | None:
    """Strata on the variant's own target distribution, scored on its own scheme (None for hard targets)."""
    if own.distribution is None:
        return None
    if own.same_strata:
        strata = dict(common_strata)
    elif not own_sets[0].n:
        strata = _strata_blocks(own_sets, s, [np.zeros(0, bool)] * len(stratum_names(s["entropy_bins"])))
    else:
        h = _own_entropy(labels, own_sets[0], own.distribution)
        strata = _strata_blocks(own_sets, s, entropy_strata(h, s["entropy_bins"]))
    return {"distribution": own.distribution, "scheme": own.scheme, "strata": strata}


def _split_metrics(
    sets: Sequence[EvalData],
    s: Mapping[str, Any],
    unpredicted: int,
    paths: Sequence[PathLike],
    own: _Own,
    labels: pd.DataFrame,
    primary_strata: bool,
    consensus_scheme: bool,
) -> dict[str, Any]:
    """Everything the metrics document holds about one split."""
    d0 = sets[0]
    consensus = None
    if not consensus_scheme and d0.n:
        consensus = hard_labels(label_column(labels, d0.require_file_ids(), "hard_label"))
    block = _metric_block(sets, s)
    entropy, masks = split_strata(d0, s["entropy_bins"])
    strata, other = _strata_results(sets, s, block, masks)
    if own.same_scheme:
        own_sets = list(sets)
    else:
        own_hard = hard_labels(label_column(labels, d0.require_file_ids(), own.column)) if d0.n else d0.hard
        own_sets = [d.with_hard(own_hard) for d in sets]
    split_result: dict[str, Any] = {
        "n_seeds": len(sets),
        "prediction_files": [str(p) for p in paths],
        "n_utterances": {
            "all": d0.n,
            "hard": int((d0.hard >= 0).sum()),
            "labelled_without_prediction": int(unpredicted),
        },
        "metrics": block,
        "own": _own_block(own_sets, s, own, block),
        "strata": strata,
        "strata_own": _own_strata(own_sets, s, own, labels, strata),
        "other_class": other,
        "confusion_matrix": _confusion(sets),
        "reliability_diagram": _reliability(sets, s["ece_bins"]),
        "examples": _examples(
            sets, entropy, masks, stratum_names(s["entropy_bins"]), primary_strata, consensus
        ),
    }
    if INTENDED_COLUMN in labels.columns:  # a corpus with an intended emotion: scored beside the consensus
        intended = (
            hard_labels(label_column(labels, d0.require_file_ids(), INTENDED_COLUMN)) if d0.n else d0.hard
        )
        split_result["intended"] = _intended_block(sets, s, intended)
    return split_result


# ================================================================================ public API


def variant_metrics(
    pred_paths: Mapping[str, Sequence[PathLike]],
    labels_path: PathLike,
    evaluation: Mapping[str, Any],
    truth_path: PathLike | None = None,
    *,
    variant: str | None = None,
    variant_cfg: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The metrics document of one variant (layout: :mod:`sertools.evaluation.metrics_doc`).

    ``pred_paths`` maps each split to one prediction dump per seed (the same
    seed order for every split); ``evaluation`` is the config section
    (:data:`CONFIG_KEYS`; ``splits`` is not read here; absent scheme keys take
    their defaults). ``variant_cfg`` is the variant's config section
    (``targets``, ``hard_labels``, ``dim_scale`` for ``evaluation.ccc_targets: model_scale``); without it
    the own scheme is ``consensus`` and there are no own-target strata.
    """
    s = settings.resolve(evaluation)
    common = schemes.resolve(evaluation)
    own = _Own(variant_cfg, common)
    if not isinstance(pred_paths, Mapping) or not pred_paths:
        raise EvaluationError(
            "variant_metrics: need a mapping split -> list of prediction files (one per seed)"
        )
    ccc_targets = str(evaluation["ccc_targets"])
    dim_scale = str((variant_cfg or {}).get("dim_scale") or "1_7")
    view = read_label_view(labels_path)
    labels = ccc_reference(view.table, ccc_targets, dim_scale)
    labels, columns = schemes.label_columns(labels, common, reference=True)
    own.check(labels)
    truth = read_truth(truth_path)
    doc: dict[str, Any] = {
        "schema": metrics_doc.SCHEMA,
        "variant": variant,
        "model": (variant_cfg or {}).get("model"),  # its label (sertools.config.model_label), if given
        "settings": s,
        "schemes": {
            **common,
            "own_hard_labels": own.scheme,
            "own_distribution": own.distribution,
            "ccc_targets": ccc_targets,
            "dim_scale": dim_scale,
        },
        "classes": list(view.classes.names),
        "strata": stratum_names(s["entropy_bins"]),
        "has_truth": truth is not None,
        "splits": {},
    }
    primary_strata = common["strata_distribution"] == "primary"
    consensus_scheme = common["common_hard_labels"] == "consensus"
    for split in ordered(pred_paths):
        paths = list(pred_paths[split])
        sets, unpredicted = load_split(paths, labels, split, truth, view.classes, **columns)
        lab = labels[labels["split"] == split]
        doc["splits"][split] = _split_metrics(
            sets, s, unpredicted, paths, own, lab, primary_strata, consensus_scheme
        )
    return doc


def ccc_reference(labels: pd.DataFrame, ccc_targets: str, dim_scale: str) -> pd.DataFrame:
    """The label table whose A/V/D columns CCC is scored against: the ratings as rated (``ratings``), or
    as the row's ``dim_scale`` trains on them and maps back to 1-7 (``model_scale``: ``neg1_1`` clips
    them to [2, 6], the paper release's targets; ``unit`` and ``1_7`` leave them)."""
    if ccc_targets not in CCC_TARGETS:
        raise EvaluationError(
            f"evaluation.ccc_targets must be one of {list(CCC_TARGETS)}, got {ccc_targets!r}"
        )
    present = [d for d in DIMENSIONS if d in labels.columns]
    if ccc_targets == "ratings" or not present:
        return labels
    out = labels.copy()
    for d in present:
        values = out[d].to_numpy(dtype=np.float64)
        out[d] = to_rating_scale(to_model_scale(values, dim_scale), dim_scale)
    return out


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    evaluation: Mapping[str, Any],
    seeds: Sequence[Any],
    variant: str | None,
    variant_cfg: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``metrics`` rule: write the metrics document of ``variant`` to ``outputs["metrics"]``.

    ``inputs``: one list of prediction dumps per split of ``evaluation["splits"]``
    (key = split name, one file per seed, in ``seeds`` order), ``labels`` (the
    label table) and optionally ``truth`` (the synthetic corpus's latent truth).
    ``variant_cfg``: the variant's config section (its own hard-label scheme
    and target distribution).
    """
    pred_paths = {s: seed_files(inputs[s], seeds, s) for s in evaluation["splits"]}
    doc = variant_metrics(
        pred_paths,
        inputs["labels"],
        evaluation,
        inputs.get("truth"),
        variant=variant,
        variant_cfg=variant_cfg,
    )
    metrics_doc.write(outputs["metrics"], doc)
    return doc

"""Evaluation metrics and a fast percentile bootstrap (numpy/scipy only).

Conventions (see ``methods.md`` section 4):

* **Hard metrics** (accuracy, macro-/weighted-F1, per-class F1, confusion
  matrix) use the utterances with a consensus class (``hard >= 0``); X
  utterances (``hard == -1``) are excluded. Labels are always ``range(9)``
  and a zero denominator gives 0, so a class absent from both truth and
  prediction has F1 = 0 and still counts in the macro mean. This matches
  sklearn's ``f1_score(labels=range(9), average=..., zero_division=0)``.
* **Distributional metrics** use every utterance. JSD is the divergence (not
  scipy's distance) in base 2, so it lies in [0, 1]. KLD is KL(human ‖ model)
  in nats, with model probabilities floored at ``prob_floor`` and
  renormalised before the logarithm, and 0·log 0 = 0.
* **CCC** per attribute over the whole split with population variances;
  utterances where either value is NaN are skipped for that attribute.
* **ECE**: ``ece_bins`` equal-width bins on the max probability, right-closed
  (``((m-1)/M, m/M]``), confidence vs accuracy of ``pred``, on hard-labelled
  utterances. **Brier**: sum over classes of squared errors, averaged; against
  one-hot consensus (hard-labelled) and against the primary-vote
  distribution (all utterances).

Bootstrap design. Every metric is a function of a few *sums over
utterances* of per-utterance statistics (per-class TP / true / predicted
indicators, per-bin ``correct - confidence``, CCC moments, per-utterance
JSD/KLD/Brier). A resample is fully described by its count vector ``w``
(how often each utterance was drawn), so the sums of all resamples are one
matrix product ``W @ F`` with ``W`` the (B, N) count matrix and ``F`` the
(N, S) feature matrix. Metrics are then recomputed from the sums of each
resample, which is exactly what recomputing on the resampled data gives
(never an average of per-utterance F1). Resamples are processed in chunks
to bound memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from scipy.special import rel_entr

from sertools.classes import CLASSES, OTHER, K

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CI",
    "DEFAULT_ENTROPY_EDGES",
    "DIMENSIONS",
    "EvalData",
    "PairedCI",
    "SeedCI",
    "accuracy",
    "bootstrap",
    "bootstrap_multiseed",
    "bootstrap_replicates",
    "bootstrap_strata",
    "brier",
    "ccc",
    "compute_all",
    "confusion_matrix",
    "ece",
    "entropy_strata",
    "f1_scores",
    "floor_probs",
    "holm",
    "jsd",
    "kld",
    "paired_bootstrap",
    "percentile_ci",
    "resample_indices",
    "stratum_names",
    "summary_table",
]

DIMENSIONS: tuple[str, ...] = ("arousal", "valence", "dominance")
DEFAULT_ENTROPY_EDGES: tuple[float, ...] = (0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0)
_ROW_SUM_TOL = 1e-3  # probability rows must sum to 1 within this before renormalisation


# =========================================================================== input checks


def _as_dist(x: np.ndarray, name: str, n_cols: int = K) -> np.ndarray:
    """Validate an (N, K) array of probability rows and renormalise it to sum to exactly 1."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != n_cols:
        raise ValueError(f"{name} must have shape (N, {n_cols}), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(a < 0):
        raise ValueError(f"{name} contains negative probabilities")
    s = a.sum(axis=1)
    bad = np.flatnonzero(np.abs(s - 1.0) > _ROW_SUM_TOL)
    if bad.size:
        raise ValueError(
            f"{name}: {bad.size} rows do not sum to 1 (first: row {bad[0]} sums to {s[bad[0]]:.6g})"
        )
    return a / s[:, None]


def _as_labels(x: np.ndarray, name: str, allow_missing: bool) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        if np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer class indices, got dtype {a.dtype}")
    lo = -1 if allow_missing else 0
    if a.size and (a.min() < lo or a.max() >= K):
        raise ValueError(f"{name} values must lie in [{lo}, {K - 1}], got range [{a.min()}, {a.max()}]")
    return a.astype(np.int64)


def _as_dims(x: np.ndarray | None, name: str, n: int) -> np.ndarray | None:
    if x is None:
        return None
    a = np.asarray(x, dtype=np.float64)
    if a.shape != (n, len(DIMENSIONS)):
        raise ValueError(f"{name} must have shape ({n}, {len(DIMENSIONS)}), got {a.shape}")
    if np.any(np.isinf(a)):
        raise ValueError(f"{name} contains infinite values")
    return a


# ====================================================================== per-utterance parts


def floor_probs(probs: np.ndarray, prob_floor: float = 1e-12) -> np.ndarray:
    """Floor probabilities at ``prob_floor`` and renormalise each row (safe to take logs)."""
    if not prob_floor > 0:
        raise ValueError(f"prob_floor must be > 0, got {prob_floor}")
    p = np.maximum(np.asarray(probs, dtype=np.float64), prob_floor)
    return p / p.sum(axis=-1, keepdims=True)


def jsd(p: np.ndarray, q: np.ndarray, base: float = 2.0) -> np.ndarray:
    """Per-row Jensen-Shannon divergence (not distance); base 2 gives values in [0, 1].

    Rows are used as given (callers pass normalised distributions). Computed
    as ``H(m) - (H(p) + H(q)) / 2`` with ``m = (p + q) / 2`` and 0·log 0 = 0,
    so zero entries need no floor.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"jsd: shapes differ ({p.shape} vs {q.shape})")
    m = 0.5 * (p + q)
    # JSD = H(m) - (H(p) + H(q)) / 2 with H(x) = -sum x log x
    div = 0.5 * (_plogp(p) + _plogp(q)) - _plogp(m)
    return np.clip(div / math.log(base), 0.0, None)


def _plogp(x: np.ndarray) -> np.ndarray:
    """Row sums of ``x log x`` with 0·log 0 = 0 (np.log is much faster than xlogy)."""
    return (x * np.log(np.where(x > 0, x, 1.0))).sum(axis=-1)


def kld(human: np.ndarray, model: np.ndarray, prob_floor: float = 1e-12) -> np.ndarray:
    """Per-row KL(human ‖ model) in nats; model floored at ``prob_floor`` and renormalised."""
    human = np.asarray(human, dtype=np.float64)
    if human.shape != np.shape(model):
        raise ValueError(f"kld: shapes differ ({human.shape} vs {np.shape(model)})")
    return rel_entr(human, floor_probs(model, prob_floor)).sum(axis=-1)


def brier(probs: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-row Brier score: sum over classes of squared differences (range [0, 2])."""
    d = np.asarray(probs, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return (d * d).sum(axis=-1)


def _onehot(labels: np.ndarray, k: int = K) -> np.ndarray:
    out = np.zeros((len(labels), k))
    out[np.arange(len(labels)), labels] = 1.0
    return out


# ======================================================================= aggregate metrics


def confusion_matrix(hard: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(K, K) counts, rows = consensus class, columns = prediction; X (hard < 0) excluded."""
    hard = _as_labels(hard, "hard", allow_missing=True)
    pred = _as_labels(pred, "pred", allow_missing=False)
    keep = hard >= 0
    return np.bincount(hard[keep] * K + pred[keep], minlength=K * K).reshape(K, K)


def f1_scores(cm: np.ndarray) -> np.ndarray:
    """Per-class F1 = 2TP / (2TP + FP + FN) from a confusion matrix; 0 when the denominator is 0."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # (TP + FP) + (TP + FN)
    return np.divide(2.0 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def accuracy(hard: np.ndarray, pred: np.ndarray) -> float:
    """Accuracy of ``pred`` on utterances with a consensus class (NaN when there are none)."""
    cm = confusion_matrix(hard, pred)
    n = cm.sum()
    return float(np.trace(cm) / n) if n else float("nan")


def ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Concordance correlation coefficient with population variances; NaN pairs are skipped.

    ``2 cov / (var_x + var_y + (mean_x - mean_y)^2)``; NaN when undefined
    (no pairs, or both series constant and equal).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"ccc needs two 1-D arrays of equal length, got {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return float("nan")
    x, y = x[ok], y[ok]
    mx, my = x.mean(), y.mean()
    cov = np.mean((x - mx) * (y - my))
    denom = x.var() + y.var() + (mx - my) ** 2
    return float(2.0 * cov / denom) if denom > 0 else float("nan")


def _ece_bin(conf: np.ndarray, n_bins: int) -> np.ndarray:
    """Right-closed equal-width bin index: ((m-1)/M, m/M] -> m-1; conf = 0 goes to bin 0."""
    return np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def ece(probs: np.ndarray, pred: np.ndarray, hard: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error (Guo et al. 2017) on utterances with a consensus class.

    ``sum_m |B_m|/n * |acc(B_m) - conf(B_m)|`` over ``n_bins`` equal-width bins
    of ``max_k probs``; correctness is ``pred == hard``.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    probs = np.asarray(probs, dtype=np.float64)
    hard = np.asarray(hard)
    keep = hard >= 0
    if not keep.any():
        return float("nan")
    conf = probs[keep].max(axis=1)
    correct = (np.asarray(pred)[keep] == hard[keep]).astype(np.float64)
    bins = _ece_bin(conf, n_bins)
    total = 0.0
    for m in range(n_bins):
        in_bin = bins == m
        if in_bin.any():
            total += in_bin.sum() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return float(total / keep.sum())


# ============================================================================ container


@dataclass(frozen=True, eq=False)
class EvalData:
    """Predictions of one model (one seed) and the human labels of the same utterances.

    Arrays are validated and probability rows renormalised on construction.
    ``hard`` is -1 for X (no agreement). ``dims_*`` hold arousal, valence,
    dominance (1-7) and may be None when unavailable (CCC is then NaN).
    ``entropy`` is the normalised primary-vote entropy used for strata.
    ``pred`` is taken as given (normally the argmax of ``probs``); accuracy,
    F1 and the correctness in ECE use it, the confidence is ``max probs``.
    """

    probs: np.ndarray
    pred: np.ndarray
    hard: np.ndarray
    p_primary: np.ndarray
    p_merged: np.ndarray
    p_true: np.ndarray | None = None
    dims_pred: np.ndarray | None = None
    dims_true: np.ndarray | None = None
    entropy: np.ndarray | None = None
    file_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        probs = _as_dist(self.probs, "probs")
        n = len(probs)
        pred = _as_labels(self.pred, "pred", allow_missing=False)
        hard = _as_labels(self.hard, "hard", allow_missing=True)
        for name, arr in (("pred", pred), ("hard", hard)):
            if len(arr) != n:
                raise ValueError(f"{name} has {len(arr)} rows but probs has {n}")
        fixed: dict[str, object] = {"probs": probs, "pred": pred, "hard": hard}
        for name in ("p_primary", "p_merged", "p_true"):
            val = getattr(self, name)
            if val is None:
                if name != "p_true":
                    raise ValueError(f"{name} is required")
                continue
            d = _as_dist(val, name)
            if len(d) != n:
                raise ValueError(f"{name} has {len(d)} rows but probs has {n}")
            fixed[name] = d
        fixed["dims_pred"] = _as_dims(self.dims_pred, "dims_pred", n)
        fixed["dims_true"] = _as_dims(self.dims_true, "dims_true", n)
        if self.entropy is not None:
            e = np.asarray(self.entropy, dtype=np.float64)
            if e.shape != (n,):
                raise ValueError(f"entropy must have shape ({n},), got {e.shape}")
            fixed["entropy"] = e
        if self.file_ids is not None:
            f = np.asarray(self.file_ids)
            if f.shape != (n,):
                raise ValueError(f"file_ids must have shape ({n},), got {f.shape}")
            fixed["file_ids"] = f
        for k, v in fixed.items():
            object.__setattr__(self, k, v)

    @property
    def n(self) -> int:
        return len(self.pred)

    def take(self, idx: np.ndarray) -> EvalData:
        """Rows ``idx`` (with repetition allowed): an explicitly resampled copy."""
        idx = np.asarray(idx)
        kw = {
            name: (None if getattr(self, name) is None else getattr(self, name)[idx])
            for name in (
                "probs",
                "pred",
                "hard",
                "p_primary",
                "p_merged",
                "p_true",
                "dims_pred",
                "dims_true",
                "entropy",
                "file_ids",
            )
        }
        return EvalData(**kw)

    def subset(self, mask: np.ndarray) -> EvalData:
        """Rows where the boolean ``mask`` is True."""
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (self.n,):
            raise ValueError(f"mask must be a boolean array of shape ({self.n},)")
        return self.take(np.flatnonzero(mask))

    @classmethod
    def from_frames(
        cls,
        predictions: pd.DataFrame,
        labels: pd.DataFrame,
        latent_truth: pd.DataFrame | None = None,
        *,
        allow_extra_labels: bool = False,
    ) -> EvalData:
        """Join a prediction dump with a label table (and optional latent truth) on ``file_id``.

        ``predictions``: ``file_id, probs`` (9 floats), ``pred`` and optionally
        ``arousal, valence, dominance``. ``labels``: ``file_id, hard_label``
        (nullable int, null = X), ``p_primary, p_merged`` (9 floats) and
        optionally ``entropy_primary, arousal, valence, dominance``.
        ``latent_truth``: ``file_id, p_true``. Rows are ordered by ``file_id``
        so every seed of a split lines up. The tables must cover the same
        utterances (``allow_extra_labels`` lets the label table be a superset).
        """
        import pandas as pd  # lazy: sertools stays import-light

        _require_columns(predictions, "predictions", ("file_id", "probs", "pred"))
        _require_columns(labels, "labels", ("file_id", "hard_label", "p_primary", "p_merged"))
        for name, df in (("predictions", predictions), ("labels", labels)):
            dup = df["file_id"][df["file_id"].duplicated()]
            if len(dup):
                raise ValueError(f"{name}: duplicated file_id values, e.g. {dup.iloc[0]!r}")
        pred_ids = pd.Index(predictions["file_id"])
        lab_ids = pd.Index(labels["file_id"])
        missing = pred_ids.difference(lab_ids)
        extra = lab_ids.difference(pred_ids)
        if len(missing) or (len(extra) and not allow_extra_labels):
            raise ValueError(
                "predictions and labels do not cover the same utterances: "
                f"{len(missing)} predicted utterances have no labels (e.g. {list(missing[:3])}), "
                f"{len(extra)} labelled utterances have no prediction (e.g. {list(extra[:3])})"
            )
        dims = list(DIMENSIONS)
        pcols = ["file_id", "probs", "pred"] + [c for c in dims if c in predictions.columns]
        df = predictions[pcols].merge(labels, on="file_id", how="left", suffixes=("_pred", "_true"))
        df = df.sort_values("file_id", kind="stable").reset_index(drop=True)

        def dims_of(suffix: str, source: pd.DataFrame) -> np.ndarray | None:
            present = [c for c in dims if c in source.columns]
            if not present:
                return None
            if len(present) != len(dims):
                raise ValueError(f"dimensional columns must be all of {dims} or none, got {present}")
            names = [f"{c}_{suffix}" if f"{c}_{suffix}" in df.columns else c for c in dims]
            return df[names].to_numpy(dtype=np.float64)

        p_true = None
        if latent_truth is not None:
            _require_columns(latent_truth, "latent_truth", ("file_id", "p_true"))
            lt = latent_truth.set_index("file_id")["p_true"]
            absent = pd.Index(df["file_id"]).difference(lt.index)
            if len(absent):
                raise ValueError(f"latent_truth lacks {len(absent)} utterances, e.g. {list(absent[:3])}")
            p_true = _stack_lists(lt.loc[df["file_id"]].to_numpy(), "latent_truth.p_true")
        hard = df["hard_label"].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)
        return cls(
            probs=_stack_lists(df["probs"].to_numpy(), "predictions.probs"),
            pred=df["pred"].to_numpy(),
            hard=hard,
            p_primary=_stack_lists(df["p_primary"].to_numpy(), "labels.p_primary"),
            p_merged=_stack_lists(df["p_merged"].to_numpy(), "labels.p_merged"),
            p_true=p_true,
            dims_pred=dims_of("pred", predictions),
            dims_true=dims_of("true", labels),
            entropy=df["entropy_primary"].to_numpy(dtype=np.float64) if "entropy_primary" in df else None,
            file_ids=df["file_id"].to_numpy(),
        )


def _require_columns(df: pd.DataFrame, name: str, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{name} table lacks column(s) {missing}; has {list(df.columns)}")


def _stack_lists(col: np.ndarray, name: str) -> np.ndarray:
    """A column of length-K lists/arrays -> (N, K) float64 array."""
    try:
        out = np.stack([np.asarray(v, dtype=np.float64) for v in col]) if len(col) else np.zeros((0, K))
    except ValueError as err:
        raise ValueError(f"{name}: every entry must be a list of {K} numbers ({err})") from None
    if out.ndim != 2 or out.shape[1] != K:
        raise ValueError(f"{name}: every entry must be a list of {K} numbers, got shape {out.shape}")
    return out


# ============================================================================ compute_all


def compute_all(data: EvalData, prob_floor: float = 1e-12, ece_bins: int = 15) -> dict[str, float]:
    """Every metric of one prediction set, as a flat ``name -> value`` dict.

    Names: ``accuracy, macro_f1, weighted_f1, f1_<Class>``, ``jsd_primary,
    kld_primary, jsd_merged, kld_merged`` (plus ``jsd_true, kld_true`` when
    ``p_true`` is set), ``ccc_<dimension>``, ``ece, brier_onehot,
    brier_primary``, ``other_share_pred, other_mass, other_share_human``,
    ``n_hard, n_all``. Metrics over an empty set are NaN.
    """
    out: dict[str, float] = {}
    cm = confusion_matrix(data.hard, data.pred)
    n_hard = int(cm.sum())
    f1 = f1_scores(cm)
    support = cm.sum(axis=1)
    nan = float("nan")
    out["accuracy"] = float(np.trace(cm) / n_hard) if n_hard else nan
    out["macro_f1"] = float(f1.mean()) if n_hard else nan
    out["weighted_f1"] = float((f1 * support).sum() / n_hard) if n_hard else nan
    for c, name in enumerate(CLASSES):
        out[f"f1_{name}"] = float(f1[c]) if n_hard else nan
    targets = [("primary", data.p_primary), ("merged", data.p_merged)]
    if data.p_true is not None:
        targets.append(("true", data.p_true))
    for tag, target in targets:
        out[f"jsd_{tag}"] = _mean(jsd(target, data.probs))
        out[f"kld_{tag}"] = _mean(kld(target, data.probs, prob_floor))
    for j, dim in enumerate(DIMENSIONS):
        if data.dims_pred is None or data.dims_true is None:
            out[f"ccc_{dim}"] = nan
        else:
            out[f"ccc_{dim}"] = ccc(data.dims_pred[:, j], data.dims_true[:, j])
    hard_rows = data.hard >= 0
    out["ece"] = ece(data.probs, data.pred, data.hard, ece_bins)
    out["brier_onehot"] = _mean(brier(data.probs[hard_rows], _onehot(data.hard[hard_rows])))
    out["brier_primary"] = _mean(brier(data.probs, data.p_primary))
    out["other_share_pred"] = _mean((data.pred == OTHER).astype(np.float64))
    out["other_mass"] = _mean(data.probs[:, OTHER])
    out["other_share_human"] = _mean(data.p_primary[:, OTHER])
    out["n_hard"] = float(n_hard)
    out["n_all"] = float(data.n)
    return out


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else float("nan")


# ================================================================== sufficient statistics


class _Layout:
    """Column positions of the per-utterance feature matrix of one prediction set."""

    def __init__(self, ece_bins: int, has_true: bool) -> None:
        self.ece_bins = ece_bins
        self.dist_tags = ("primary", "merged", "true") if has_true else ("primary", "merged")
        self.means = (
            *(f"{m}_{t}" for t in self.dist_tags for m in ("jsd", "kld")),
            "brier_primary",
            "other_share_pred",
            "other_mass",
            "other_share_human",
        )
        sizes = {
            "tp": K,
            "n_true": K,
            "n_pred": K,
            "ece": ece_bins,
            "brier_onehot": 1,
            "means": len(self.means),
            "ccc": 6 * len(DIMENSIONS),
            "n_all": 1,
        }
        self.order = (
            "accuracy",
            "macro_f1",
            "weighted_f1",
            *(f"f1_{c}" for c in CLASSES),
            *(f"{m}_{t}" for t in self.dist_tags for m in ("jsd", "kld")),
            *(f"ccc_{d}" for d in DIMENSIONS),
            "ece",
            "brier_onehot",
            "brier_primary",
            "other_share_pred",
            "other_mass",
            "other_share_human",
            "n_hard",
            "n_all",
        )
        self.slices: dict[str, slice] = {}
        start = 0
        for name, size in sizes.items():
            self.slices[name] = slice(start, start + size)
            start += size
        self.width = start


def _features(data: EvalData, layout: _Layout, prob_floor: float, out: np.ndarray) -> None:
    """Fill ``out`` (N, S), zeros on entry, with the per-utterance statistics whose column
    sums determine every metric."""
    f = out
    s = layout.slices
    hard_rows = data.hard >= 0
    rows = np.flatnonzero(hard_rows)
    h, p = data.hard[rows], data.pred[rows]
    correct = (h == p).astype(np.float64)
    f[rows, s["tp"].start + h] = correct
    f[rows, s["n_true"].start + h] = 1.0
    f[rows, s["n_pred"].start + p] = 1.0
    conf = data.probs[rows].max(axis=1)
    f[rows, s["ece"].start + _ece_bin(conf, layout.ece_bins)] = correct - conf
    f[rows, s["brier_onehot"].start] = brier(data.probs[rows], _onehot(h))

    per_utt: dict[str, np.ndarray] = {}
    for tag in layout.dist_tags:
        target = {"primary": data.p_primary, "merged": data.p_merged, "true": data.p_true}[tag]
        per_utt[f"jsd_{tag}"] = jsd(target, data.probs)
        per_utt[f"kld_{tag}"] = kld(target, data.probs, prob_floor)
    per_utt["brier_primary"] = brier(data.probs, data.p_primary)
    per_utt["other_share_pred"] = (data.pred == OTHER).astype(np.float64)
    per_utt["other_mass"] = data.probs[:, OTHER]
    per_utt["other_share_human"] = data.p_primary[:, OTHER]
    f[:, s["means"]] = np.column_stack([per_utt[m] for m in layout.means])

    if data.dims_pred is not None and data.dims_true is not None:
        for j in range(len(DIMENSIONS)):
            x, y = data.dims_pred[:, j], data.dims_true[:, j]
            ok = np.isfinite(x) & np.isfinite(y)
            # CCC is invariant to a shift applied to both series; centring on a common
            # value keeps the raw-moment formulas numerically safe.
            c = float(y[ok].mean()) if ok.any() else 0.0
            xc, yc = np.where(ok, x - c, 0.0), np.where(ok, y - c, 0.0)
            base = s["ccc"].start + 6 * j
            f[:, base : base + 6] = np.column_stack([ok, xc, yc, xc * xc, yc * yc, xc * yc])
    f[:, s["n_all"].start] = 1.0


def _metrics_from_sums(sums: np.ndarray, layout: _Layout) -> dict[str, np.ndarray]:
    """Every metric (in :func:`compute_all`'s order) for each row of ``sums`` (R, S),
    the column sums of one resample each."""
    s = layout.slices
    tp, n_true, n_pred = sums[:, s["tp"]], sums[:, s["n_true"]], sums[:, s["n_pred"]]
    n_hard = n_true.sum(axis=1)
    n_all = sums[:, s["n_all"].start]
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = n_true + n_pred
        f1 = np.where(denom > 0, 2.0 * tp / np.where(denom > 0, denom, 1.0), 0.0)
        has_hard = n_hard > 0
        inv_hard = np.where(has_hard, 1.0 / np.where(has_hard, n_hard, 1.0), np.nan)
        out: dict[str, np.ndarray] = {
            "accuracy": tp.sum(axis=1) * inv_hard,
            "macro_f1": np.where(has_hard, f1.mean(axis=1), np.nan),
            "weighted_f1": (f1 * n_true).sum(axis=1) * inv_hard,
        }
        for c, name in enumerate(CLASSES):
            out[f"f1_{name}"] = np.where(has_hard, f1[:, c], np.nan)
        means = sums[:, s["means"]] / n_all[:, None]
        for i, name in enumerate(layout.means):
            out[name] = means[:, i]
        base = s["ccc"].start
        for j, dim in enumerate(DIMENSIONS):
            cnt, sx, sy, sxx, syy, sxy = (sums[:, base + 6 * j + k] for k in range(6))
            mx, my = sx / cnt, sy / cnt
            cov = sxy / cnt - mx * my
            denom_c = (sxx / cnt - mx * mx) + (syy / cnt - my * my) + (mx - my) ** 2
            out[f"ccc_{dim}"] = np.where((cnt > 0) & (denom_c > 0), 2.0 * cov / denom_c, np.nan)
        out["ece"] = np.abs(sums[:, s["ece"]]).sum(axis=1) * inv_hard
        out["brier_onehot"] = sums[:, s["brier_onehot"].start] * inv_hard
    out["n_hard"] = n_hard
    out["n_all"] = n_all
    return {k: out[k] for k in layout.order}


# ============================================================================= resampling


def _chunk_size(n: int, target_cells: int = 2_000_000) -> int:
    """Resamples per chunk so a chunk's (b, n) count matrix stays around 16 MB."""
    return max(1, target_cells // max(n, 1))


def _iter_index_chunks(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The resample index stream: ``rng.integers(0, n)`` drawn chunk by chunk (int32)."""
    rng = np.random.default_rng(seed)
    step = _chunk_size(n)
    for start in range(0, n_resamples, step):
        b = min(step, n_resamples - start)
        yield rng.integers(0, n, size=(b, n), dtype=np.int32)


def resample_indices(n: int, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The (B, n) bootstrap indices :func:`bootstrap` draws for this ``n`` and ``seed``.

    Memory is ``4 B n`` bytes; :func:`bootstrap` itself never materialises it.
    """
    if n < 1 or n_resamples < 1:
        raise ValueError(f"need n >= 1 and n_resamples >= 1, got n={n}, n_resamples={n_resamples}")
    return np.concatenate(list(_iter_index_chunks(n, n_resamples, seed)))


def _count_matrix(idx: np.ndarray, n: int) -> np.ndarray:
    """(b, n) float64 counts of how often each utterance appears in each resample."""
    b = idx.shape[0]
    flat = idx.astype(np.int64, copy=False) + (np.arange(b, dtype=np.int64) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def _resampled_sums(feats: np.ndarray, n_resamples: int, seed: int, indices: np.ndarray | None) -> np.ndarray:
    """(B, S) column sums of ``feats`` for every resample (drawn or injected)."""
    n = feats.shape[0]
    if indices is not None:
        idx = np.asarray(indices)
        if idx.ndim != 2 or idx.shape[1] != n:
            raise ValueError(f"indices must have shape (B, {n}), got {idx.shape}")
        if not np.issubdtype(idx.dtype, np.integer) or (idx.size and (idx.min() < 0 or idx.max() >= n)):
            raise ValueError(f"indices must be integers in [0, {n})")
        step = _chunk_size(n)
        chunks: Iterator[np.ndarray] = (idx[i : i + step] for i in range(0, len(idx), step))
    else:
        if n_resamples < 1:
            raise ValueError(f"B must be >= 1, got {n_resamples}")
        chunks = _iter_index_chunks(n, n_resamples, seed)
    return np.concatenate([_count_matrix(c, n) @ feats for c in chunks])


def _check_common(
    datas: Sequence[EvalData],
) -> tuple[EvalData, ...]:
    """Prediction sets compared on the same resamples must describe the same utterances."""
    if not datas:
        raise ValueError("need at least one prediction set")
    first = datas[0]
    for i, d in enumerate(datas[1:], start=1):
        if d.n != first.n:
            raise ValueError(f"prediction set {i} has {d.n} utterances, set 0 has {first.n}")
        if (
            first.file_ids is not None
            and d.file_ids is not None
            and not np.array_equal(first.file_ids, d.file_ids)
        ):
            raise ValueError(f"prediction set {i} lists different utterances (file_ids) than set 0")
        if not np.array_equal(first.hard, d.hard) or not np.allclose(first.p_primary, d.p_primary, atol=1e-9):
            raise ValueError(f"prediction set {i} has different human labels than set 0")
        if (first.p_true is None) != (d.p_true is None):
            raise ValueError("either every prediction set has p_true or none has")
    return tuple(datas)


def _replicates_per_set(
    datas: Sequence[EvalData],
    n_resamples: int,
    seed: int,
    indices: np.ndarray | None,
    prob_floor: float,
    ece_bins: int,
) -> tuple[list[dict[str, float]], list[dict[str, np.ndarray]]]:
    """Per prediction set: the point estimates and every metric on the same B resamples.

    The points come from the full-data sums, i.e. the same code path as the
    replicates; they equal :func:`compute_all` up to floating-point rounding.
    """
    if ece_bins < 1:
        raise ValueError(f"ece_bins must be >= 1, got {ece_bins}")
    datas = _check_common(datas)
    layout = _Layout(ece_bins, datas[0].p_true is not None)
    w = layout.width
    feats = np.zeros((datas[0].n, w * len(datas)))
    for i, d in enumerate(datas):
        _features(d, layout, prob_floor, feats[:, i * w : (i + 1) * w])
    sums = _resampled_sums(feats, n_resamples, seed, indices)
    full = feats.sum(axis=0, keepdims=True)
    # ccc columns stay zero without dimensional data, which yields NaN CCC.
    points = [
        {k: float(v[0]) for k, v in _metrics_from_sums(full[:, i * w : (i + 1) * w], layout).items()}
        for i in range(len(datas))
    ]
    reps = [_metrics_from_sums(sums[:, i * w : (i + 1) * w], layout) for i in range(len(datas))]
    return points, reps


def bootstrap_replicates(
    data: EvalData | Sequence[EvalData],
    B: int = 1000,
    seed: int = 0,
    *,
    indices: np.ndarray | None = None,
    prob_floor: float = 1e-12,
    ece_bins: int = 15,
) -> dict[str, np.ndarray]:
    """Every metric recomputed on each resample: ``{name: (B,) array}``.

    With several prediction sets of the same utterances (training seeds),
    each replicate is the seed-averaged metric on that resample. ``indices``
    (B, N) injects explicit resamples; otherwise they are drawn as by
    :func:`resample_indices` ``(N, B, seed)``.
    """
    _, per_set = _replicates_per_set(_as_sets(data), B, seed, indices, prob_floor, ece_bins)
    return _seed_mean(per_set)


def _seed_mean(per_set: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.mean([r[k] for r in per_set], axis=0) for k in per_set[0]}


# ================================================================================ results


class CI(NamedTuple):
    """Point estimate and percentile-bootstrap interval."""

    point: float
    lo: float
    hi: float


class SeedCI(NamedTuple):
    """Seed-averaged metric: point = mean over seeds; CI of the seed-averaged metric; SD across seeds."""

    point: float
    lo: float
    hi: float
    seed_sd: float  # sample SD (ddof=1) of the per-seed point estimates; NaN for one seed
    n_seeds: int


class PairedCI(NamedTuple):
    """Variant minus baseline on shared resamples, with a two-sided bootstrap p-value."""

    diff: float
    lo: float
    hi: float
    p_value: float
    variant: float
    baseline: float


def _check_ci(ci: float) -> None:
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")


def percentile_ci(replicates: np.ndarray, ci: float = 0.95) -> tuple[float, float]:
    """``[(1-ci)/2, (1+ci)/2]`` percentiles (linear interpolation), ignoring NaN replicates."""
    _check_ci(ci)
    r = np.asarray(replicates, dtype=np.float64)
    if np.isnan(r).all():
        return float("nan"), float("nan")
    lo, hi = np.nanquantile(r, [(1 - ci) / 2, (1 + ci) / 2])
    return float(lo), float(hi)


def bootstrap(
    data: EvalData,
    B: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    *,
    indices: np.ndarray | None = None,
    prob_floor: float = 1e-12,
    ece_bins: int = 15,
) -> dict[str, CI]:
    """Percentile-bootstrap CI of every metric of one prediction set.

    The point estimate is the metric on the full data (as :func:`compute_all`);
    the interval is the percentile interval of the metric recomputed on each
    of ``B`` resamples of utterance indices (with replacement, size N, ``seed``).
    """
    if not isinstance(data, EvalData):
        raise TypeError("bootstrap takes one EvalData; use bootstrap_multiseed for several seeds")
    _check_ci(ci)
    points, per_set = _replicates_per_set([data], B, seed, indices, prob_floor, ece_bins)
    return {k: CI(v, *percentile_ci(per_set[0][k], ci)) for k, v in points[0].items()}


def bootstrap_multiseed(
    datas: Sequence[EvalData],
    B: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    *,
    indices: np.ndarray | None = None,
    prob_floor: float = 1e-12,
    ece_bins: int = 15,
) -> dict[str, SeedCI]:
    """CI of the seed-averaged metric over several training seeds of the same utterances.

    All seeds share the resample indices; inside each resample the metric is
    computed per seed and then averaged. Also reports the SD across seeds of
    the per-seed point estimates.
    """
    _check_ci(ci)
    points, per_set = _replicates_per_set(_as_sets(datas), B, seed, indices, prob_floor, ece_bins)
    reps = _seed_mean(per_set)
    out: dict[str, SeedCI] = {}
    for k in points[0]:
        vals = np.array([p[k] for p in points])
        sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan")
        out[k] = SeedCI(float(vals.mean()), *percentile_ci(reps[k], ci), sd, len(vals))
    return out


def _as_sets(x: EvalData | Sequence[EvalData]) -> list[EvalData]:
    return [x] if isinstance(x, EvalData) else list(x)


def paired_bootstrap(
    variant: EvalData | Sequence[EvalData],
    baseline: EvalData | Sequence[EvalData],
    B: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    *,
    indices: np.ndarray | None = None,
    prob_floor: float = 1e-12,
    ece_bins: int = 15,
) -> dict[str, PairedCI]:
    """Paired bootstrap of ``variant - baseline`` (each one or several seeds) on shared resamples.

    ``diff`` is the difference of the seed-averaged point estimates; the CI
    is the percentile interval of the per-resample differences ``d*``. The
    two-sided p-value for "no difference" is

        p = min(1, 2 * min((1 + #{d* <= 0}) / (B + 1), (1 + #{d* >= 0}) / (B + 1)))

    (NaN replicates dropped from B). The +1 keeps p > 0 with finitely many
    resamples, and identical systems (all ``d* = 0``) give p = 1.
    """
    _check_ci(ci)
    v_sets, b_sets = _as_sets(variant), _as_sets(baseline)
    points, per_set = _replicates_per_set([*v_sets, *b_sets], B, seed, indices, prob_floor, ece_bins)
    nv = len(v_sets)
    v_rep, b_rep = _seed_mean(per_set[:nv]), _seed_mean(per_set[nv:])
    out: dict[str, PairedCI] = {}
    for k in points[0]:
        d = v_rep[k] - b_rep[k]
        v_pt = float(np.mean([p[k] for p in points[:nv]]))
        b_pt = float(np.mean([p[k] for p in points[nv:]]))
        out[k] = PairedCI(v_pt - b_pt, *percentile_ci(d, ci), _bootstrap_p(d), v_pt, b_pt)
    return out


def _bootstrap_p(diffs: np.ndarray) -> float:
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


# ============================================================================== strata


def _check_edges(edges: Sequence[float]) -> np.ndarray:
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or len(e) < 2 or np.any(np.diff(e) <= 0):
        raise ValueError(f"edges must be at least 2 strictly increasing numbers, got {list(edges)}")
    return e


def entropy_strata(
    entropy: np.ndarray, edges: Sequence[float] = DEFAULT_ENTROPY_EDGES, atol: float = 1e-9
) -> list[np.ndarray]:
    """Boolean masks of the entropy strata ``[e0, e1), [e1, e2), ..., [e_{m-1}, e_m]``.

    The last bin is closed. A value within ``atol`` below an edge counts as
    on the edge (float noise in entropies computed elsewhere), so ``1/3``
    goes to the second default bin. Values outside ``[e0, e_m]`` by more
    than ``atol``, or NaN, raise.
    """
    e = _check_edges(edges)
    h = np.asarray(entropy, dtype=np.float64)
    if h.ndim != 1:
        raise ValueError(f"entropy must be 1-D, got shape {h.shape}")
    if np.any(np.isnan(h)) or np.any(h < e[0] - atol) or np.any(h > e[-1] + atol):
        raise ValueError(f"entropy values must lie in [{e[0]}, {e[-1]}] (no NaN)")
    bins = np.clip(np.searchsorted(e, h + atol, side="right") - 1, 0, len(e) - 2)
    return [bins == i for i in range(len(e) - 1)]


def stratum_names(edges: Sequence[float] = DEFAULT_ENTROPY_EDGES) -> list[str]:
    """Readable names of the strata, e.g. ``[0.333, 0.667)`` and a closed last bin."""
    e = _check_edges(edges)
    names = [f"[{e[i]:.3f}, {e[i + 1]:.3f})" for i in range(len(e) - 2)]
    return [*names, f"[{e[-2]:.3f}, {e[-1]:.3f}]"]


def bootstrap_strata(
    data: EvalData | Sequence[EvalData],
    edges: Sequence[float] = DEFAULT_ENTROPY_EDGES,
    B: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    *,
    entropy: np.ndarray | None = None,
    prob_floor: float = 1e-12,
    ece_bins: int = 15,
) -> dict[str, dict[str, SeedCI]]:
    """Per entropy stratum, the (seed-averaged) bootstrap CI of every metric.

    Each stratum is resampled inside itself (size = stratum size). The
    entropy defaults to ``data.entropy`` (normalised primary-vote entropy).
    Empty strata map to an empty dict; ``n_all`` gives each stratum's size.
    """
    sets = _as_sets(data)
    h = entropy if entropy is not None else sets[0].entropy
    if h is None:
        raise ValueError("no entropy given and the data has none (entropy_primary column)")
    result: dict[str, dict[str, SeedCI]] = {}
    for name, mask in zip(stratum_names(edges), entropy_strata(h, edges), strict=True):
        if not mask.any():
            result[name] = {}
            continue
        subsets = [d.subset(mask) for d in sets]
        result[name] = bootstrap_multiseed(subsets, B, seed, ci, prob_floor=prob_floor, ece_bins=ece_bins)
    return result


def summary_table(results: Mapping[str, CI | SeedCI | PairedCI]) -> dict[str, dict[str, float]]:
    """``{metric: CI/SeedCI/PairedCI}`` -> ``{metric: {field: value}}`` (JSON friendly)."""
    return {k: dict(v._asdict()) for k, v in results.items()}

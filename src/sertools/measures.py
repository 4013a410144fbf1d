"""Metric definitions on plain arrays: divergences, hard-label scores, CCC, ECE, Brier, entropy.

Every function here works on numpy arrays of one prediction set and knows
nothing of files, seeds or resampling. The conventions (which utterances each
metric uses, JSD base, KLD direction and floor, ECE binning) are written out
in ``docs/metrics.md``; the evaluation stage, the label stage and the training
loop's validation all take their definitions from here. The paper release's
own definitions (``uar``, the published macro-F1 rule, JSD and KLD in nats with
its clamping) are here too, under their own names (``docs/metrics.md``, "The
paper release's metrics").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import rel_entr

from sertools.classes import K

__all__ = [
    "RELEASE_EPS",
    "ROW_SUM_TOL",
    "accuracy",
    "brier",
    "ccc",
    "ccc_mean",
    "check_dist",
    "check_labels",
    "clamp_normalise",
    "confusion_matrix",
    "ece",
    "ece_bin",
    "f1_scores",
    "floor_probs",
    "jsd",
    "jsd_paper",
    "kld",
    "kld_paper",
    "macro_f1_published",
    "normalised_entropy",
    "onehot",
    "row_sums",
    "uar",
]

#: probability rows must sum to 1 within this before they are renormalised
ROW_SUM_TOL = 1e-3
#: the paper release clamps distributions at this value (and renormalises) before its JSD and KLD
RELEASE_EPS = 1e-8


# ============================================================================ input checks


def check_dist(x: np.ndarray, name: str, n_cols: int = K) -> np.ndarray:
    """Validate an (N, ``n_cols``) array of probability rows and renormalise it to sum to exactly 1."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != n_cols:
        raise ValueError(f"{name} must have shape (N, {n_cols}), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(a < 0):
        raise ValueError(f"{name} contains negative probabilities")
    s, bad = row_sums(a)
    if bad.size:
        raise ValueError(
            f"{name}: {bad.size} rows do not sum to 1 (first: row {bad[0]} sums to {s[bad[0]]:.6g})"
        )
    return a / s[:, None]


def row_sums(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sums of the rows of ``a`` and the indices of the rows that miss 1 by more than :data:`ROW_SUM_TOL`."""
    s = a.sum(axis=1)
    return s, np.flatnonzero(np.abs(s - 1.0) > ROW_SUM_TOL)


def check_labels(x: np.ndarray, name: str, allow_missing: bool, k: int = K) -> np.ndarray:
    """1-D int64 class indices in ``[0, k)``; with ``allow_missing`` also -1 (X, no agreement)."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        if np.issubdtype(a.dtype, np.floating) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer class indices, got dtype {a.dtype}")
    lo = -1 if allow_missing else 0
    if a.size and (a.min() < lo or a.max() >= k):
        raise ValueError(f"{name} values must lie in [{lo}, {k - 1}], got range [{a.min()}, {a.max()}]")
    return a.astype(np.int64)


# ===================================================================== per-utterance values


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


def clamp_normalise(x: np.ndarray, eps: float = RELEASE_EPS) -> np.ndarray:
    """Rows clamped below at ``eps`` and renormalised to sum 1, as the release does before a logarithm.

    An all-zero row becomes uniform.
    """
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    a = np.maximum(np.asarray(x, dtype=np.float64), eps)
    return a / a.sum(axis=-1, keepdims=True)


def _kl_nats(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row sums of ``a ln(a / b)`` for strictly positive rows."""
    return (a * (np.log(a) - np.log(b))).sum(axis=-1)


def kld_paper(
    reference: np.ndarray, probs: np.ndarray, eps: float = RELEASE_EPS, prob_floor: float = 1e-12
) -> np.ndarray:
    """Per-row KL(q ‖ p) in nats as the paper release computes it.

    ``q`` = ``reference`` clamped at ``eps`` and renormalised; ``p`` = the
    model's probabilities, used as they are except that a zero (float32
    underflow of the softmax) is floored at ``prob_floor`` so the logarithm stays
    finite (:func:`floor_probs`).
    """
    q = clamp_normalise(reference, eps)
    if q.shape != np.shape(probs):
        raise ValueError(f"kld_paper: shapes differ ({q.shape} vs {np.shape(probs)})")
    return _kl_nats(q, floor_probs(probs, prob_floor))


def jsd_paper(probs: np.ndarray, reference: np.ndarray, eps: float = RELEASE_EPS) -> np.ndarray:
    """Per-row Jensen-Shannon divergence in nats as the paper release computes it.

    ``0.5 KL(p ‖ m) + 0.5 KL(q ‖ m)`` with ``p`` (the model), ``q`` (the
    reference) and ``m = (p + q) / 2`` each clamped at ``eps`` and
    renormalised. A divergence (at most ln 2), not its square root.
    """
    p = clamp_normalise(probs, eps)
    q = clamp_normalise(reference, eps)
    if p.shape != q.shape:
        raise ValueError(f"jsd_paper: shapes differ ({p.shape} vs {q.shape})")
    m = clamp_normalise(0.5 * (p + q), eps)
    return 0.5 * _kl_nats(p, m) + 0.5 * _kl_nats(q, m)


def brier(probs: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-row Brier score: sum over classes of squared differences (range [0, 2])."""
    d = np.asarray(probs, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return (d * d).sum(axis=-1)


def onehot(labels: np.ndarray, k: int = K) -> np.ndarray:
    """(N, k) one-hot rows of class indices ``labels`` (all >= 0)."""
    out = np.zeros((len(labels), k))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def normalised_entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy of each row of ``p`` divided by ln K (0 = unanimous, 1 = uniform)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=-1)
    return np.clip(h / np.log(p.shape[-1]), 0.0, 1.0)


# ======================================================================= aggregate metrics


def confusion_matrix(hard: np.ndarray, pred: np.ndarray, k: int = K) -> np.ndarray:
    """(k, k) counts over ``k`` classes, rows = consensus class, columns = prediction; X (hard < 0) excluded."""
    hard = check_labels(hard, "hard", allow_missing=True, k=k)
    pred = check_labels(pred, "pred", allow_missing=False, k=k)
    keep = hard >= 0
    return np.bincount(hard[keep] * k + pred[keep], minlength=k * k).reshape(k, k)


def f1_scores(cm: np.ndarray) -> np.ndarray:
    """Per-class F1 = 2TP / (2TP + FP + FN) from a confusion matrix; 0 when the denominator is 0."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # (TP + FP) + (TP + FN)
    return np.divide(2.0 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def uar(cm: np.ndarray) -> float:
    """Unweighted average recall: mean of TP / support over the classes with support (NaN without any)."""
    cm = np.asarray(cm, dtype=np.float64)
    support = cm.sum(axis=1)
    has = support > 0
    if not has.any():
        return float("nan")
    return float((np.diag(cm)[has] / support[has]).mean())


def macro_f1_published(cm: np.ndarray) -> float:
    """The paper's published macro-F1: the mean F1 over the classes with at least one true positive.

    A class with TP = 0 has precision = recall = 0 and an undefined F1 (0/0);
    the release drops it from the mean instead of counting it as 0, so this
    is at least the standard 9-class macro-F1. NaN when no class has a true
    positive.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    hit = tp > 0
    if not hit.any():
        return float("nan")
    return float(f1_scores(cm)[hit].mean())


def accuracy(hard: np.ndarray, pred: np.ndarray, k: int = K) -> float:
    """Accuracy of ``pred`` (``k`` classes) on utterances with a consensus class (NaN when there are none)."""
    cm = confusion_matrix(hard, pred, k)
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


def ccc_mean(values: np.ndarray | Sequence[float]) -> float:
    """The release's mean CCC: the plain mean of the per-dimension CCCs (NaN if any is NaN)."""
    return float(np.mean(np.asarray(values, dtype=np.float64)))


def ece_bin(conf: np.ndarray, n_bins: int) -> np.ndarray:
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
    bins = ece_bin(conf, n_bins)
    total = 0.0
    for m in range(n_bins):
        in_bin = bins == m
        if in_bin.any():
            total += in_bin.sum() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return float(total / keep.sum())

"""Training losses: categorical (hard and distributional) and dimensional.

Everything is computed in fp32 (logits are cast first), so the losses are
safe under mixed precision. Natural logarithms throughout.

Categorical kinds (``categorical_loss``):

* ``ce``   : cross-entropy on consensus class indices (unweighted);
* ``cbce`` : class-balanced CE, ``F.cross_entropy(weight=w)`` semantics, i.e. the
  weighted mean Σᵢ w_{yᵢ} ℓᵢ / Σᵢ w_{yᵢ} (so the global scale of w cancels).
  By default (``train.cbce_weighting: effective_number``) w are Cui et al.'s
  effective-number weights; ``inverse_frequency`` gives the MSP-Podcast
  challenge baseline's N / (C n_c). See ``class_weights``;
* ``soft_ce``: −(1/B) Σᵢ Σ_k y_ik log p_ik;
* ``kl``     : KL(y ‖ p), batchmean, 0·log 0 = 0 (no smoothing needed);
* ``jsd``    : ½ KL(y ‖ m) + ½ KL(p ‖ m), m = (y + p)/2, batch mean; ≤ ln 2.

soft_ce and kl differ by H(y), a constant, so their gradients are both (p − y)/B.

Dimensional kinds (``dimensional_loss``): Σ over arousal, valence, dominance of
(1 − CCC) over the batch, or of the batch-mean squared error.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sertools.classes import K

CATEGORICAL_KINDS: tuple[str, ...] = ("ce", "cbce", "soft_ce", "kl", "jsd")
HARD_KINDS: tuple[str, ...] = ("ce", "cbce")
DIMENSIONAL_KINDS: tuple[str, ...] = ("ccc", "mse")
WEIGHTING_SCHEMES: tuple[str, ...] = ("effective_number", "inverse_frequency")
CCC_EPS = 1e-8  # added to the CCC denominator: a constant batch gives CCC = 0 instead of 0/0
DIST_SUM_TOL = 1e-3  # allowed deviation of a target row's sum from 1

_LN2 = math.log(2.0)


# --------------------------------------------------------------------------- input checks


def _check_logits(logits: Tensor) -> Tensor:
    if not isinstance(logits, Tensor) or logits.dim() != 2 or not logits.is_floating_point():
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a float tensor [batch, classes], got {shape}")
    if logits.shape[0] == 0:
        raise ValueError("empty batch: logits have 0 rows")
    return logits.float()


def _check_indices(target: Tensor, logits: Tensor) -> Tensor:
    b, c = logits.shape
    if not isinstance(target, Tensor) or target.shape != (b,) or target.is_floating_point():
        shape = tuple(target.shape) if isinstance(target, Tensor) else type(target).__name__
        raise ValueError(
            f"hard targets must be an integer tensor of class indices with shape ({b},), got {shape}; "
            "distributional targets go with soft_ce, kl or jsd"
        )
    target = target.long()
    if int(target.min()) < 0 or int(target.max()) >= c:
        raise ValueError(
            f"class indices must lie in [0, {c}), got min {int(target.min())}, max {int(target.max())}"
        )
    return target


def _check_distribution(target: Tensor, logits: Tensor) -> Tensor:
    if not isinstance(target, Tensor) or target.shape != logits.shape or not target.is_floating_point():
        shape = tuple(target.shape) if isinstance(target, Tensor) else type(target).__name__
        raise ValueError(
            f"distributional targets must be a float tensor of shape {tuple(logits.shape)}, got {shape}; "
            "class indices go with ce or cbce"
        )
    y = target.float()
    if bool((y < 0).any()) or not bool(torch.isfinite(y).all()):
        raise ValueError("distributional targets must be finite and non-negative")
    sums = y.sum(dim=1)
    worst = float((sums - 1.0).abs().max())
    if worst > DIST_SUM_TOL:
        raise ValueError(f"distributional target rows must sum to 1 (largest deviation {worst:.3g})")
    return y


# --------------------------------------------------------------------------- class weights


def class_weights(
    train_hard_labels: np.ndarray,
    scheme: str,
    beta: float = 0.999,
    num_classes: int = K,
) -> Tensor:
    """Per-class weights of ``cbce`` from the Train consensus class indices.

    ``effective_number`` (the config default, i.e. what "cbce" means unless
    configured otherwise; Cui et al., CVPR 2019): w_c = (1 − β) / (1 − β^{n_c}),
    rescaled so the weights sum to C = ``num_classes``. β = 0 gives uniform
    weights, β → 1 approaches inverse frequency.

    ``inverse_frequency`` (MSP-Podcast challenge baseline): w_c = N / (C n_c),
    N the number of labels. ``beta`` is ignored.

    In both schemes a class absent from Train (n_c = 0) gets weight 0: it never
    occurs as a training target, and 0 keeps the sum-to-C normalisation over the
    classes that exist.
    """
    if scheme not in WEIGHTING_SCHEMES:
        raise ValueError(f"cbce weighting scheme must be one of {list(WEIGHTING_SCHEMES)}, got {scheme!r}")
    labels = np.asarray(train_hard_labels)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"train_hard_labels must be a non-empty 1-D integer array, got {labels.dtype} {labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"class indices must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]"
        )
    return class_weights_from_counts(np.bincount(labels, minlength=num_classes), scheme, beta)


def class_weights_from_counts(counts: np.ndarray, scheme: str, beta: float = 0.999) -> Tensor:
    """:func:`class_weights` from per-class counts n_c (a class with n_c = 0 gets weight 0)."""
    if scheme not in WEIGHTING_SCHEMES:
        raise ValueError(f"cbce weighting scheme must be one of {list(WEIGHTING_SCHEMES)}, got {scheme!r}")
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError(f"class counts must be non-negative with a positive total, got {counts.tolist()}")
    num_classes = counts.size
    present = counts > 0
    w = np.zeros(num_classes, dtype=np.float64)
    if scheme == "inverse_frequency":
        w[present] = counts.sum() / (num_classes * counts[present])
    else:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"cbce beta must be in [0, 1), got {beta}")
        w[present] = (1.0 - beta) / (1.0 - np.power(beta, counts[present]))
        w *= num_classes / w.sum()
    return torch.tensor(w, dtype=torch.float32)


# --------------------------------------------------------------------------- categorical losses


def smooth(y: Tensor, eps: float) -> Tensor:
    """Label smoothing towards uniform: (1 − eps) y + eps / K (K = number of columns)."""
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label smoothing eps must be in [0, 1], got {eps}")
    return (1.0 - eps) * y + eps / y.shape[-1]


def hard_ce(
    logits: Tensor, target_idx: Tensor, weight: Tensor | None = None, label_smoothing: float = 0.0
) -> Tensor:
    """Cross-entropy on class indices, PyTorch ``mean`` semantics.

    With ``weight`` the result is the weighted mean Σᵢ w_{yᵢ} ℓᵢ / Σᵢ w_{yᵢ}. A batch
    whose targets all have weight 0 gives 0 (not NaN). ``label_smoothing`` is
    PyTorch's (targets (1 − eps) onehot + eps / K).
    """
    z = _check_logits(logits)
    t = _check_indices(target_idx, z)
    if weight is None:
        return F.cross_entropy(z, t, label_smoothing=label_smoothing)
    w = weight.to(device=z.device, dtype=torch.float32)
    if w.shape != (z.shape[1],):
        raise ValueError(f"class weights must have shape ({z.shape[1]},), got {tuple(w.shape)}")
    total = F.cross_entropy(z, t, weight=w, reduction="sum", label_smoothing=label_smoothing)
    denom = w[t].sum()
    return total / denom.clamp_min(torch.finfo(torch.float32).tiny)


def soft_ce(logits: Tensor, target_probs: Tensor) -> Tensor:
    """Soft cross-entropy −(1/B) Σᵢ Σ_k y_ik log p_ik."""
    z = _check_logits(logits)
    y = _check_distribution(target_probs, z)
    return -(y * F.log_softmax(z, dim=1)).sum(dim=1).mean()


def kl(logits: Tensor, target_probs: Tensor) -> Tensor:
    """KL(y ‖ p) = (1/B) Σᵢ Σ_k y_ik (log y_ik − log p_ik), with 0·log 0 = 0."""
    z = _check_logits(logits)
    y = _check_distribution(target_probs, z)
    logp = F.log_softmax(z, dim=1)
    return (torch.special.xlogy(y, y) - y * logp).sum(dim=1).mean()


def jsd(logits: Tensor, target_probs: Tensor) -> Tensor:
    """Jensen–Shannon divergence ½ KL(y ‖ m) + ½ KL(p ‖ m), m = (y + p)/2, batch mean (nats).

    log m is formed as logaddexp(log y, log p) − ln 2 from log_softmax, so it is
    finite wherever p > 0 in exact arithmetic, even if p underflows in fp32;
    values and gradients stay finite for zero targets.
    """
    z = _check_logits(logits)
    y = _check_distribution(target_probs, z)
    logp = F.log_softmax(z, dim=1)
    p = logp.exp()
    logm = torch.logaddexp(torch.log(y), logp) - _LN2  # log(0) = -inf is fine: y is a constant
    kl_y = torch.special.xlogy(y, y) - y * logm
    kl_p = p * (logp - logm)
    return (0.5 * (kl_y + kl_p)).sum(dim=1).mean()


def categorical_loss(
    kind: str,
    logits: Tensor,
    targets: Tensor,
    class_weight: Tensor | None = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Dispatch on ``kind`` in {ce, cbce, soft_ce, kl, jsd}.

    ``ce``/``cbce``: ``targets`` are class indices (LongTensor [B]); ``cbce``
    needs ``class_weight`` ([9], see ``class_weights``), ``ce`` ignores it.
    ``soft_ce``/``kl``/``jsd``: ``targets`` are [B, 9] distributions;
    ``class_weight`` is not used. ``label_smoothing`` eps: hard kinds use
    PyTorch's label smoothing, distributional kinds ``smooth(targets, eps)``.
    """
    if kind not in CATEGORICAL_KINDS:
        raise ValueError(f"categorical loss must be one of {list(CATEGORICAL_KINDS)}, got {kind!r}")
    if kind == "ce":
        return hard_ce(logits, targets, label_smoothing=label_smoothing)
    if kind == "cbce":
        if class_weight is None:
            raise ValueError("cbce needs class_weight (see sertools.model.losses.class_weights)")
        return hard_ce(logits, targets, weight=class_weight, label_smoothing=label_smoothing)
    if label_smoothing:
        if not isinstance(targets, Tensor) or not targets.is_floating_point():
            raise ValueError(f"{kind} needs float [batch, {K}] distribution targets")
        targets = smooth(targets.float(), label_smoothing)
    fn = {"soft_ce": soft_ce, "kl": kl, "jsd": jsd}[kind]
    return fn(logits, targets)


def categorical_per_sample(
    kind: str,
    logits: Tensor,
    targets: Tensor,
    *,
    class_weight: Tensor | None = None,
    label_smoothing: float = 0.0,
    target_floor: float = 0.0,
) -> Tensor:
    """Per-sample categorical losses [B] (fp32), for losses reduced by other than the plain mean.

    ``ce``: −log p_y; ``cbce``: w_y · (−log p_y) (the batch mean of these is the
    release's class-balanced CE, not divided by Σ w_y); ``soft_ce``: −Σ_k y_k log p_k;
    ``kl``: Σ_k c_k (y_k log y_k − y_k log p_k), ``c`` = ``class_weight`` (WKLD) or 1,
    with ``y`` clamped below at ``target_floor`` and renormalised when it is > 0
    (the release's 1e-8); ``jsd`` as in :func:`jsd`. Label smoothing as in
    :func:`categorical_loss`.
    """
    if kind not in CATEGORICAL_KINDS:
        raise ValueError(f"categorical loss must be one of {list(CATEGORICAL_KINDS)}, got {kind!r}")
    z = _check_logits(logits)
    logp = F.log_softmax(z, dim=1)
    if kind in HARD_KINDS:
        t = _check_indices(targets, z)
        nll = F.cross_entropy(z, t, reduction="none", label_smoothing=label_smoothing)
        if kind == "ce":
            return nll
        if class_weight is None:
            raise ValueError("cbce needs class_weight (see sertools.model.losses.class_weights)")
        return class_weight.to(device=z.device, dtype=torch.float32)[t] * nll
    y = _check_distribution(targets, z)
    if label_smoothing:
        y = smooth(y, label_smoothing)
    if kind == "soft_ce":
        return -(y * logp).sum(dim=1)
    if kind == "jsd":
        p = logp.exp()
        logm = torch.logaddexp(torch.log(y), logp) - _LN2
        return (0.5 * ((torch.special.xlogy(y, y) - y * logm) + p * (logp - logm))).sum(dim=1)
    if target_floor > 0:
        y = y.clamp_min(target_floor)
        y = y / y.sum(dim=1, keepdim=True)
    terms = torch.special.xlogy(y, y) - y * logp
    if class_weight is not None:
        terms = terms * class_weight.to(device=z.device, dtype=torch.float32)
    return terms.sum(dim=1)


# --------------------------------------------------------------------------- dimensional losses


def _check_dims(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor) or pred.shape != target.shape:
        raise ValueError(
            "dimensional pred and target must be tensors of equal shape, got "
            f"{getattr(pred, 'shape', type(pred).__name__)} and {getattr(target, 'shape', type(target).__name__)}"
        )
    if pred.dim() not in (1, 2) or pred.shape[0] == 0:
        raise ValueError(
            f"dimensional tensors must be [batch] or [batch, attributes] and non-empty, got {tuple(pred.shape)}"
        )
    return pred.float(), target.float()


def ccc(pred: Tensor, target: Tensor) -> Tensor:
    """Concordance correlation per column (population moments over the batch).

    CCC = 2 cov / (var_p + var_t + (μ_p − μ_t)² + 1e-8). The epsilon makes a
    constant batch (e.g. B = 1) give 0 rather than NaN; for real batches its
    effect is negligible (relative 1e-8 / denominator).
    """
    p, t = _check_dims(pred, target)
    mp, mt = p.mean(dim=0), t.mean(dim=0)
    dp, dt = p - mp, t - mt
    cov = (dp * dt).mean(dim=0)
    vp, vt = (dp * dp).mean(dim=0), (dt * dt).mean(dim=0)
    return 2.0 * cov / (vp + vt + (mp - mt).square() + CCC_EPS)


def dimensional_loss(kind: str, pred: Tensor, target: Tensor) -> Tensor:
    """Σ over attributes of (1 − CCC) (``ccc``) or of the batch-mean squared error (``mse``)."""
    if kind not in DIMENSIONAL_KINDS:
        raise ValueError(f"dimensional loss must be one of {list(DIMENSIONAL_KINDS)}, got {kind!r}")
    if kind == "ccc":
        return (1.0 - ccc(pred, target)).sum()
    p, t = _check_dims(pred, target)
    return (p - t).square().mean(dim=0).sum()


def total_loss(cat: Tensor, dim: Tensor, dim_weight: float) -> Tensor:
    """cat + dim_weight · dim."""
    return cat + dim_weight * dim

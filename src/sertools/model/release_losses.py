"""The paper release's loss definitions (docs/training.md, "The paper release's training pieces").

They differ from :mod:`sertools.model.losses` in small, deliberate ways that a
reproduction must follow:

- class-balanced CE: weights ``(1 - beta) / (1 - beta ** n_c)`` with beta = 0.9999,
  divided by their mean; the loss is ``mean_i w_{y_i} * (-log p_{y_i})``, *not*
  divided by the summed weights as PyTorch's weighted cross-entropy is;
- KLD: ``KL(q || p) = sum_c q_c (log q_c - log p_c)`` in nats, the target
  clamped at 1e-8 and renormalised, optionally with per-class weights
  multiplying each term (WKLD: inverse class frequency, mean 1, clamped to
  [0.25, 5]), summed over classes and averaged over the batch;
- dimensional loss: a heteroscedastic Gaussian NLL ``0.5 (exp(-lv) (mu - y)^2 + lv)``
  with the log-variance clamped to [-10, 10] and attribute weights (valence 1.4,
  arousal 1, dominance 1) averaged over batch x attributes, plus
  ``0.1 * max(0, 1 - weighted mean batch CCC)`` of the means.

Attributes are named, never positional: this package orders them arousal,
valence, dominance (:data:`DIMENSIONS`), the release valence, arousal, dominance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

DIMENSIONS: tuple[str, ...] = ("arousal", "valence", "dominance")
TARGET_EPS = 1e-8  # target distributions are clamped here and renormalised
LOGVAR_CLAMP = 10.0
CCC_EPS = 1e-8
DEFAULT_DIM_WEIGHTS: Mapping[str, float] = {"valence": 1.4, "arousal": 1.0, "dominance": 1.0}
VAD_SCALES = ("1_7", "neg1_1")

#: Class counts hard-coded in the release's configs (docs/paper_release.md, "Class counts"), by class
#: name; each set sums to 169,190 (the Train size of MSP-Podcast 2.0). ``cbce``: YAML ``cbce.class_counts``;
#: ``wkld``: YAML ``kld_weighting`` counts.
RELEASE_CLASS_COUNTS: Mapping[str, Mapping[str, int]] = {
    "cbce": {
        "Neutral": 50747, "Happy": 45328, "Angry": 24910, "Sad": 28919, "Fear": 1207,
        "Disgust": 2066, "Contempt": 4278, "Surprise": 8001, "Other": 3734,
    },
    "wkld": {
        "Neutral": 50708, "Happy": 46711, "Angry": 27936, "Sad": 29170, "Fear": 1199,
        "Disgust": 1876, "Contempt": 3989, "Surprise": 4772, "Other": 2829,
    },
}  # fmt: skip


def release_counts(kind: str, classes: Sequence[str]) -> np.ndarray:
    """The release's hard-coded counts of ``kind`` (``cbce`` or ``wkld``) in the order of ``classes``."""
    counts = RELEASE_CLASS_COUNTS[kind]
    return np.array([counts[c] for c in classes], dtype=np.float64)


def class_balanced_weights(counts: Sequence[float], beta: float = 0.9999) -> np.ndarray:
    """Effective-number weights ``(1 - beta) / (1 - beta^n)``, normalised to mean 1."""
    n = np.asarray(counts, dtype=np.float64)
    if np.any(n <= 0):
        raise ValueError(f"class-balanced weights need a positive count for every class, got {n.tolist()}")
    w = (1.0 - beta) / (1.0 - np.power(beta, n))
    return w / w.mean()


def inverse_frequency_weights(
    counts: Sequence[float], power: float = 1.0, clamp: tuple[float, float] = (0.25, 5.0)
) -> np.ndarray:
    """``(1 / n_c)^power`` divided by its mean, then clamped (WKLD's class weights)."""
    n = np.asarray(counts, dtype=np.float64)
    if np.any(n <= 0):
        raise ValueError(f"inverse-frequency weights need a positive count for every class, got {n.tolist()}")
    w = np.power(1.0 / n, power)
    return np.clip(w / w.mean(), *clamp)


def cbce(logits: Tensor, target: Tensor, class_weights: Tensor) -> Tensor:
    """Per-sample weighted CE on hard labels, averaged over the batch (no division by sum of weights)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    nll = -logp.gather(1, target[:, None]).squeeze(1)
    return (class_weights.to(nll)[target] * nll).mean()


def clamp_target(q: Tensor, eps: float = TARGET_EPS) -> Tensor:
    q = q.float().clamp_min(eps)
    return q / q.sum(dim=-1, keepdim=True)


def kld_per_sample(logits: Tensor, q: Tensor, class_weights: Tensor | None = None) -> Tensor:
    """``sum_c w_c q_c (log q_c - log p_c)`` per sample, in nats (q clamped at 1e-8, renormalised)."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    q = clamp_target(q)
    terms = q * (q.log() - logp)
    if class_weights is not None:
        terms = terms * class_weights.to(terms)
    return terms.sum(dim=-1)


def kld(logits: Tensor, q: Tensor, class_weights: Tensor | None = None) -> Tensor:
    """Batch mean of :func:`kld_per_sample` (KLD, or WKLD with class weights)."""
    return kld_per_sample(logits, q, class_weights).mean()


def scale_vad(ratings: np.ndarray, scale: str) -> np.ndarray:
    """Consensus 1-7 ratings as training targets: ``1_7`` raw, ``neg1_1`` = clip((x - 4) / 2, -1, 1)."""
    x = np.asarray(ratings, dtype=np.float64)
    if scale == "1_7":
        return x
    if scale == "neg1_1":
        return np.clip((x - 4.0) / 2.0, -1.0, 1.0)
    raise ValueError(f"VAD scale {scale!r}: expected one of {VAD_SCALES}")


def _dim_weights(weights: Mapping[str, float], like: Tensor) -> Tensor:
    unknown = set(weights) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown attributes in dimension weights: {sorted(unknown)}")
    return torch.tensor(
        [float(weights.get(d, 1.0)) for d in DIMENSIONS], dtype=like.dtype, device=like.device
    )


def gaussian_nll(
    mu: Tensor, logvar: Tensor, target: Tensor, weights: Mapping[str, float] = DEFAULT_DIM_WEIGHTS
) -> Tensor:
    """Weighted heteroscedastic Gaussian NLL, mean over batch x attributes ([B, 3] in DIMENSIONS order)."""
    mu, target = mu.float(), target.float()
    lv = logvar.float().clamp(-LOGVAR_CLAMP, LOGVAR_CLAMP)
    nll = 0.5 * (torch.exp(-lv) * (mu - target) ** 2 + lv)
    return (nll * _dim_weights(weights, nll)).mean()


def batch_ccc(x: Tensor, y: Tensor) -> Tensor:
    """Lin's CCC per column of [B, 3] tensors (population variances, eps in the denominator)."""
    x, y = x.float(), y.float()
    mx, my = x.mean(0), y.mean(0)
    vx, vy = x.var(0, unbiased=False), y.var(0, unbiased=False)
    cov = ((x - mx) * (y - my)).mean(0)
    return 2 * cov / (vx + vy + (mx - my) ** 2 + CCC_EPS)


def vad_loss(
    mu: Tensor,
    logvar: Tensor,
    target: Tensor,
    weights: Mapping[str, float] = DEFAULT_DIM_WEIGHTS,
    ccc_weight: float = 0.1,
) -> Tensor:
    """Gaussian NLL + ``ccc_weight * max(0, 1 - weighted mean CCC)`` on the batch."""
    w = _dim_weights(weights, mu.float())
    ccc = (batch_ccc(mu, target) * w).sum() / w.sum()
    return gaussian_nll(mu, logvar, target, weights) + ccc_weight * torch.clamp(1.0 - ccc, min=0.0)


def multitask(cat: Tensor, vad: Tensor, vad_weight: float = 0.3, cat_weight: float = 1.0) -> Tensor:
    """The release's total: ``vad_weight * L_VAD + cat_weight * L_cat``."""
    return vad_weight * vad + cat_weight * cat

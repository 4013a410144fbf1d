"""The paper release's pieces of the objective that :mod:`sertools.model.losses` does not have
(docs/training.md, "The paper release's training pieces"); the objective of a run
(:mod:`sertools.training.optimisation`) uses them:

- WKLD class weights: inverse class frequency divided by the mean, clamped to [0.25, 5]
  (:func:`inverse_frequency_weights`);
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

from sertools.classes import DIMENSIONS

LOGVAR_CLAMP = 10.0
CCC_EPS = 1e-8
DEFAULT_DIM_WEIGHTS: Mapping[str, float] = {"valence": 1.4, "arousal": 1.0, "dominance": 1.0}


def inverse_frequency_weights(
    counts: Sequence[float], power: float = 1.0, clamp: tuple[float, float] = (0.25, 5.0)
) -> np.ndarray:
    """``(1 / n_c)^power`` divided by its mean, then clamped (WKLD's class weights)."""
    n = np.asarray(counts, dtype=np.float64)
    if np.any(n <= 0):
        raise ValueError(f"inverse-frequency weights need a positive count for every class, got {n.tolist()}")
    w = np.power(1.0 / n, power)
    return np.clip(w / w.mean(), *clamp)


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

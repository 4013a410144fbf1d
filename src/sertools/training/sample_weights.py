"""Per-sample weights of the categorical loss, from the entropy of each sample's target.

This is what the paper release calls its entropy curriculum (a variant's
``entropy_curriculum`` section): inside every mini-batch it filters or weights
the samples of the categorical loss by how ambiguous their target is, on a
schedule over epochs. The dimensional loss keeps every sample and validation
uses no weights (docs/training.md, "The paper release's training pieces"). It
is independent of the epoch pool (:mod:`sertools.data.epoch_pool`), which
chooses the utterances an epoch draws. ``H`` is the normalised entropy (in
[0, 1]) of the run's own target distribution.

Every mode is expressed as weights ``w`` with ``loss = mean(w * per_sample_loss)``:

- ``filter``: keep samples with ``H <= threshold`` (or, with a quantile
  schedule, the ``ceil(q * B)`` lowest-entropy samples); ``w = keep / mean(keep)``,
  so the loss is the mean over kept samples (the plain mean if none is kept).
- ``filter_rev``: the same with ``H >= threshold`` (the highest-entropy samples).
- ``weight``: ``w = (1 - H) ** alpha``; ``weight_rev``: ``w = max(H, 1e-8) ** alpha``;
  both clamped to ``[min_weight, 1]`` and divided by their batch mean (uniform
  if that mean is at most 1e-8).

Epochs are 1-based. Up to ``warmup_epochs`` the mode is off (all weights 1).
Afterwards the ramp position is ``t = clip((epoch - warmup - 1) / (ramp - 1), 0, 1)``
(``t = 1`` when ``ramp <= 1``); the threshold runs from ``start_threshold`` to
``end_threshold`` and ``alpha`` from ``alpha_start`` to ``alpha_end`` along ``t``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

MODES = ("none", "filter", "filter_rev", "weight", "weight_rev")
MEAN_FLOOR = 1e-8  # a batch mean weight at or below this gives uniform weights
ENTROPY_FLOOR = 1e-8  # H is floored here before H ** alpha (weight_rev)


@dataclass(frozen=True)
class SampleWeighting:
    """The weighting schedule of one run (a variant's ``entropy_curriculum`` section)."""

    mode: str = "none"
    warmup_epochs: int = 0
    ramp_epochs: int = 1
    start_threshold: float = 0.5
    end_threshold: float = 0.95
    quantile_schedule: tuple[float, ...] = field(default_factory=tuple)
    schedule_epochs: tuple[int, ...] = field(default_factory=tuple)
    alpha_start: float = 2.0
    alpha_end: float = 0.0
    min_weight: float = 0.15

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"entropy_curriculum.mode {self.mode!r}: expected one of {MODES}")
        if len(self.quantile_schedule) != len(self.schedule_epochs):
            raise ValueError(
                "entropy_curriculum: quantile_schedule and schedule_epochs must have the same length "
                f"({len(self.quantile_schedule)} != {len(self.schedule_epochs)})"
            )
        if list(self.schedule_epochs) != sorted(self.schedule_epochs):
            raise ValueError("entropy_curriculum.schedule_epochs must be increasing")
        if not all(0.0 <= q <= 1.0 for q in self.quantile_schedule):
            raise ValueError("entropy_curriculum.quantile_schedule entries must lie in [0, 1]")
        if not 0.0 <= self.min_weight <= 1.0:
            raise ValueError("entropy_curriculum.min_weight must lie in [0, 1]")

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> SampleWeighting:
        section = dict(section or {})
        for key in ("quantile_schedule", "schedule_epochs"):
            if key in section:
                section[key] = tuple(section[key])
        return cls(**section)

    @property
    def active(self) -> bool:
        return self.mode != "none"

    def ramp(self, epoch: int) -> float:
        """Ramp position t in [0, 1] of a 1-based epoch after the warm-up."""
        if self.ramp_epochs <= 1:
            return 1.0
        t = (epoch - self.warmup_epochs - 1) / (self.ramp_epochs - 1)
        return min(max(t, 0.0), 1.0)

    def threshold(self, epoch: int) -> float:
        return self.start_threshold + self.ramp(epoch) * (self.end_threshold - self.start_threshold)

    def alpha(self, epoch: int) -> float:
        return self.alpha_start + self.ramp(epoch) * (self.alpha_end - self.alpha_start)

    def quantile(self, epoch: int) -> float | None:
        """The quantile of the last schedule epoch <= ``epoch`` (None without a schedule)."""
        if not self.quantile_schedule:
            return None
        q = self.quantile_schedule[0]
        for e, value in zip(self.schedule_epochs, self.quantile_schedule, strict=True):
            if e <= epoch:
                q = value
        return q

    def weights(self, entropy: torch.Tensor, epoch: int) -> torch.Tensor:
        """Per-sample weights (mean 1 over the batch, 0 for samples left out) for a 1-based epoch."""
        h = entropy.detach().to(torch.float64).clamp(0.0, 1.0)
        if not self.active or epoch <= self.warmup_epochs:
            return torch.ones_like(h)
        if self.mode in ("filter", "filter_rev"):
            keep = self._kept(h, epoch)
            if not bool(keep.any()):
                return torch.ones_like(h)
            return keep.to(h.dtype) / keep.to(h.dtype).mean()
        alpha = self.alpha(epoch)
        base = (1.0 - h) if self.mode == "weight" else h.clamp_min(ENTROPY_FLOOR)
        w = base.pow(alpha).clamp(self.min_weight, 1.0)
        mean = w.mean()
        return torch.ones_like(h) if float(mean) <= MEAN_FLOOR else w / mean

    def _kept(self, h: torch.Tensor, epoch: int) -> torch.Tensor:
        reverse = self.mode == "filter_rev"
        q = self.quantile(epoch)
        if q is None:
            thr = self.threshold(epoch)
            return h >= thr if reverse else h <= thr
        n_keep = math.ceil(q * h.numel())
        # stable order; ties keep the earlier sample
        order = torch.sort(h, descending=reverse, stable=True).indices[:n_keep]
        keep = torch.zeros_like(h, dtype=torch.bool)
        keep[order] = True
        return keep

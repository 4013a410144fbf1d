"""The default tiny (random-init, offline) model and test waveforms, shared by the model tests."""

from __future__ import annotations

import torch

from sertools.model.network import SERModel, build_model


def build(seed: int = 0, **overrides: object) -> SERModel:
    """The tiny model with ``overrides`` of the model section, initialised from ``seed``."""
    torch.manual_seed(seed)
    return build_model(overrides)


def noise(n: int, seed: int) -> torch.Tensor:
    """``n`` samples of seeded noise (std 0.3, mean 0.05)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g) * 0.3 + 0.05

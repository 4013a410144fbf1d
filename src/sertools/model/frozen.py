"""Head-only model on cached frozen-upstream features (``model.mode: frozen``).

Input: a batch of feature rows [B, L x D] (:class:`sertools.features.dataset.FeatureDataset`
flattens [L, D]): L = the upstream's hidden layers (``wavlm``) or 1
(``egemaps``). The head:

1. ``egemaps``: each value standardised with the Train mean and std
   (:meth:`FeatureHeadModel.set_feature_stats`; saved with the weights);
2. L > 1: a learnable softmax-weighted sum of the layers (zeros at init, so
   uniform), as SUPERB's weighted-sum protocol;
3. the paper release's heads (:mod:`sertools.model.tcgru`): a categorical MLP
   (Linear, LayerNorm, GELU, dropout, Linear) with one output per class of the
   class set, and a Gaussian A/V/D head giving a mean and a log-variance per
   attribute, only when the class set has A/V/D (``dimensions``; without it
   ``dims`` is [B, 0] and there is no log-variance).

The outputs are :class:`sertools.model.network.ModelOutput`, so losses,
validation, inference and prediction dumps treat the model like the
fine-tuned one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sertools.classes import DIMENSIONS, K
from sertools.data.dim_scale import check_scale
from sertools.model.network import ModelOutput, architecture_outputs, check_outputs
from sertools.model.tcgru import GaussianDims, mlp_head

KIND = "frozen_head"
VERSION = 1
#: upstreams whose features the head standardises with Train statistics
STANDARDISED = ("egemaps",)


class FeatureHeadModel(nn.Module):
    """Layer weighting + categorical and Gaussian A/V/D heads over [L, D] feature rows."""

    waveform_norm = "none"  # no waveform statistics to measure (sertools.training.data.WaveformStats)

    def __init__(
        self,
        upstream: str,
        layers: int,
        dim: int,
        *,
        hidden: int = 256,
        dropout: float = 0.2,
        dim_scale: str = "unit",
        num_classes: int = K,
        dimensions: tuple[str, ...] = DIMENSIONS,
    ) -> None:
        super().__init__()
        check_outputs(num_classes, dimensions)
        if layers < 1 or dim < 1:
            raise ValueError(
                f"feature rows must have at least one layer and one value, got [{layers}, {dim}]"
            )
        self.upstream = str(upstream)
        self.layers, self.dim = int(layers), int(dim)
        self.hidden, self.dropout = int(hidden), float(dropout)
        self.dim_scale = check_scale(dim_scale)
        self.standardise = self.upstream in STANDARDISED
        self.layer_weights = nn.Parameter(torch.zeros(self.layers)) if self.layers > 1 else None
        self.num_classes, self.dimensions = int(num_classes), tuple(dimensions)
        self.cat_head = mlp_head(self.dim, self.num_classes, hidden=self.hidden, dropout=self.dropout)
        self.dim_head = (
            GaussianDims(self.dim, hidden=self.hidden, dropout=self.dropout) if self.dimensions else None
        )
        self.feat_mean: Tensor
        self.feat_std: Tensor
        self.register_buffer("feat_mean", torch.zeros(self.layers, self.dim))
        self.register_buffer("feat_std", torch.ones(self.layers, self.dim))

    def set_feature_stats(self, values: np.ndarray) -> None:
        """Mean and std per value over the Train rows [N, L, D] (std floored at 1e-6: constant values)."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 3 or values.shape[1:] != (self.layers, self.dim) or len(values) == 0:
            raise ValueError(
                f"feature statistics need [N>0, {self.layers}, {self.dim}] rows, got {values.shape}"
            )
        self.feat_mean.copy_(torch.from_numpy(values.mean(axis=0)))
        self.feat_std.copy_(torch.from_numpy(np.maximum(values.std(axis=0), 1e-6)))

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> ModelOutput:
        """``x``: [B, L x D] rows; ``lengths`` is accepted for the loops' sake and ignored."""
        if x.dim() != 2 or x.shape[1] != self.layers * self.dim:
            raise ValueError(
                f"feature rows of width {tuple(x.shape)[1:]} do not fit the head's [{self.layers}, {self.dim}]"
            )
        h = x.view(x.shape[0], self.layers, self.dim)
        if self.standardise:
            h = (h - self.feat_mean) / self.feat_std
        if self.layer_weights is None:
            z = h[:, 0]
        else:
            z = torch.einsum("l,bld->bd", torch.softmax(self.layer_weights, dim=0).to(h.dtype), h)
        if self.dim_head is None:
            return ModelOutput(logits=self.cat_head(z), dims=z.new_zeros(z.shape[0], 0))
        mean, logvar = self.dim_head(z)
        return ModelOutput(logits=self.cat_head(z), dims=mean, dims_logvar=logvar)

    def param_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(no backbone parameters, every parameter of the head)."""
        return [], [p for p in self.parameters() if p.requires_grad]

    def layer_weight_values(self) -> Tensor | None:
        return None if self.layer_weights is None else torch.softmax(self.layer_weights.detach(), dim=0)

    def architecture(self) -> dict[str, Any]:
        """JSON description; :func:`from_architecture` rebuilds the model."""
        return {
            "kind": KIND,
            "version": VERSION,
            "upstream": self.upstream,
            "layers": self.layers,
            "dim": self.dim,
            "hidden": self.hidden,
            "dropout": self.dropout,
            "dim_scale": self.dim_scale,
            "num_classes": self.num_classes,
            "dimensions": list(self.dimensions),
        }


def from_architecture(arch: dict[str, Any]) -> FeatureHeadModel:
    """Random-init head with exactly the architecture of :meth:`FeatureHeadModel.architecture`."""
    if arch.get("version") != VERSION:
        raise ValueError(
            f"frozen-head architecture version {arch.get('version')} is not supported ({VERSION})"
        )
    missing = [k for k in ("upstream", "layers", "dim", "hidden", "dropout", "dim_scale") if k not in arch]
    if missing:
        raise ValueError(f"frozen-head architecture description lacks key(s) {missing}")
    num_classes, dimensions = architecture_outputs(arch)
    return FeatureHeadModel(
        str(arch["upstream"]),
        int(arch["layers"]),
        int(arch["dim"]),
        hidden=int(arch["hidden"]),
        dropout=float(arch["dropout"]),
        dim_scale=str(arch["dim_scale"]),
        num_classes=num_classes,
        dimensions=dimensions,
    )

"""GroupNorm over time that uses each utterance's valid frames only.

WavLM-Base's first conv layer normalises with a GroupNorm over *time*: one
mean and variance per channel over the whole, padded, sequence, so padding
would change every output. :class:`LengthAwareGroupNorm` replaces it (same
``weight``/``bias`` parameter names, so checkpoints load unchanged) and
computes the statistics over the valid frames of each utterance, which is what
the pre-trained weights expect: pre-training cropped every batch to one length.

:func:`masked_group_norm` is the fast version with a hand-written backward;
:func:`masked_group_norm_reference` is the readable plain-autograd definition it
must match (tests/model/test_group_norm.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sertools.model.lengths import length_mask


def masked_group_norm_reference(
    x: Tensor, lengths: Tensor, groups: int, weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor:
    """Plain-autograd masked GroupNorm: the readable definition that ``masked_group_norm`` must match."""
    b, c, t = x.shape
    mask = length_mask(lengths, t).to(x.dtype)[:, None, None, :]  # [B, 1, 1, T]
    xg = x.reshape(b, groups, c // groups, t)
    count = (lengths.to(x.dtype) * (c // groups))[:, None, None, None]
    mean = (xg * mask).sum(dim=(2, 3), keepdim=True) / count
    centred = (xg - mean) * mask
    var = (centred * centred).sum(dim=(2, 3), keepdim=True) / count
    out = ((xg - mean) * torch.rsqrt(var + eps)).reshape(b, c, t)
    if weight is not None:
        if bias is None:
            raise ValueError("an affine GroupNorm has a bias next to its weight")
        out = out * weight[None, :, None] + bias[None, :, None]
    return out


class _MaskedGroupNorm(torch.autograd.Function):
    """GroupNorm whose statistics use the valid frames only, with a hand-written backward.

    The first CNN layer's output is the largest activation of the model (channels x
    samples/5), so plain autograd through the masked statistics spent about half of a
    tiny-model training step in elementwise passes over it; fewer, fused passes here
    (speed-up against ``masked_group_norm_reference``: benchmarks/bench_group_norm.py).

    With y = (x - mu) / sigma per (utterance, group), statistics over the n valid
    positions V, out = gamma * y + beta on every position, and h = gamma * dL/dout:
        dL/dx_i = (h_i - [i in V] (sum_all h + y_i sum_all h*y) / n) / sigma
    (padded outputs depend on mu and sigma, so their gradient reaches valid inputs).
    """

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, lengths: Tensor, groups: int, weight: Tensor, bias: Tensor, eps: float
    ) -> Tensor:
        b, c, t = x.shape
        cg = c // groups
        valid = length_mask(lengths, t).to(x.dtype).repeat(1, cg)[:, :, None]  # [B, cg*T, 1]
        n = (lengths.to(x.dtype) * cg)[:, None, None]  # [B, 1, 1]
        xg = x.reshape(b, groups, cg * t)
        mean = torch.bmm(xg, valid) / n  # [B, G, 1]
        centred = xg - mean
        var = torch.bmm(centred.square(), valid) / n
        inv_std = torch.rsqrt(var + eps)  # [B, G, 1]
        scale = inv_std.repeat_interleave(cg, dim=1) * weight[None, :, None]  # [B, C, 1]
        out = torch.addcmul(bias[None, :, None], centred.view(b, c, t), scale)
        ctx.save_for_backward(x, valid, n, mean, inv_std, weight)
        ctx.groups = groups
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        x, valid, n, mean, inv_std, weight = ctx.saved_tensors
        b, c, t = x.shape
        groups = ctx.groups
        cg = c // groups
        y = ((x.reshape(b, groups, cg * t) - mean) * inv_std).view(b, c, t)
        grad_weight = (grad_out * y).sum(dim=(0, 2)) if ctx.needs_input_grad[3] else None
        grad_bias = grad_out.sum(dim=(0, 2)) if ctx.needs_input_grad[4] else None
        grad_x = None
        if ctx.needs_input_grad[0]:
            h = (grad_out * weight[None, :, None]).view(b, groups, cg * t)
            yg = y.view(b, groups, cg * t)
            sum_h = h.sum(dim=2, keepdim=True) / n  # [B, G, 1]
            sum_hy = (h * yg).sum(dim=2, keepdim=True) / n
            correction = torch.addcmul(sum_h, yg, sum_hy) * valid.view(b, 1, cg * t)
            grad_x = ((h - correction) * inv_std).view(b, c, t)
        return grad_x, None, None, grad_weight, grad_bias, None


def masked_group_norm(
    x: Tensor, lengths: Tensor, groups: int, weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor:
    """GroupNorm of [B, C, T] whose statistics ignore frames at or beyond ``lengths``."""
    if weight is None:
        weight = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
        bias = torch.zeros_like(weight)
    return _MaskedGroupNorm.apply(x, lengths, groups, weight, bias, eps)


class LengthAwareGroupNorm(nn.Module):
    """GroupNorm over (channels-in-group, time) that uses the valid frames only.

    Holds the original GroupNorm's ``weight``/``bias`` under the same names. With
    no lengths set it is plain ``F.group_norm``. Lengths are set only for the
    duration of one forward call through ``frame_lengths()``.
    """

    def __init__(self, gn: nn.GroupNorm) -> None:
        super().__init__()
        self.num_groups = gn.num_groups
        self.num_channels = gn.num_channels
        self.eps = gn.eps
        self.weight = gn.weight
        self.bias = gn.bias
        self._lengths: Tensor | None = None

    @contextlib.contextmanager
    def frame_lengths(self, lengths: Tensor) -> Iterator[None]:
        self._lengths = lengths
        try:
            yield
        finally:
            self._lengths = None

    def forward(self, x: Tensor) -> Tensor:
        if self._lengths is None:
            return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        return masked_group_norm(x, self._lengths, self.num_groups, self.weight, self.bias, self.eps)

"""Valid lengths through the model: masks of valid positions and the conv encoder's arithmetic.

A padded batch carries each utterance's valid length in samples. WavLM's conv
feature encoder is a stack of valid (unpadded) 1-D convolutions, so after
layer ``i`` a length ``n`` becomes ``floor((n - k_i) / s_i) + 1`` frames
(kernel ``k_i``, stride ``s_i``); the smallest input giving one frame is the
receptive field. Padding invariance rests on every masked statistic using
these lengths (see :mod:`sertools.model.network`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """Boolean [B, max_len] mask, True at positions < lengths[b]."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def min_samples_for(kernels: Sequence[int], strides: Sequence[int]) -> int:
    """Smallest input length whose valid-conv stack yields one frame (the receptive field)."""
    n = 1
    for k, s in zip(reversed(kernels), reversed(strides), strict=True):
        n = (n - 1) * s + k
    return n


def conv_out_lengths(lengths: Tensor, kernels: Sequence[int], strides: Sequence[int], layers: int) -> Tensor:
    """Output lengths after the first ``layers`` conv layers (valid convolutions)."""
    out = lengths
    for k, s in list(zip(kernels, strides, strict=True))[:layers]:
        out = torch.div(out - k, s, rounding_mode="floor") + 1
    return out

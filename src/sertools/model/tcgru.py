"""The paper release's TC-GRU head and its categorical and dimensional output heads.

The release puts a temporal-convolution + GRU head on WavLM-Base's last
transformer layer instead of a pooling layer (docs/training.md, "The paper
release's training pieces"):

1. Conv1d (``in_dim`` -> 256, kernel 3, padding 1), ReLU, dropout 0.3;
2. a unidirectional 2-layer GRU (hidden 256, dropout 0.3 between layers) over
   each utterance's valid frames only (packed sequences);
3. the last layer's final state at each utterance's true length, plus the
   masked time-mean of the convolution output (a skip connection);
4. Linear 256 -> 256, ReLU, dropout 0.3: the utterance embedding.

The categorical head is Linear 256 -> 256, LayerNorm, GELU, dropout 0.2,
Linear -> 9 logits; the dimensional head has the same structure with 6
outputs: a mean and a log-variance for each of arousal, valence, dominance.

Padding invariance: frames past an utterance's length are zeroed before the
convolution, so the last valid frame sees the same zero the convolution's own
padding gives an utterance alone; the GRU runs on packed sequences and the mean
is taken over valid frames, so an utterance gives the same embedding alone and
padded in a batch (tests/model/test_tcgru.py).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

NUM_DIMS = 3


class TCGRUHead(nn.Module):
    """Frame features [B, T, D] + valid frame counts [B] -> utterance embedding [B, hidden]."""

    def __init__(
        self,
        in_dim: int,
        hidden: int = 256,
        kernel_size: int = 3,
        gru_layers: int = 2,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"TC-GRU kernel_size must be odd (same-length convolution), got {kernel_size}")
        self.conv = nn.Conv1d(in_dim, hidden, kernel_size, padding=kernel_size // 2)
        self.conv_dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(
            hidden,
            hidden,
            num_layers=gru_layers,
            batch_first=True,
            dropout=dropout if gru_layers > 1 else 0.0,
        )
        self.embed = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.out_dim = hidden

    def forward(self, frames: Tensor, lengths: Tensor) -> Tensor:
        steps = frames.shape[1]
        lengths = lengths.clamp(1, steps)
        mask = torch.arange(steps, device=frames.device)[None, :] < lengths[:, None]  # [B, T]
        x = frames * mask[..., None].to(frames.dtype)
        conv = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)  # [B, T, H]
        conv = self.conv_dropout(conv)
        packed = pack_padded_sequence(conv, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)  # [layers, B, H], each sequence's state at its own length
        final = h_n[-1]
        weights = mask.to(conv.dtype)[..., None]
        mean = (conv * weights).sum(dim=1) / lengths[:, None].to(conv.dtype)
        return self.embed(final + mean)


def mlp_head(in_dim: int, out_dim: int, hidden: int = 256, dropout: float = 0.2) -> nn.Sequential:
    """Linear, LayerNorm, GELU, dropout, Linear (the release's categorical and VAD heads)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        nn.LayerNorm(hidden),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, out_dim),
    )


class GaussianDims(nn.Module):
    """Dimensional head: a mean and a log-variance per attribute (arousal, valence, dominance)."""

    def __init__(self, in_dim: int, hidden: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        self.net = mlp_head(in_dim, 2 * NUM_DIMS, hidden, dropout)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net(x)
        return out[:, :NUM_DIMS], out[:, NUM_DIMS:]

"""Seeds: all randomness of a training epoch is a pure function of (run seed, epoch).

The torch (CPU and CUDA) and python generators are reseeded at the start of
every epoch from :func:`epoch_seed`, offset by :data:`RANK_SEED_STRIDE` per
data-parallel rank (dropout and masks differ between ranks; batch plans do
not). Batch plans are seeded with the epoch seed itself and training crops
with (seed, epoch, item) (:func:`sertools.data.dataset.crop_start`), so an
epoch replayed after a resume draws exactly what it drew the first time
(docs/training.md, "Resume").
"""

from __future__ import annotations

import random

import numpy as np
import torch

RANK_SEED_STRIDE = 1_000_003  # torch RNG of rank r in an epoch: epoch seed + r x stride


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for epoch ``epoch`` (0-based) of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(epoch), 0x5E7]).generate_state(1, np.uint64)[0] >> 1)


def reseed(seed: int) -> None:
    """Seed torch (CPU and CUDA) and python ``random``."""
    torch.manual_seed(seed)
    random.seed(seed)


def seed_epoch(seed: int, epoch: int, rank: int = 0) -> None:
    """Reseed the generators for epoch ``epoch`` (0-based) on data-parallel rank ``rank``."""
    reseed(epoch_seed(seed, epoch) + RANK_SEED_STRIDE * rank)

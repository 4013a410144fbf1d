"""Cached feature rows as items of the training and inference loops.

A :class:`FeatureDataset` has the interface of
:class:`sertools.data.dataset.AudioDataset` (item ``i`` -> ``(i, float32
vector)``, ``sample_rate``, ``set_epoch``), so batching, the training loop and
:func:`sertools.model.inference.infer` run frozen-upstream heads unchanged.
Each row is flattened to one vector of L x D values; every row has the same
length, so collation pads nothing and the head reshapes it back
(:class:`sertools.model.frozen.FeatureHeadModel`). In batch plans a row counts
as one unit: :attr:`lengths` are ones and :attr:`sample_rate` is 1, so an
inference batch holds ``max_eval_batch_seconds`` rows.
"""

from __future__ import annotations

import numpy as np
import torch


class FeatureDataset(torch.utils.data.Dataset):
    """Rows of a [N, L, D] feature array, in the order given."""

    sample_rate = 1  # one row = one unit of a batch plan (see the module docstring)
    in_memory = True

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float32)
        if values.ndim != 3:
            raise ValueError(f"feature rows must be [N, L, D], got shape {values.shape}")
        self.shape: tuple[int, int] = (int(values.shape[1]), int(values.shape[2]))
        self.values = np.ascontiguousarray(values.reshape(len(values), -1))

    @property
    def lengths(self) -> np.ndarray:
        """One unit per row (batch plans and padded-fraction logs)."""
        return np.ones(len(self.values), dtype=np.int64)

    @property
    def rows(self) -> np.ndarray:
        """Every item's vector, [N, L x D] (:func:`sertools.data.dataset.iterate_batches` batches from it)."""
        return self.values

    def set_epoch(self, epoch: int) -> None:
        """Rows are not cropped: nothing depends on the epoch."""

    def __len__(self) -> int:
        return len(self.values)

    def full(self, i: int) -> np.ndarray:
        return self.values[i]

    def __getitem__(self, i: int) -> tuple[int, np.ndarray]:
        return i, self.values[i]

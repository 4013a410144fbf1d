"""Feature rows as loop items: batched by one fancy index, the same batches as item-by-item collation."""

from __future__ import annotations

import numpy as np
import torch

from sertools.data import dataset
from sertools.features.dataset import FeatureDataset


def _item_by_item(ds: FeatureDataset, batches: list[np.ndarray], min_length: int) -> list[dataset.Batch]:
    return [dataset.collate([ds[int(i)] for i in b], min_length) for b in batches]


def test_row_batches_equal_item_collation() -> None:
    rng = np.random.default_rng(0)
    ds = FeatureDataset(rng.normal(size=(40, 2, 3)).astype(np.float32))
    batches = [rng.permutation(40)[:k] for k in (1, 7, 16)]
    for min_length in (1, 6, 9):  # 9 > the row width of 6: zero-padded like collate
        fast = list(dataset.iterate_batches(ds, batches, min_length))
        slow = _item_by_item(ds, batches, min_length)
        assert len(fast) == len(slow) == 3
        for a, b in zip(fast, slow, strict=True):
            for x, y in zip(a, b, strict=True):
                assert x.dtype == y.dtype and torch.equal(x, y)


def test_row_batches_do_not_alias_the_dataset() -> None:
    ds = FeatureDataset(np.zeros((4, 1, 2), dtype=np.float32))
    index = np.array([0, 1])
    (batch,) = dataset.iterate_batches(ds, [index], 1)
    batch.wave.add_(1.0)
    batch.index[0] = 3
    assert not ds.rows.any() and index.tolist() == [0, 1]

"""Partitions of the synthetic corpus (sertools.corpus.synthetic.layout)."""

from __future__ import annotations

import numpy as np
import pytest

from sertools.corpus.synthetic import layout


@pytest.mark.parametrize("n", [8, 9, 13, 20, 37, 50, 1000, 267_905])
def test_split_sizes_are_positive_and_sum_to_n(n: int) -> None:
    sizes = layout.split_sizes(n)
    assert sizes.sum() == n and (sizes >= 1).all()
    if n >= 1000:
        share = np.asarray(layout.MSP2_SPLIT_SIZES) / sum(layout.MSP2_SPLIT_SIZES)
        assert np.abs(sizes / n - share).max() < 2 / n

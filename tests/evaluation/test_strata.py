"""Tests for sertools.evaluation.strata: entropy strata and their bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from evalsets import make_data

from sertools.evaluation.bootstrap import bootstrap
from sertools.evaluation.evaldata import EvalData
from sertools.evaluation.strata import (
    bootstrap_strata,
    entropy_of,
    entropy_strata,
    split_strata,
    stratum_names,
)
from sertools.measures import normalised_entropy


def test_entropy_strata_edges() -> None:
    h = np.array([0.0, 0.2, 1 / 3, 0.5, 2 / 3, 0.9, 1.0])
    masks = entropy_strata(h)
    assert [np.flatnonzero(m).tolist() for m in masks] == [[0, 1], [2, 3], [4, 5, 6]]
    masks = entropy_strata(np.array([0.1, 0.5, 1.0]), edges=[0.0, 0.5, 1.0])
    assert [np.flatnonzero(m).tolist() for m in masks] == [[0], [1, 2]]
    with pytest.raises(ValueError, match="lie in"):
        entropy_strata(np.array([1.2]))
    with pytest.raises(ValueError, match="increasing"):
        entropy_strata(np.array([0.5]), edges=[0.0, 0.5, 0.5, 1.0])
    assert stratum_names() == ["[0.000, 0.333)", "[0.333, 0.667)", "[0.667, 1.000]"]


def test_bootstrap_strata_resamples_within_each_stratum() -> None:
    data = make_data(400, seed=5)
    res = bootstrap_strata(data, B=30, seed=2)
    masks = entropy_strata(data.entropy)
    assert list(res) == stratum_names()
    for (name, stratum), mask in zip(res.items(), masks, strict=True):
        if not mask.any():
            assert stratum == {}
            continue
        assert stratum["n_all"].point == mask.sum() == stratum["n_all"].lo == stratum["n_all"].hi, name
        direct = bootstrap(data.subset(mask), B=30, seed=2)
        assert stratum["macro_f1"][:3] == pytest.approx(tuple(direct["macro_f1"]), nan_ok=True)


def test_entropy_falls_back_to_the_primary_votes() -> None:
    data = make_data(30, seed=6)
    np.testing.assert_array_equal(entropy_of(data), data.entropy)
    bare = EvalData(
        probs=data.probs, pred=data.pred, hard=data.hard, p_primary=data.p_primary, p_merged=data.p_merged
    )
    np.testing.assert_allclose(entropy_of(bare), normalised_entropy(data.p_primary))
    with pytest.raises(ValueError, match="no entropy"):
        bootstrap_strata(bare, B=5)


def test_split_strata_of_an_empty_split() -> None:
    empty = make_data(10).subset(np.zeros(10, bool))
    h, masks = split_strata(empty, [0.0, 0.5, 1.0])
    assert h.shape == (0,) and len(masks) == 2 and all(m.shape == (0,) for m in masks)
    data = make_data(40, seed=1)
    h, masks = split_strata(data, [0.0, 0.5, 1.0])
    assert sum(int(m.sum()) for m in masks) == data.n

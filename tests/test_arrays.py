"""Tests for sertools.arrays: list columns as 2-D arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sertools.arrays import stack_lists
from sertools.classes import K


def test_stack_lists_from_series_array_and_list() -> None:
    rows = [np.full(K, 1 / K, dtype=np.float32), list(np.eye(K)[0])]
    for column in (pd.Series(rows), np.array(rows, dtype=object), rows):
        out = stack_lists(column, "p")
        assert out.shape == (2, K) and out.dtype == np.float64
        np.testing.assert_allclose(out[1], np.eye(K)[0])


def test_stack_lists_empty_and_width() -> None:
    assert stack_lists(pd.Series([], dtype=object), "p").shape == (0, K)
    assert stack_lists([[1, 2, 3]], "v", width=3).shape == (1, 3)


def test_stack_lists_names_the_column_on_error() -> None:
    with pytest.raises(ValueError, match="p_primary: every entry must be a list of 9 numbers"):
        stack_lists(pd.Series([np.ones(K), np.ones(8)]), "p_primary")
    with pytest.raises(ValueError, match="got shape"):
        stack_lists([np.ones(8)], "p_primary")


def test_isin_matches_pandas_on_arrow_strings() -> None:
    from sertools.arrays import isin

    values = pd.Series(["b", "a", "z", "a", "c"], dtype="string[pyarrow]")
    candidates = pd.Series(["a", "c", "q"], dtype="string[pyarrow]")
    got = isin(values, candidates)
    assert got.dtype == bool
    assert got.tolist() == values.isin(candidates).tolist() == [False, True, False, True, True]
    assert isin(values, candidates.iloc[:0]).tolist() == [False] * 5

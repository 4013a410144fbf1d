"""Dimensional scales (``model.dim_scale``): ratings to model units and back, arrays and tensors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from sertools.data import targets as data_targets
from sertools.data.dim_scale import DIM_SCALES, to_model_scale, to_rating_scale

RATINGS = np.array([1.0, 1.5, 2.0, 3.25, 4.0, 5.5, 6.0, 7.0])
EXPECTED = {
    "unit": (RATINGS - 1.0) / 6.0,
    "1_7": RATINGS,
    "neg1_1": np.array([-1.0, -1.0, -1.0, -0.375, 0.0, 0.75, 1.0, 1.0]),
}


@pytest.mark.parametrize("scale", DIM_SCALES)
def test_forward_values_for_arrays_and_tensors(scale: str) -> None:
    np.testing.assert_allclose(to_model_scale(RATINGS, scale), EXPECTED[scale])
    t = to_model_scale(torch.tensor(RATINGS, dtype=torch.float32), scale)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), EXPECTED[scale], atol=1e-7)


@pytest.mark.parametrize("scale", DIM_SCALES)
def test_round_trip(scale: str) -> None:
    # neg1_1 clips ratings outside [2, 6]; the other two scales keep all of [1, 7]
    x = RATINGS[(RATINGS >= 2) & (RATINGS <= 6)] if scale == "neg1_1" else RATINGS
    np.testing.assert_allclose(to_rating_scale(to_model_scale(x, scale), scale), x, atol=1e-12)
    xt = torch.tensor(x, dtype=torch.float32)
    torch.testing.assert_close(to_rating_scale(to_model_scale(xt, scale), scale), xt)


@pytest.mark.parametrize(("scale", "u", "want"), [
    ("unit", [-0.5, 0.5, 1.5], [1.0, 4.0, 7.0]),
    ("1_7", [0.0, 4.2, 9.0], [1.0, 4.2, 7.0]),
    ("neg1_1", [-2.0, -1.0, 0.5, 3.0], [1.0, 2.0, 5.0, 7.0]),
])  # fmt: skip
def test_inverse_clips_to_the_rating_range(scale: str, u: list[float], want: list[float]) -> None:
    np.testing.assert_allclose(to_rating_scale(np.array(u), scale), want)
    torch.testing.assert_close(to_rating_scale(torch.tensor(u), scale), torch.tensor(want))


def test_nan_stays_nan_and_unknown_scale_is_refused() -> None:
    for scale in DIM_SCALES:
        assert np.isnan(to_model_scale(np.array([np.nan]), scale)).all()
        assert np.isnan(to_rating_scale(np.array([np.nan]), scale)).all()
    with pytest.raises(ValueError, match="dim_scale"):
        to_model_scale(RATINGS, "0_1")
    with pytest.raises(ValueError, match="dim_scale"):
        to_rating_scale(RATINGS, "percent")


def test_unit_scale_round_trips_and_clips_tensors_and_arrays() -> None:
    x = torch.tensor([1.0, 2.5, 4.0, 7.0])
    torch.testing.assert_close(to_rating_scale(to_model_scale(x, "unit"), "unit"), x)
    torch.testing.assert_close(to_model_scale(x, "unit"), torch.tensor([0.0, 0.25, 0.5, 1.0]))
    clipped = to_rating_scale(torch.tensor([-0.5, 0.5, 1.5]), "unit")
    assert isinstance(clipped, torch.Tensor)
    torch.testing.assert_close(clipped, torch.tensor([1.0, 4.0, 7.0]))
    np.testing.assert_allclose(to_rating_scale(np.array([-1.0, 0.25, 2.0]), "unit"), [1.0, 2.5, 7.0])


def test_dimension_targets_use_the_scale() -> None:
    df = pd.DataFrame({"arousal": [1.0, 4.0], "valence": [7.0, np.nan], "dominance": [2.5, 5.0]})
    unit = data_targets.dimension_targets(df)
    assert unit.dtype == np.float32 and unit.shape == (2, 3)
    np.testing.assert_allclose(unit, [[0.0, 1.0, 0.25], [0.5, np.nan, 4 / 6]], rtol=1e-6)
    np.testing.assert_array_equal(unit, data_targets.dimension_targets(df, "unit"))
    np.testing.assert_allclose(
        data_targets.dimension_targets(df, "1_7"), [[1.0, 7.0, 2.5], [4.0, np.nan, 5.0]]
    )
    np.testing.assert_allclose(
        data_targets.dimension_targets(df, "neg1_1"), [[-1.0, 1.0, -0.75], [0.0, np.nan, 0.5]]
    )

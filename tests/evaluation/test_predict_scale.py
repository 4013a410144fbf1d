"""Prediction dumps are on the 1-7 scale whatever the checkpoint's ``dim_scale``."""

from __future__ import annotations

import numpy as np
import pytest

from sertools.evaluation import predict

RATINGS = np.array([[2.0, 4.0, 6.0], [3.0, 5.5, 2.5]], dtype=np.float32)
MODEL_UNITS = {
    "unit": (RATINGS - 1.0) / 6.0,
    "1_7": RATINGS,
    "neg1_1": (RATINGS - 4.0) / 2.0,
}


@pytest.mark.parametrize("scale", sorted(MODEL_UNITS))
def test_dims_are_inverted_with_the_architecture_scale(scale: str) -> None:
    got = predict.dims_to_ratings(MODEL_UNITS[scale], {"version": 2, "dim_scale": scale})
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, RATINGS, atol=1e-6)


def test_older_architecture_means_unit_and_outputs_are_clipped() -> None:
    u = np.array([[-0.5, 0.5, 1.5]], dtype=np.float32)
    np.testing.assert_allclose(predict.dims_to_ratings(u, {"version": 1}), [[1.0, 4.0, 7.0]])
    np.testing.assert_allclose(
        predict.dims_to_ratings(np.array([[-2.0, 0.5, 3.0]]), {"dim_scale": "neg1_1"}), [[1.0, 5.0, 7.0]]
    )
    with pytest.raises(ValueError, match="dim_scale"):
        predict.dims_to_ratings(u, {"dim_scale": "0_1"})

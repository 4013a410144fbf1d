"""Scales of the dimensional outputs and targets (``model.dim_scale``), to and from 1-7 ratings.

The model's dimensional head predicts, and trains on, arousal/valence/dominance
in one of three scales; prediction dumps are always on the 1-7 rating scale.

============  =============================  ================================
``scale``     ratings x -> model scale        model scale u -> ratings
============  =============================  ================================
``unit``      u = (x - 1) / 6                 clip(6u + 1, 1, 7)
``1_7``       u = x                           clip(u, 1, 7)
``neg1_1``    u = clip((x - 4) / 2, -1, 1)    clip(2u + 4, 1, 7)
============  =============================  ================================

``neg1_1`` is the paper release's target scaling (its HEAD config); it maps
ratings below 2 to -1 and above 6 to 1, so only ratings in [2, 6] survive a
round trip. Both directions take numpy arrays, torch tensors or floats and keep
NaN (a missing rating) as NaN.

This module sits in the data layer so that :mod:`sertools.data.targets` can
build targets with it; :mod:`sertools.model.network` re-exports both functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DIM_SCALES: tuple[str, ...] = ("unit", "1_7", "neg1_1")
RATING_MIN, RATING_MAX = 1.0, 7.0


def check_scale(scale: str) -> str:
    """``scale`` itself if it is one of :data:`DIM_SCALES`, else ValueError."""
    if scale not in DIM_SCALES:
        raise ValueError(f"model.dim_scale must be one of {list(DIM_SCALES)}, got {scale!r}")
    return scale


def _clip(x: Any, lo: float, hi: float) -> Any:
    # a torch tensor clamps itself; this module does not import torch, since the
    # metrics stage (and through it the workflow's Snakefile) imports it
    clamp = getattr(x, "clamp", None)
    return clamp(lo, hi) if clamp is not None else np.clip(x, lo, hi)


def to_model_scale(ratings_1_7: Any, scale: str = "unit") -> Any:
    """Ratings on the 1-7 scale -> the model's ``scale`` (tensor, array or float)."""
    check_scale(scale)
    if scale == "unit":
        return (ratings_1_7 - 1.0) / 6.0
    if scale == "neg1_1":
        return _clip((ratings_1_7 - 4.0) / 2.0, -1.0, 1.0)
    return ratings_1_7 * 1.0  # 1_7: a copy (an int input becomes float)


def rating_slope(scale: str) -> float:
    """Ratings per unit of the model's ``scale`` (the slope of :func:`to_rating_scale` before clipping):
    a variance in the model's scale times its square is a variance in ratings."""
    return {"unit": 6.0, "1_7": 1.0, "neg1_1": 2.0}[check_scale(scale)]


def to_rating_scale(u: Any, scale: str = "unit") -> Any:
    """Values in the model's ``scale`` -> ratings, clipped to [1, 7] (tensor, array or float)."""
    check_scale(scale)
    if scale == "unit":
        x = u * 6.0 + 1.0
    elif scale == "neg1_1":
        x = u * 2.0 + 4.0
    else:
        x = u * 1.0
    return _clip(x, RATING_MIN, RATING_MAX)

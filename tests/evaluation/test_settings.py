"""Tests for sertools.evaluation.settings: the bootstrap keys of the evaluation section."""

from __future__ import annotations

import pytest

from sertools.evaluation import settings
from sertools.evaluation.evaldata import EvaluationError

CFG = {
    "bootstrap_resamples": "20",
    "bootstrap_seed": 1,
    "ci_level": 0.9,
    "entropy_bins": [0, 0.5, 1],
    "prob_floor": 1e-9,
    "ece_bins": 5,
    "splits": ["Test1"],
}


def test_resolve_types_and_keeps_only_its_keys() -> None:
    s = settings.resolve(CFG)
    assert list(s) == list(settings.KEYS)
    assert s["bootstrap_resamples"] == 20 and s["entropy_bins"] == [0.0, 0.5, 1.0]
    assert settings.bootstrap_kw(s) == {"B": 20, "seed": 1, "ci": 0.9, "prob_floor": 1e-9, "ece_bins": 5}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bootstrap_resamples": 0}, ">= 1"),
        ({"ci_level": 1.0}, r"\(0, 1\)"),
        ({"entropy_bins": [0, 1, 0.5]}, "increasing"),
    ],
)
def test_resolve_rejects_bad_values(change: dict, message: str) -> None:
    with pytest.raises((EvaluationError, ValueError), match=message):
        settings.resolve({**CFG, **change})


def test_missing_keys_are_named() -> None:
    with pytest.raises(EvaluationError, match=r"lacks key\(s\) \['prob_floor'\]"):
        settings.resolve({k: v for k, v in CFG.items() if k != "prob_floor"})

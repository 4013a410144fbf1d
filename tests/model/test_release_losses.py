"""The release's loss pieces against hand computations and the weights its configs give (the class-balanced
weights that H CB trains with: tests/training/test_paper_config.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sertools.model import release_losses as R

# release class order: neu, hap, ang, sad, fear, disgust, contempt, surprise, other
CBCE_COUNTS = [50747, 45328, 24910, 28919, 1207, 2066, 4278, 8001, 3734]
WKLD_COUNTS = [50708, 46711, 27936, 29170, 1199, 1876, 3989, 4772, 2829]


def test_inverse_frequency_weights_match_the_release_config():
    w = R.inverse_frequency_weights(WKLD_COUNTS, power=1.0, clamp=(0.25, 5.0))
    want = [0.25, 0.25, 0.25, 0.25, 3.275, 2.093, 0.984, 0.823, 1.388]
    assert np.allclose(w, want, atol=6e-4)
    assert w.mean() == pytest.approx(1.063, abs=1e-3)


def test_counts_must_be_positive():
    with pytest.raises(ValueError, match="positive count"):
        R.inverse_frequency_weights([1, 0, 3])


def test_release_counts_sum_to_the_train_size_in_class_order():
    from sertools.classes import CLASSES
    from sertools.model.release_counts import release_counts

    for kind, counts in (("cbce", CBCE_COUNTS), ("wkld", WKLD_COUNTS)):
        got = release_counts(kind, CLASSES)
        assert got.sum() == 169190
        # CLASSES order (Angry, Sad, Happy, ...) holds the release's counts by name
        release_order = [
            "Neutral",
            "Happy",
            "Angry",
            "Sad",
            "Fear",
            "Disgust",
            "Contempt",
            "Surprise",
            "Other",
        ]
        assert [got[CLASSES.index(c)] for c in release_order] == counts


def test_gaussian_nll_weights_valence_by_name():
    mu = torch.zeros(1, 3)
    lv = torch.zeros(1, 3)
    y = torch.tensor([[1.0, 0.0, 0.0]])  # error on arousal only
    assert R.gaussian_nll(mu, lv, y).item() == pytest.approx(0.5 / 3)
    y = torch.tensor([[0.0, 1.0, 0.0]])  # error on valence (weight 1.4)
    assert R.gaussian_nll(mu, lv, y).item() == pytest.approx(1.4 * 0.5 / 3)
    big = torch.full((1, 3), 50.0)
    assert R.gaussian_nll(mu, big, torch.zeros(1, 3)).item() == pytest.approx(0.5 * 10.0 * 3.4 / 3)


def test_vad_loss_adds_the_ccc_term():
    torch.manual_seed(0)
    y = torch.randn(8, 3)
    lv = torch.zeros(8, 3)
    perfect = R.vad_loss(y.clone(), lv, y)
    assert perfect.item() == pytest.approx(0.0, abs=1e-6)
    shuffled = R.vad_loss(y.flip(0), lv, y)
    ccc = R.batch_ccc(y.flip(0), y)
    w = torch.tensor([1.0, 1.4, 1.0])
    want = R.gaussian_nll(y.flip(0), lv, y) + 0.1 * torch.clamp(1 - (ccc * w).sum() / w.sum(), min=0)
    assert shuffled.item() == pytest.approx(want.item())


def test_unknown_attribute_weight_is_refused():
    with pytest.raises(ValueError, match="unknown attributes"):
        R.gaussian_nll(torch.zeros(1, 3), torch.zeros(1, 3), torch.zeros(1, 3), {"pleasure": 1.0})

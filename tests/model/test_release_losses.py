"""The release's losses against hand computations and the weights its configs give."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sertools.model import release_losses as R

# release class order: neu, hap, ang, sad, fear, disgust, contempt, surprise, other
CBCE_COUNTS = [50747, 45328, 24910, 28919, 1207, 2066, 4278, 8001, 3734]
WKLD_COUNTS = [50708, 46711, 27936, 29170, 1199, 1876, 3989, 4772, 2829]


def test_class_balanced_weights_match_the_release_config():
    w = R.class_balanced_weights(CBCE_COUNTS, beta=0.9999)
    want = [0.346, 0.347, 0.374, 0.364, 3.019, 1.839, 0.986, 0.623, 1.102]
    assert np.allclose(w, want, atol=6e-4)
    assert w.mean() == pytest.approx(1.0)


def test_inverse_frequency_weights_match_the_release_config():
    w = R.inverse_frequency_weights(WKLD_COUNTS, power=1.0, clamp=(0.25, 5.0))
    want = [0.25, 0.25, 0.25, 0.25, 3.275, 2.093, 0.984, 0.823, 1.388]
    assert np.allclose(w, want, atol=6e-4)
    assert w.mean() == pytest.approx(1.063, abs=1e-3)


def test_counts_must_be_positive():
    with pytest.raises(ValueError, match="positive count"):
        R.class_balanced_weights([1, 0, 3])


def test_cbce_is_not_normalised_by_the_summed_weights():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    y = torch.tensor([0, 2])
    w = torch.tensor([0.5, 1.0, 3.0])
    logp = torch.log_softmax(logits, -1)
    want = (0.5 * -logp[0, 0] + 3.0 * -logp[1, 2]) / 2
    assert R.cbce(logits, y, w).item() == pytest.approx(want.item())
    torch_weighted = torch.nn.functional.cross_entropy(logits, y, weight=w)
    assert not math.isclose(R.cbce(logits, y, w).item(), torch_weighted.item())


def test_kld_clamps_the_target_and_uses_nats():
    logits = torch.tensor([[1.0, 0.0, -1.0]])
    q = torch.tensor([[0.7, 0.3, 0.0]])
    p = torch.softmax(logits, -1)[0].double()
    qc = torch.tensor([0.7, 0.3, 1e-8], dtype=torch.float64)
    qc = qc / qc.sum()
    want = float((qc * (qc.log() - p.log())).sum())
    assert R.kld(logits, q).item() == pytest.approx(want, rel=1e-5)
    w = torch.tensor([2.0, 1.0, 1.0])
    wanted_w = float((w.double() * qc * (qc.log() - p.log())).sum())
    assert R.kld(logits, q, w).item() == pytest.approx(wanted_w, rel=1e-5)


def test_vad_scaling():
    assert R.scale_vad(np.array([1.0, 4.0, 5.0, 7.0]), "neg1_1").tolist() == [-1.0, 0.0, 0.5, 1.0]
    assert R.scale_vad(np.array([2.5]), "1_7").tolist() == [2.5]
    with pytest.raises(ValueError, match="VAD scale"):
        R.scale_vad(np.array([1.0]), "zscore")


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
    assert R.multitask(torch.tensor(2.0), torch.tensor(1.0)).item() == pytest.approx(2.3)


def test_unknown_attribute_weight_is_refused():
    with pytest.raises(ValueError, match="unknown attributes"):
        R.gaussian_nll(torch.zeros(1, 3), torch.zeros(1, 3), torch.zeros(1, 3), {"pleasure": 1.0})

"""Tests of sertools.model.losses against hand computations in numpy / plain Python."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sertools.model import losses as L

LOGITS = np.array(
    [
        [2.0, 0.5, -1.0, 0.0, 0.3, -0.2, 0.1, 1.0, -0.5],
        [-0.3, 1.5, 0.2, 0.0, -1.0, 0.4, 0.0, 0.7, 0.9],
        [0.0, 0.0, 3.0, -2.0, 0.5, 0.5, -0.1, 0.2, 0.0],
    ]
)
# rows with exact zeros, a one-hot row, and a spread row
TARGETS = np.array(
    [
        [0.5, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25, 0.0],
        [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.1, 0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
    ]
)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _kl_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ_k a log(a/b) with 0·log 0 = 0, written out term by term."""
    out = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        for k in range(a.shape[1]):
            if a[i, k] > 0:
                out[i] += a[i, k] * math.log(a[i, k] / b[i, k])
    return out


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float32)


# --------------------------------------------------------------------------- hard CE and class weights


def test_hard_ce_unweighted_and_weighted_mean() -> None:
    target = np.array([0, 7, 2])
    p = _softmax(LOGITS)
    nll = -np.log(p[np.arange(3), target])
    assert float(L.hard_ce(_t(LOGITS), torch.tensor(target))) == pytest.approx(nll.mean(), rel=1e-6)
    w = np.array([2.0, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 3.0, 1.0])
    expected = (w[target] * nll).sum() / w[target].sum()  # weighted mean, not mean of weighted terms
    assert float(L.hard_ce(_t(LOGITS), torch.tensor(target), _t(w))) == pytest.approx(expected, rel=1e-6)
    assert expected != pytest.approx((w[target] * nll).mean(), rel=1e-3)


def test_hard_ce_matches_torch_with_label_smoothing_and_zero_weight_batch() -> None:
    z, t, w = _t(LOGITS), torch.tensor([0, 7, 2]), torch.rand(9) + 0.1
    ref = F.cross_entropy(z, t, weight=w, label_smoothing=0.1)
    torch.testing.assert_close(L.hard_ce(z, t, w, label_smoothing=0.1), ref)
    w0 = torch.ones(9)
    w0[[0, 7, 2]] = 0.0
    assert float(L.hard_ce(z, t, w0)) == 0.0  # no NaN when every target has weight 0


def test_class_weights_effective_number() -> None:
    labels = np.array([0, 0, 0, 1, 2, 2])
    beta = 0.9
    raw = [(1 - beta) / (1 - beta**n) for n in (3, 1, 2)]
    expected = np.array([*raw, 0.0]) * 4 / sum(raw)  # class 3 absent → 0; sum to C = 4
    w = L.class_weights(labels, "effective_number", beta, num_classes=4)
    assert w.dtype == torch.float32
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    assert float(w.sum()) == pytest.approx(4.0)
    # beta = 0: uniform over the present classes
    np.testing.assert_allclose(L.class_weights(labels, "effective_number", 0.0, 4).numpy(), [4 / 3] * 3 + [0])


def test_class_weights_inverse_frequency() -> None:
    labels = np.array([0, 0, 0, 1, 2, 2, 8, 8])
    w = L.class_weights(labels, "inverse_frequency", beta=0.5)
    expected = np.zeros(9)
    for c, n in {0: 3, 1: 1, 2: 2, 8: 2}.items():
        expected[c] = 8 / (9 * n)
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)


def test_class_weights_errors() -> None:
    with pytest.raises(ValueError, match="scheme"):
        L.class_weights(np.array([0, 1]), "focal", 0.9)
    with pytest.raises(ValueError, match=r"\[0, 9\)"):
        L.class_weights(np.array([0, 9]), "inverse_frequency", 0.9)
    with pytest.raises(ValueError, match="beta"):
        L.class_weights(np.array([0, 1]), "effective_number", 1.0)
    with pytest.raises(ValueError, match="integer"):
        L.class_weights(np.array([0.0, 1.0]), "effective_number", 0.9)


# --------------------------------------------------------------------------- distributional losses


def test_soft_ce_hand_computation() -> None:
    p = _softmax(LOGITS)
    expected = -np.mean([sum(TARGETS[i, k] * math.log(p[i, k]) for k in range(9)) for i in range(3)])
    assert float(L.soft_ce(_t(LOGITS), _t(TARGETS))) == pytest.approx(expected, rel=1e-6)


def test_kl_hand_computation_with_zero_targets() -> None:
    p = _softmax(LOGITS)
    expected = _kl_rows(TARGETS, p).mean()
    value = L.kl(_t(LOGITS), _t(TARGETS))
    assert math.isfinite(float(value))
    assert float(value) == pytest.approx(expected, rel=1e-6)
    ref = F.kl_div(F.log_softmax(_t(LOGITS), 1), _t(TARGETS), reduction="batchmean")
    torch.testing.assert_close(value, ref)


def test_kl_equals_soft_ce_minus_entropy() -> None:
    entropy = -np.mean([sum(y * math.log(y) for y in row if y > 0) for row in TARGETS])
    sce, kld = float(L.soft_ce(_t(LOGITS), _t(TARGETS))), float(L.kl(_t(LOGITS), _t(TARGETS)))
    assert kld == pytest.approx(sce - entropy, rel=1e-6)
    assert kld < sce  # the rows are not one-hot, so H(y) > 0


def test_jsd_hand_computation_and_bounds() -> None:
    p = _softmax(LOGITS)
    m = (TARGETS + p) / 2
    expected = np.mean(0.5 * _kl_rows(TARGETS, m) + 0.5 * _kl_rows(p, m))
    assert float(L.jsd(_t(LOGITS), _t(TARGETS))) == pytest.approx(expected, rel=1e-5)
    # disjoint supports approach ln 2 and never exceed it, with finite gradients
    z = torch.tensor([[300.0] + [0.0] * 8], requires_grad=True)
    y = torch.zeros(1, 9)
    y[0, 1] = 1.0
    value = L.jsd(z, y)
    value.backward()
    assert value.item() <= math.log(2) + 1e-6
    assert value.item() == pytest.approx(math.log(2), abs=1e-6)
    assert torch.isfinite(z.grad).all()
    # identical distributions → 0
    y_pos = _softmax(LOGITS)
    assert float(L.jsd(_t(np.log(y_pos)), _t(y_pos))) == pytest.approx(0.0, abs=1e-6)


def test_xlogy_zero_handling_gives_finite_gradients() -> None:
    for fn in (L.kl, L.jsd, L.soft_ce):
        z = _t(LOGITS).requires_grad_()
        fn(z, _t(TARGETS)).backward()
        assert torch.isfinite(z.grad).all(), fn.__name__


def test_gradients_of_kl_and_soft_ce_are_p_minus_y_over_b() -> None:
    expected = (_softmax(LOGITS) - TARGETS) / 3
    for fn in (L.kl, L.soft_ce):
        z = _t(LOGITS).requires_grad_()
        fn(z, _t(TARGETS)).backward()
        np.testing.assert_allclose(z.grad.numpy(), expected, atol=1e-6)


def test_smooth() -> None:
    y = _t(TARGETS)
    q = L.smooth(y, 0.1)
    np.testing.assert_allclose(q.numpy(), 0.9 * TARGETS + 0.1 / 9, rtol=1e-6)
    assert float(q[1, 1]) == pytest.approx(0.9 + 0.1 / 9)
    assert float(q[1, 0]) == pytest.approx(0.1 / 9)
    np.testing.assert_allclose(q.sum(1).numpy(), 1.0, rtol=1e-6)
    assert torch.equal(L.smooth(y, 0.0), y)
    with pytest.raises(ValueError, match="eps"):
        L.smooth(y, 1.5)


def test_categorical_loss_dispatch() -> None:
    z, y, idx = _t(LOGITS), _t(TARGETS), torch.tensor([0, 1, 2])
    w = L.class_weights(np.array([0, 0, 1, 2, 2, 2]), "inverse_frequency", 0.9)
    torch.testing.assert_close(L.categorical_loss("ce", z, idx), L.hard_ce(z, idx))
    torch.testing.assert_close(L.categorical_loss("cbce", z, idx, w), L.hard_ce(z, idx, w))
    for kind, fn in (("soft_ce", L.soft_ce), ("kl", L.kl), ("jsd", L.jsd)):
        torch.testing.assert_close(L.categorical_loss(kind, z, y), fn(z, y))
    torch.testing.assert_close(L.categorical_loss("kl", z, y, label_smoothing=0.2), L.kl(z, L.smooth(y, 0.2)))
    with pytest.raises(ValueError, match="class_weight"):
        L.categorical_loss("cbce", z, idx)
    with pytest.raises(ValueError, match="class indices"):
        L.categorical_loss("ce", z, y)
    with pytest.raises(ValueError, match="distributional"):
        L.categorical_loss("kl", z, idx)
    with pytest.raises(ValueError, match="one of"):
        L.categorical_loss("focal", z, idx)
    with pytest.raises(ValueError, match="sum to 1"):
        L.categorical_loss("kl", z, y * 2)


def test_losses_are_computed_in_fp32() -> None:
    z, y = _t(LOGITS).half(), _t(TARGETS)
    for kind in ("soft_ce", "kl", "jsd"):
        assert L.categorical_loss(kind, z, y).dtype == torch.float32
    assert L.hard_ce(z, torch.tensor([0, 1, 2])).dtype == torch.float32


# --------------------------------------------------------------------------- dimensional losses


def _ccc_np(p: np.ndarray, t: np.ndarray) -> float:
    mp, mt = p.mean(), t.mean()
    cov = ((p - mp) * (t - mt)).mean()
    return 2 * cov / (p.var() + t.var() + (mp - mt) ** 2)


def test_ccc_known_values() -> None:
    t = np.array([0.1, 0.4, 0.35, 0.8, 0.6])
    cols = np.stack([t, -t, t + 0.2], axis=1)
    target = np.stack([t, t, t], axis=1)
    c = L.ccc(_t(cols), _t(target)).numpy()
    assert c[0] == pytest.approx(1.0, abs=1e-5)  # perfect agreement
    assert c[1] == pytest.approx(_ccc_np(-t, t), rel=1e-5)
    assert c[2] == pytest.approx(2 * t.var() / (2 * t.var() + 0.04), rel=1e-5)  # shift penalised
    rng = np.random.default_rng(0)
    p, q = rng.normal(size=(16, 3)), rng.normal(size=(16, 3))
    np.testing.assert_allclose(
        L.ccc(_t(p), _t(q)).numpy(), [_ccc_np(p[:, j], q[:, j]) for j in range(3)], rtol=1e-4
    )


def test_ccc_single_item_and_constant_batch_are_finite() -> None:
    pred = torch.tensor([[0.3, 0.5, 0.2]], requires_grad=True)
    loss = L.dimensional_loss("ccc", pred, torch.tensor([[0.3, 0.1, 0.9]]))
    loss.backward()
    assert loss.item() == pytest.approx(3.0)  # CCC = 0 for every attribute
    assert torch.isfinite(pred.grad).all()
    const = torch.full((4, 3), 0.5, requires_grad=True)
    loss = L.dimensional_loss("ccc", const, torch.rand(4, 3))
    loss.backward()
    assert math.isfinite(loss.item()) and torch.isfinite(const.grad).all()


def test_dimensional_losses_hand_computation() -> None:
    rng = np.random.default_rng(1)
    p, t = rng.uniform(size=(8, 3)), rng.uniform(size=(8, 3))
    expected_ccc = sum(1 - _ccc_np(p[:, j], t[:, j]) for j in range(3))
    assert float(L.dimensional_loss("ccc", _t(p), _t(t))) == pytest.approx(expected_ccc, rel=1e-5)
    expected_mse = sum(((p[:, j] - t[:, j]) ** 2).mean() for j in range(3))
    assert float(L.dimensional_loss("mse", _t(p), _t(t))) == pytest.approx(expected_mse, rel=1e-5)
    with pytest.raises(ValueError, match="one of"):
        L.dimensional_loss("mae", _t(p), _t(t))
    with pytest.raises(ValueError, match="equal shape"):
        L.dimensional_loss("mse", _t(p), _t(t[:, :2]))


def test_total_loss() -> None:
    assert float(L.total_loss(torch.tensor(1.5), torch.tensor(0.5), 2.0)) == pytest.approx(2.5)
    assert float(L.total_loss(torch.tensor(1.5), torch.tensor(0.5), 0.0)) == pytest.approx(1.5)

"""Tests for sertools.measures: metric definitions on plain arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy

from sertools.classes import K
from sertools.measures import (
    accuracy,
    brier,
    ccc,
    check_dist,
    check_labels,
    confusion_matrix,
    ece,
    ece_bin,
    f1_scores,
    floor_probs,
    jsd,
    kld,
    normalised_entropy,
    onehot,
)

sk_metrics = pytest.importorskip("sklearn.metrics")


def dist(*vals: float) -> np.ndarray:
    """A length-K row with the given leading values (rest 0)."""
    row = np.zeros(K)
    row[: len(vals)] = vals
    return row


# ------------------------------------------------------------------------------ hard labels


def test_confusion_f1_accuracy_match_sklearn_and_exclude_x() -> None:
    rng = np.random.default_rng(0)
    hard = rng.integers(-1, K, 300)
    hard[hard == 6] = 0  # class 6 never in truth
    pred = rng.integers(0, K, 300)
    pred[pred == 6] = 1  # ... nor predicted: F1 0, still in the macro mean
    keep = hard >= 0
    labels = list(range(K))
    cm = confusion_matrix(hard, pred)
    np.testing.assert_array_equal(cm, sk_metrics.confusion_matrix(hard[keep], pred[keep], labels=labels))
    expected = sk_metrics.f1_score(hard[keep], pred[keep], labels=labels, average=None, zero_division=0)
    np.testing.assert_allclose(f1_scores(cm), expected)
    assert f1_scores(cm)[6] == 0.0
    assert accuracy(hard, pred) == pytest.approx(sk_metrics.accuracy_score(hard[keep], pred[keep]))
    assert math.isnan(accuracy(np.array([-1, -1]), np.array([0, 1])))


def test_label_checks() -> None:
    assert check_labels(np.array([0.0, 8.0]), "x", allow_missing=False).dtype == np.int64
    with pytest.raises(ValueError, match="x values must lie in"):
        check_labels(np.array([-1]), "x", allow_missing=False)
    with pytest.raises(ValueError, match="integer class indices"):
        check_labels(np.array([0.5]), "x", allow_missing=True)
    with pytest.raises(ValueError, match="1-D"):
        check_labels(np.zeros((2, 2), int), "x", allow_missing=True)


def test_dist_check_renormalises_within_tolerance() -> None:
    a = check_dist(np.array([dist(0.5, 0.5004)]), "p")
    assert a.sum() == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ValueError, match="do not sum to 1"):
        check_dist(np.array([dist(0.5, 0.6)]), "p")
    with pytest.raises(ValueError, match="negative"):
        check_dist(np.array([dist(1.5, -0.5)]), "p")
    with pytest.raises(ValueError, match="shape"):
        check_dist(np.ones((1, 3)) / 3, "p")


# --------------------------------------------------------------------------- distributions


def test_jsd_hand_cases() -> None:
    assert jsd(np.array([[1.0, 0, 0]]), np.array([[0.0, 1, 0]]))[0] == pytest.approx(1.0)
    p = np.array([[0.2, 0.3, 0.5]])
    assert jsd(p, p)[0] == pytest.approx(0.0, abs=1e-15)
    # [1,0] vs [0.5,0.5]: m = [0.75, 0.25]
    expected = 0.5 * math.log2(1 / 0.75) + 0.5 * (0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25))
    assert jsd(np.array([[1.0, 0]]), np.array([[0.5, 0.5]]))[0] == pytest.approx(expected)
    with pytest.raises(ValueError, match="shapes differ"):
        jsd(np.ones((1, 2)), np.ones((1, 3)))


def test_jsd_matches_scipy_distance_squared() -> None:
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(K) * 0.3, size=(2, 50))
    p[:, 0] = 0.0
    p /= p.sum(axis=1, keepdims=True)
    expected = jensenshannon(p, q, base=2.0, axis=1) ** 2
    np.testing.assert_allclose(jsd(p, q), expected, atol=1e-12)
    assert np.all((jsd(p, q) >= 0) & (jsd(p, q) <= 1))


def test_kld_hand_case_direction_and_zero_terms() -> None:
    human = np.array([dist(0.5, 0.5)])
    model = np.array([dist(0.25, 0.75)])
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert kld(human, model)[0] == pytest.approx(expected, rel=1e-9)
    # KL(human || model), not the reverse
    assert kld(model, human)[0] != pytest.approx(expected, rel=1e-3)
    rng = np.random.default_rng(1)
    h, m = rng.dirichlet(np.ones(K), size=(2, 20))
    np.testing.assert_allclose(kld(h, m), scipy_entropy(h, m, axis=1), rtol=1e-9)


def test_kld_floors_model_probabilities() -> None:
    human = np.array([dist(1.0)])
    model = np.array([dist(0.0, 1.0)])
    floored = 1e-12 / (1.0 + 8e-12)  # floor, then renormalise the row
    assert kld(human, model)[0] == pytest.approx(-math.log(floored), rel=1e-9)
    assert np.isfinite(kld(human, model, prob_floor=1e-6)[0])
    assert kld(human, model, prob_floor=1e-6)[0] == pytest.approx(-math.log(1e-6 / (1 + 8e-6)), rel=1e-9)
    with pytest.raises(ValueError, match="prob_floor"):
        kld(human, model, prob_floor=0.0)
    np.testing.assert_allclose(floor_probs(model, 1e-6).sum(axis=1), 1.0)


def test_normalised_entropy() -> None:
    p = np.array([dist(1.0), np.full(K, 1 / K), dist(0.5, 0.5)])
    np.testing.assert_allclose(normalised_entropy(p), [0.0, 1.0, math.log(2) / math.log(K)])
    rng = np.random.default_rng(3)
    q = rng.dirichlet(np.ones(K), 10)
    np.testing.assert_allclose(normalised_entropy(q), scipy_entropy(q, axis=1) / math.log(K))


# ---------------------------------------------------------------------- CCC, ECE, Brier


def test_ccc_hand_cases() -> None:
    x = np.array([1.0, 2, 3, 4, 5])
    assert ccc(x, x) == pytest.approx(1.0)
    # y = x + c: cov = var, CCC = 2 var / (2 var + c^2); population var of 1..5 is 2
    assert ccc(x, x + 1.0) == pytest.approx(4.0 / 5.0)
    assert ccc(x, 6.0 - x) == pytest.approx(-1.0)
    assert ccc(np.array([1.0, np.nan, 3.0]), np.array([1.0, 5.0, 3.0])) == pytest.approx(1.0)
    assert np.isnan(ccc(np.array([2.0, 2.0]), np.array([2.0, 2.0])))


def test_ece_hand_case() -> None:
    probs = np.array([dist(0.9, 0.1), dist(0.9, 0.1), dist(0.6, 0.4), dist(0.4, 0.6), dist(0.9, 0.1)])
    pred = probs.argmax(axis=1)
    hard = np.array([0, 1, 0, 1, -1])  # last one is X: ignored
    # bin (0.8, 0.9]: acc 1/2, conf 0.9 -> weight 2/4 * 0.4; bin (0.5, 0.6]: acc 1, conf 0.6
    # -> weight 2/4 * 0.4
    assert ece(probs, pred, hard, n_bins=10) == pytest.approx(0.4)
    # one bin: |mean acc - mean conf| = |0.75 - 0.75| = 0
    assert ece(probs, pred, hard, n_bins=1) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(ece(probs, pred, np.full(5, -1), n_bins=10))


def test_ece_bins_are_right_closed() -> None:
    # conf exactly 0.6 belongs to (0.4, 0.6] with 5 bins, not (0.6, 0.8]
    probs = np.array([dist(0.6, 0.4), dist(0.7, 0.3)])
    hard = np.array([0, 1])
    # right-closed: separate bins -> (|1-0.6| + |0-0.7|)/2 = 0.55
    assert ece(probs, probs.argmax(axis=1), hard, n_bins=5) == pytest.approx(0.55)
    np.testing.assert_array_equal(ece_bin(np.array([0.0, 0.2, 0.2001, 1.0]), 5), [0, 0, 1, 4])


def test_brier_and_onehot() -> None:
    probs = np.array([dist(0.5, 0.5), dist(0.0, 1.0)])
    np.testing.assert_allclose(brier(probs, np.array([dist(1.0), dist(0.0, 1.0)])), [0.5, 0.0])
    np.testing.assert_array_equal(onehot(np.array([0, 1])), [dist(1.0), dist(0.0, 1.0)])

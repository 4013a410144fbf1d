"""Tests for sertools.measures: metric definitions on plain arrays."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy

from sertools.classes import CLASSES, OTHER, K
from sertools.measures import (
    RELEASE_EPS,
    accuracy,
    brier,
    ccc,
    ccc_mean,
    check_dist,
    check_labels,
    clamp_normalise,
    confusion_matrix,
    ece,
    ece_bin,
    f1_scores,
    floor_probs,
    jsd,
    jsd_paper,
    kld,
    kld_paper,
    macro_f1_published,
    normalised_entropy,
    onehot,
    uar,
)

sk_metrics = pytest.importorskip("sklearn.metrics")

RELEASE_DIR = Path(__file__).resolve().parents[1] / "docs/paper_release"
#: the release's class names (its confusion matrices' order) -> this package's class index
RELEASE_CLASS = {
    "neu": CLASSES.index("Neutral"),
    "hap": CLASSES.index("Happy"),
    "ang": CLASSES.index("Angry"),
    "sad": CLASSES.index("Sad"),
    "fear": CLASSES.index("Fear"),
    "disgust": CLASSES.index("Disgust"),
    "contempt": CLASSES.index("Contempt"),
    "surprise": CLASSES.index("Surprise"),
    "other": OTHER,
}


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


def test_uar_and_the_published_macro_f1_by_hand() -> None:
    # rows = truth, columns = prediction; class 2 has support but no true positive,
    # classes 3-8 have neither support nor predictions
    cm = np.zeros((K, K), dtype=np.int64)
    cm[0, 0], cm[0, 1] = 3, 1  # class 0: TP 3, FN 1
    cm[1, 1], cm[1, 0] = 2, 2  # class 1: TP 2, FN 2, FP 1 (from class 0)
    cm[2, 0] = 2  # class 2: TP 0, FN 2
    f1_0 = 2 * 3 / (2 * 3 + 4 + 1)  # FP of class 0 = 2 + 2 = 4
    f1_1 = 2 * 2 / (2 * 2 + 1 + 2)
    assert f1_scores(cm)[:3] == pytest.approx([f1_0, f1_1, 0.0])
    # standard macro-F1: nine classes, the TP = 0 ones count as 0
    assert f1_scores(cm).mean() == pytest.approx((f1_0 + f1_1) / K)
    # the release's rule: only the classes with a true positive
    assert macro_f1_published(cm) == pytest.approx((f1_0 + f1_1) / 2)
    # UAR: the three classes with support (recall 3/4, 2/4, 0/2)
    assert uar(cm) == pytest.approx((0.75 + 0.5 + 0.0) / 3)
    hard = np.repeat(np.arange(K), cm.sum(axis=1))
    pred = np.concatenate([np.repeat(np.arange(K), cm[c]) for c in range(K)])
    assert uar(cm) == pytest.approx(sk_metrics.balanced_accuracy_score(hard, pred))
    # nothing to average over: NaN
    empty = np.zeros((K, K))
    assert math.isnan(uar(empty)) and math.isnan(macro_f1_published(empty))
    no_hit = np.zeros((K, K))
    no_hit[0, 1] = 5
    assert math.isnan(macro_f1_published(no_hit)) and uar(no_hit) == 0.0


def _release_matrices() -> dict[str, np.ndarray]:
    """The published confusion matrices, reordered to this package's class order."""
    doc = json.loads((RELEASE_DIR / "confusion_matrices.json").read_text())
    order = [RELEASE_CLASS[c] for c in doc["class_order"]]
    out = {}
    for name, m in doc["matrices"].items():
        cm = np.zeros((K, K), dtype=np.int64)
        cm[np.ix_(order, order)] = np.asarray(m)
        out[name] = cm
    return out


def test_published_rule_reproduces_every_published_confusion_matrix() -> None:
    """All 19 transcribed matrices: accuracy, UAR and both macro-F1 rules as in macro_f1_rules.csv."""
    with open(RELEASE_DIR / "macro_f1_rules.csv", newline="") as fh:
        expected = {(r["row"], r["split"]): r for r in csv.DictReader(fh)}
    matrices = _release_matrices()
    assert len(matrices) == 19
    differs = 0
    for name, cm in matrices.items():
        row, short = name.rsplit(" ", 1)
        want = expected[(row, {"T1": "Test1", "T2": "Test2"}[short])]
        assert round(100 * np.trace(cm) / cm.sum(), 2) == float(want["accuracy"]), name
        assert round(100 * uar(cm), 2) == float(want["uar"]), name
        assert round(100 * macro_f1_published(cm), 2) == float(want["macro_f1_published"]), name
        assert round(100 * f1_scores(cm).mean(), 2) == float(want["macro_f1_all9"]), name
        differs += float(want["macro_f1_published"]) != float(want["macro_f1_all9"])
    assert differs == 7  # the cells where the two rules differ (docs/paper_release.md, Appendix A)
    # e.g. MH +F Test1: fear and other have no true positive -> a mean over 7 classes
    cm = matrices["MH +F T1"]
    assert np.flatnonzero(np.diag(cm) == 0).tolist() == [CLASSES.index("Fear"), OTHER]
    assert 100 * macro_f1_published(cm) == pytest.approx(34.81, abs=0.005)
    assert 100 * f1_scores(cm).mean() == pytest.approx(27.08, abs=0.005)


def test_f1_other_of_the_published_matrices_matches_table2() -> None:
    with open(RELEASE_DIR / "table2.csv", newline="") as fh:
        table2 = {
            (r["row"], r["split"]): float(r["value"]) for r in csv.DictReader(fh) if r["metric"] == "f1_other"
        }
    for name, cm in _release_matrices().items():
        row, short = name.rsplit(" ", 1)
        split = {"T1": "Test1", "T2": "Test2"}[short]
        assert round(100 * f1_scores(cm)[OTHER], 2) == table2[(row, split)], name


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


def test_clamp_normalise() -> None:
    x = np.array([dist(1.0), np.zeros(K)])
    c = clamp_normalise(x)
    np.testing.assert_allclose(c.sum(axis=1), 1.0)
    assert c[0, 1] == pytest.approx(RELEASE_EPS / (1 + 8 * RELEASE_EPS))
    np.testing.assert_allclose(c[1], np.full(K, 1 / K))  # an all-zero row becomes uniform
    with pytest.raises(ValueError, match="eps"):
        clamp_normalise(x, 0.0)


def test_kld_paper_by_hand() -> None:
    # reference q = [0.5, 0.5, 0, ...] is clamped at 1e-8 and renormalised; p is used as it is
    q = np.array([dist(0.5, 0.5)])
    p = np.array([dist(0.25, 0.75 - 7e-3, *([1e-3] * 7))])
    z = 1 + 7 * RELEASE_EPS
    qc = np.array([0.5 / z, 0.5 / z, *([RELEASE_EPS / z] * 7)])
    expected = float((qc * np.log(qc / p[0])).sum())
    assert kld_paper(q, p)[0] == pytest.approx(expected, rel=1e-12)
    # against the unclamped value: the clamped zero classes add 7 * 1e-8 * ln(1e-8 / 1e-3) < 0
    plain = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / (0.75 - 7e-3))
    assert kld_paper(q, p)[0] == pytest.approx(plain, abs=1e-5) and kld_paper(q, p)[0] != plain
    # KL(q || p) in nats: the reference first
    assert kld_paper(p, q)[0] != pytest.approx(kld_paper(q, p)[0], rel=1e-3)
    # a zero model probability is floored (finite)
    assert np.isfinite(kld_paper(q, np.array([dist(1.0)])))[0]
    with pytest.raises(ValueError, match="shapes differ"):
        kld_paper(np.ones((1, K)) / K, np.ones((2, K)) / K)


def test_jsd_paper_by_hand_and_against_scipy() -> None:
    # identical distributions: 0; disjoint one-hots: ln 2 up to the clamping
    p = np.array([dist(1.0)])
    q = np.array([dist(0.0, 1.0)])
    assert jsd_paper(p, p)[0] == pytest.approx(0.0, abs=1e-12)
    assert jsd_paper(p, q)[0] == pytest.approx(math.log(2), abs=1e-6)
    assert jsd_paper(p, q)[0] < math.log(2)
    # by hand: p, q, m clamped and renormalised, 0.5 KL(p||m) + 0.5 KL(q||m) in nats
    a = np.array([dist(0.7, 0.3)])
    b = np.array([dist(0.2, 0.2, 0.6)])
    pc, qc = clamp_normalise(a)[0], clamp_normalise(b)[0]
    m = clamp_normalise(0.5 * (pc + qc))
    expected = 0.5 * (pc * np.log(pc / m)).sum() + 0.5 * (qc * np.log(qc / m)).sum()
    assert jsd_paper(a, b)[0] == pytest.approx(expected, rel=1e-12)
    # symmetric, and on strictly positive rows the square of scipy's distance in nats
    rng = np.random.default_rng(5)
    x, y = rng.dirichlet(np.ones(K), size=(2, 30))
    np.testing.assert_allclose(jsd_paper(x, y), jsd_paper(y, x), rtol=1e-12)
    np.testing.assert_allclose(jsd_paper(x, y), jensenshannon(x, y, axis=1) ** 2, rtol=1e-6)
    # the same divergence as the base-2 jsd, in another unit
    np.testing.assert_allclose(jsd_paper(x, y), jsd(x, y) * math.log(2), rtol=1e-6)


def test_ccc_mean() -> None:
    assert ccc_mean([0.5, 0.6, 0.7]) == pytest.approx(0.6)
    assert math.isnan(ccc_mean([0.5, float("nan"), 0.7]))


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

"""Tests for sertools.evaluation.metricset: every metric of one prediction set."""

from __future__ import annotations

import numpy as np
import pytest
from evalsets import dist, make_data, with_predictions

from sertools.classes import CLASSES, DIMENSIONS, OTHER, K
from sertools.evaluation.evaldata import EvalData
from sertools.evaluation.metricset import compute_all
from sertools.measures import confusion_matrix, jsd_paper, kld_paper

sk_metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("seed", [0, 1])
def test_hard_metrics_match_sklearn_with_missing_classes(seed: int) -> None:
    # classes 3 and 6 never occur in truth; class 6 never predicted either; 3 is predicted
    data = make_data(400, seed=seed, classes=(0, 1, 2, 4, 5, 7, 8))
    pred = data.pred.copy()
    pred[pred == 6] = 0
    pred[:5] = 3
    data = with_predictions(data, np.eye(K)[pred] * 0.9 + 0.1 / K)
    res = compute_all(data)
    keep = data.hard >= 0
    y, p = data.hard[keep], data.pred[keep]
    labels = list(range(K))
    assert res["accuracy"] == pytest.approx(sk_metrics.accuracy_score(y, p))
    for avg in ("macro", "weighted"):
        expected = sk_metrics.f1_score(y, p, labels=labels, average=avg, zero_division=0)
        assert res[f"{avg}_f1"] == pytest.approx(expected)
    per_class = sk_metrics.f1_score(y, p, labels=labels, average=None, zero_division=0)
    for c, name in enumerate(CLASSES):
        assert res[f"f1_{name}"] == pytest.approx(per_class[c])
    assert res["f1_Contempt"] == 0.0  # absent from truth and prediction
    np.testing.assert_array_equal(
        confusion_matrix(data.hard, data.pred), sk_metrics.confusion_matrix(y, p, labels=labels)
    )
    assert res["n_hard"] == keep.sum() and res["n_all"] == data.n


def test_x_utterances_excluded_from_hard_but_not_distributional_metrics() -> None:
    probs = np.array([dist(0.9, 0.1), dist(0.1, 0.9), dist(0.2, 0.8)])
    data = EvalData(probs=probs, pred=[0, 1, 1], hard=[0, 1, -1], p_primary=probs, p_merged=probs)
    res = compute_all(data)
    assert res["accuracy"] == 1.0 and res["n_hard"] == 2 and res["n_all"] == 3
    assert res["jsd_primary"] == pytest.approx(0.0, abs=1e-12)


def test_ece_and_brier_use_the_documented_utterances() -> None:
    probs = np.array([dist(0.9, 0.1), dist(0.9, 0.1), dist(0.6, 0.4), dist(0.4, 0.6), dist(0.9, 0.1)])
    pred = probs.argmax(axis=1)
    data = EvalData(probs=probs, pred=pred, hard=[0, 1, 0, 1, -1], p_primary=probs, p_merged=probs)
    assert compute_all(data, ece_bins=10)["ece"] == pytest.approx(0.4)
    probs = np.array([dist(0.5, 0.5), dist(0.0, 1.0)])
    primary = np.array([dist(1.0), dist(0.5, 0.5)])
    data = EvalData(probs=probs, pred=[0, 1], hard=[0, -1], p_primary=primary, p_merged=primary)
    res = compute_all(data)
    assert res["brier_onehot"] == pytest.approx(0.5)  # hard-labelled row only
    assert res["brier_primary"] == pytest.approx((0.5 + 0.5) / 2)


def test_other_class_shares() -> None:
    probs = np.array([dist(0.2, *[0] * 7, 0.8), dist(0.7, *[0] * 7, 0.3)])
    primary = np.array([dist(0.5, *[0] * 7, 0.5), dist(1.0)])
    data = EvalData(probs=probs, pred=[OTHER, 0], hard=[-1, 0], p_primary=primary, p_merged=primary)
    res = compute_all(data)
    assert res["other_share_pred"] == 0.5
    assert res["other_mass"] == pytest.approx(0.55)
    assert res["other_share_human"] == pytest.approx(0.25)


def test_missing_dims_and_latent_truth_keys() -> None:
    res = compute_all(make_data(50, with_true=False, with_dims=False))
    assert "jsd_true" not in res and "kld_true" not in res
    assert all(np.isnan(res[f"ccc_{d}"]) for d in DIMENSIONS)
    assert "jsd_true" in compute_all(make_data(50))


def test_release_metrics_by_hand() -> None:
    # truth 0, 0, 1, 2, X; predictions 0, 1, 1, 0, 2: class 2 has support but no true positive
    probs = np.array([dist(0.8, 0.2), dist(0.4, 0.6), dist(0.3, 0.7), dist(0.6, 0.4), dist(0.1, 0.1, 0.8)])
    primary = np.array([dist(1.0), dist(0.5, 0.5), dist(0.0, 1.0), dist(0.0, 0.0, 1.0), dist(0.5, 0.0, 0.5)])
    data = EvalData(
        probs=probs, pred=[0, 1, 1, 0, 2], hard=[0, 0, 1, 2, -1], p_primary=primary, p_merged=primary
    )
    res = compute_all(data)
    # F1: class 0 TP 1, FP 1, FN 1 -> 0.5; class 1 TP 1, FP 1, FN 0 -> 2/3; class 2 TP 0 -> 0
    assert res["macro_f1"] == pytest.approx((0.5 + 2 / 3) / K)
    assert res["macro_f1_published"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert res["uar"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    # no reference distribution: no paper divergences
    assert "jsd_paper" not in res and "kld_paper" not in res
    ref = primary * 0.9 + 0.1 / K
    res = compute_all(EvalData(**{**_fields(data), "p_ref": ref}))
    assert res["jsd_paper"] == pytest.approx(jsd_paper(probs, ref).mean())
    assert res["kld_paper"] == pytest.approx(kld_paper(ref, probs).mean())
    assert res["kld_paper"] > res["jsd_paper"] > 0


def _fields(d: EvalData) -> dict:
    return {k: getattr(d, k) for k in ("probs", "pred", "hard", "p_primary", "p_merged")}


def test_ccc_mean_is_the_mean_of_the_three() -> None:
    res = compute_all(make_data(80, seed=2))
    assert res["ccc_mean"] == pytest.approx(np.mean([res[f"ccc_{d}"] for d in DIMENSIONS]))
    assert np.isnan(compute_all(make_data(30, with_dims=False))["ccc_mean"])


def test_reference_with_empty_rows_is_accepted_and_checked() -> None:
    base = make_data(40, seed=1)
    assert np.all(base.p_ref[0] == 0) and np.isfinite(compute_all(base)["kld_paper"])
    bad = base.p_ref.copy()
    bad[1, :2] = [0.5, -0.5]
    bad[1, 2:] = 0.0
    with pytest.raises(ValueError, match="negative"):
        EvalData(**{**_fields(base), "p_ref": bad})
    with pytest.raises(ValueError, match="rows"):
        EvalData(**{**_fields(base), "p_ref": base.p_ref[:-1]})

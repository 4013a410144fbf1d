"""Tests for sertools.evaluation.bootstrap: fast resampling, CIs, several seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from evalsets import assert_metrics_close, make_data, with_predictions

from sertools.classes import K
from sertools.evaluation import bootstrap as B
from sertools.evaluation.bootstrap import (
    bootstrap,
    bootstrap_multiseed,
    bootstrap_replicates,
    percentile_ci,
    recentred_ci,
    resample_indices,
    summary_table,
)
from sertools.evaluation.evaldata import EvalData
from sertools.evaluation.metricset import compute_all

sk_metrics = pytest.importorskip("sklearn.metrics")


def test_fast_bootstrap_equals_naive_recomputation_on_same_indices() -> None:
    # classes 4-6 never occur in truth and 6 is never predicted, so some classes are absent
    # from both truth and prediction: they must still count (as F1 0) in the macro mean
    data = make_data(300, seed=4, classes=(0, 1, 2, 3, 7, 8))
    probs = data.probs.astype(np.float64)
    probs[:, 6] = 0.0
    data = with_predictions(data, probs / probs.sum(axis=1, keepdims=True))
    assert not np.any(data.pred == 6)
    idx = resample_indices(data.n, 4, seed=11)
    idx = np.vstack([idx, np.arange(data.n)])  # identity resample = point estimate
    reps = bootstrap_replicates(data, indices=idx)
    for b in range(len(idx)):
        naive = compute_all(data.take(idx[b]))
        assert_metrics_close({k: float(reps[k][b]) for k in naive}, naive)
    # macro-F1 against sklearn directly, for one explicit resample
    r = data.take(idx[0])
    keep = r.hard >= 0
    sk = sk_metrics.f1_score(r.hard[keep], r.pred[keep], labels=range(K), average="macro", zero_division=0)
    assert reps["macro_f1"][0] == pytest.approx(sk)


def test_release_metrics_are_bootstrapped_and_leave_the_others_bit_identical() -> None:
    data = make_data(200, seed=8)
    assert data.p_ref is not None
    idx = np.vstack([resample_indices(data.n, 6, seed=2), np.arange(data.n)])
    reps = bootstrap_replicates(data, indices=idx)
    for name in ("uar", "macro_f1_published", "jsd_paper", "kld_paper", "ccc_mean"):
        assert name in reps and np.all(np.isfinite(reps[name])), name
    # the release divergences have a feature matrix of their own: without a reference, every
    # other metric's replicates are exactly the same
    plain = bootstrap_replicates(make_data(200, seed=8, with_ref=False), indices=idx)
    assert set(reps) - set(plain) == {"jsd_paper", "kld_paper"}
    for k, v in plain.items():
        np.testing.assert_array_equal(reps[k], v, err_msg=k)


def test_published_macro_f1_drops_a_class_whose_only_true_positive_is_not_drawn() -> None:
    """The lopsided CIs of the release: a resample without the one true positive of a class
    averages over one class fewer."""
    hard = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 0, 2, 0])  # class 2: one true positive (utterance 4)
    probs = np.eye(K)[pred] * 0.9 + 0.1 / K
    onehot = np.eye(K)[hard]
    data = EvalData(probs=probs, pred=pred, hard=hard, p_primary=onehot, p_merged=onehot)
    idx = np.array([np.arange(6), [0, 1, 2, 3, 5, 5]])
    reps = bootstrap_replicates(data, indices=idx)
    # all six: F1 of classes 0, 1, 2 = 2/(2+2+1), 2/(2+1+1), 2/(2+0+1)
    f1 = [0.4, 0.5, 2 / 3]
    assert reps["macro_f1_published"][0] == pytest.approx(np.mean(f1))
    assert reps["macro_f1"][0] == pytest.approx(sum(f1) / K)
    # utterance 4 not drawn: class 2 has TP 0 and drops out of the published mean;
    # class 0: TP 1, FP 3, FN 1 -> 1/3; class 1: TP 1, FP 1, FN 1 -> 1/2
    assert reps["macro_f1_published"][1] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert reps["macro_f1"][1] == pytest.approx((1 / 3 + 1 / 2) / K)
    assert reps["uar"][1] == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    assert_metrics_close({k: float(v[1]) for k, v in reps.items()}, compute_all(data.take(idx[1])))


def test_bootstrap_draws_the_documented_indices_and_is_reproducible(monkeypatch) -> None:
    data = make_data(120, seed=2)
    drawn = bootstrap_replicates(data, B=30, seed=5)
    injected = bootstrap_replicates(data, indices=resample_indices(data.n, 30, seed=5))
    np.testing.assert_array_equal(drawn["macro_f1"], injected["macro_f1"])
    again = bootstrap(data, B=30, seed=5)
    assert again == bootstrap(data, B=30, seed=5)
    other = bootstrap_replicates(data, B=30, seed=6)
    assert not np.array_equal(drawn["macro_f1"], other["macro_f1"])
    # chunking the resamples must not change the stream
    monkeypatch.setattr(B, "_chunk_size", lambda n, target_cells=0: 7)
    chunked = bootstrap_replicates(data, B=30, seed=5)
    for k in drawn:
        np.testing.assert_allclose(chunked[k], drawn[k], rtol=1e-12, equal_nan=True)


def test_bootstrap_ci_contains_point_and_has_sensible_width() -> None:
    data = make_data(1500, seed=3)
    res = bootstrap(data, B=300, seed=0)
    for name in ("accuracy", "macro_f1", "jsd_primary", "kld_merged", "ccc_valence", "ece", "brier_onehot"):
        point, lo, hi = res[name]
        assert lo < point < hi, name
        assert hi - lo < 0.2, name
    # accuracy: percentile CI width close to the binomial normal approximation
    acc, lo, hi = res["accuracy"]
    n_hard = res["n_hard"].point
    assert hi - lo == pytest.approx(2 * 1.96 * math.sqrt(acc * (1 - acc) / n_hard), rel=0.25)
    assert res["n_all"] == (1500.0, 1500.0, 1500.0)
    assert_metrics_close({k: v.point for k, v in res.items()}, compute_all(data), tol=1e-12)
    assert summary_table(res)["accuracy"] == {"point": acc, "lo": lo, "hi": hi}
    with pytest.raises(TypeError, match="bootstrap_multiseed"):
        bootstrap([data, data], B=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ci must be"):
        bootstrap(data, B=5, ci=95)


def test_bootstrap_rejects_bad_indices() -> None:
    data = make_data(20)
    with pytest.raises(ValueError, match="shape"):
        bootstrap_replicates(data, indices=np.zeros((3, 19), dtype=int))
    with pytest.raises(ValueError, match="integers in"):
        bootstrap_replicates(data, indices=np.full((3, 20), 20))


def test_multiseed_averages_metric_inside_each_resample() -> None:
    base = make_data(250, seed=7)
    rng = np.random.default_rng(0)
    seeds = [
        with_predictions(base, rng.dirichlet(np.ones(K), size=base.n), base.dims_pred + s) for s in range(3)
    ]
    idx = resample_indices(base.n, 40, seed=1)
    avg = bootstrap_replicates(seeds, indices=idx)
    single = [bootstrap_replicates(d, indices=idx) for d in seeds]
    for k in ("macro_f1", "kld_primary", "ccc_arousal", "ece"):
        np.testing.assert_allclose(avg[k], np.mean([s[k] for s in single], axis=0), rtol=1e-12)
    res = bootstrap_multiseed(seeds, B=40, seed=1)
    points = [compute_all(d)["macro_f1"] for d in seeds]
    assert res["macro_f1"].point == pytest.approx(np.mean(points))
    assert res["macro_f1"].seed_sd == pytest.approx(np.std(points, ddof=1))
    assert res["macro_f1"].n_seeds == 3
    # the interval is that of the seed-mean replicates around the seed mean, for every method
    pct = bootstrap_multiseed(seeds, B=40, seed=1, method="percentile")
    assert (pct["macro_f1"].lo, pct["macro_f1"].hi) == pytest.approx(percentile_ci(avg["macro_f1"]))
    assert (res["macro_f1"].lo, res["macro_f1"].hi) == pytest.approx(
        recentred_ci(avg["macro_f1"], res["macro_f1"].point)
    )
    assert np.isnan(bootstrap_multiseed(seeds[:1], B=10)["macro_f1"].seed_sd)


def test_sets_with_different_utterances_are_rejected() -> None:
    a, b = make_data(50, seed=0), make_data(50, seed=1)
    with pytest.raises(ValueError, match="different human labels"):
        bootstrap_multiseed([a, b], B=5)
    with pytest.raises(ValueError, match="utterances"):
        bootstrap_multiseed([a, make_data(40)], B=5)


def test_percentile_ci_ignores_nan_replicates() -> None:
    assert percentile_ci(np.array([np.nan, 1.0, 2.0, 3.0]), 0.5) == pytest.approx((1.5, 2.5))
    assert all(math.isnan(v) for v in percentile_ci(np.full(3, np.nan)))


def test_bootstrap_ci_coverage_on_a_known_answer() -> None:
    """Repeated experiments with a known true accuracy: the 95% percentile CI
    should cover it in about 95% of them (loose bounds for 200 repetitions)."""
    true_acc, n, reps = 0.7, 300, 200
    rng = np.random.default_rng(11)
    covered = 0
    for r in range(reps):
        hard = rng.integers(0, K, size=n)
        correct = rng.random(n) < true_acc
        pred = np.where(correct, hard, (hard + rng.integers(1, K, size=n)) % K)
        probs = np.full((n, K), 0.01)
        probs[np.arange(n), pred] = 1 - 0.01 * (K - 1)
        onehot = np.eye(K)[hard]
        data = EvalData(probs=probs, pred=pred, hard=hard, p_primary=onehot, p_merged=onehot)
        _, lo, hi = bootstrap(data, B=200, seed=r)["accuracy"]
        covered += lo <= true_acc <= hi
    assert 0.88 <= covered / reps <= 0.99, covered / reps


def test_any_number_of_resamples() -> None:
    """B is a setting (the release used 10,000): nothing assumes 1000."""
    data = make_data(40, seed=9)
    for b in (1, 37, 2500):
        reps = bootstrap_replicates(data, B=b, seed=0)
        assert all(v.shape == (b,) for v in reps.values())
    res = bootstrap_multiseed([data, data], B=37, seed=0)
    assert res["macro_f1_published"].n_seeds == 2 and np.isfinite(res["macro_f1_published"].lo)

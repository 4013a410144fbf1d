"""Tests for sertools.metrics (metrics, fast bootstrap, paired tests, strata)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy

from sertools.classes import CLASSES, OTHER, K
from sertools.evaluation import scores as M
from sertools.evaluation.scores import (
    EvalData,
    bootstrap,
    bootstrap_multiseed,
    bootstrap_replicates,
    bootstrap_strata,
    brier,
    ccc,
    compute_all,
    confusion_matrix,
    ece,
    entropy_strata,
    holm,
    jsd,
    kld,
    paired_bootstrap,
    resample_indices,
)

sk_metrics = pytest.importorskip("sklearn.metrics")


# ------------------------------------------------------------------------------ fixtures


def make_data(
    n: int,
    seed: int = 0,
    skill: float = 1.5,
    classes: tuple[int, ...] = tuple(range(K)),
    with_true: bool = True,
    with_dims: bool = True,
) -> EvalData:
    """Synthetic corpus: votes from a Dirichlet, model logits tilted towards the plurality."""
    rng = np.random.default_rng(seed)
    alpha = np.full(K, 1e-3)
    alpha[list(classes)] = 0.6
    votes = rng.multinomial(6, rng.dirichlet(alpha, size=n))
    p_primary = votes / votes.sum(axis=1, keepdims=True)
    hard = np.where(p_primary.max(axis=1) > 0.5, p_primary.argmax(axis=1), -1)
    logits = rng.normal(size=(n, K))
    logits[np.arange(n), p_primary.argmax(axis=1)] += skill
    probs = np.exp(logits)
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    merged = votes + rng.multinomial(3, np.full(K, 1 / K), size=n)
    dims_true = rng.uniform(1, 7, size=(n, 3))
    h = scipy_entropy(p_primary, axis=1) / math.log(K)
    return EvalData(
        probs=probs,
        pred=probs.argmax(axis=1),
        hard=hard,
        p_primary=p_primary,
        p_merged=merged / merged.sum(axis=1, keepdims=True),
        p_true=rng.dirichlet(np.ones(K), size=n) if with_true else None,
        dims_pred=dims_true + rng.normal(scale=1.0, size=(n, 3)) if with_dims else None,
        dims_true=dims_true if with_dims else None,
        entropy=h,
    )


def with_predictions(base: EvalData, probs: np.ndarray, dims_pred: np.ndarray | None = None) -> EvalData:
    """Same utterances and labels, different model outputs (another seed or system)."""
    return EvalData(
        probs=probs,
        pred=probs.argmax(axis=1),
        hard=base.hard,
        p_primary=base.p_primary,
        p_merged=base.p_merged,
        p_true=base.p_true,
        dims_pred=base.dims_pred if dims_pred is None else dims_pred,
        dims_true=base.dims_true,
        entropy=base.entropy,
    )


def dist(*vals: float) -> np.ndarray:
    """A length-K row with the given leading values (rest 0)."""
    row = np.zeros(K)
    row[: len(vals)] = vals
    return row


def assert_metrics_close(a: dict[str, float], b: dict[str, float], tol: float = 1e-9) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if np.isnan(a[k]):
            assert np.isnan(b[k]), k
        else:
            assert a[k] == pytest.approx(b[k], abs=tol), k


# --------------------------------------------------------------------------- hard metrics


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


# ----------------------------------------------------------------------- distributional


def test_jsd_hand_cases() -> None:
    assert jsd(np.array([[1.0, 0, 0]]), np.array([[0.0, 1, 0]]))[0] == pytest.approx(1.0)
    p = np.array([[0.2, 0.3, 0.5]])
    assert jsd(p, p)[0] == pytest.approx(0.0, abs=1e-15)
    # [1,0] vs [0.5,0.5]: m = [0.75, 0.25]
    expected = 0.5 * math.log2(1 / 0.75) + 0.5 * (0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25))
    assert jsd(np.array([[1.0, 0]]), np.array([[0.5, 0.5]]))[0] == pytest.approx(expected)


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


# -------------------------------------------------------------------- CCC, ECE, Brier


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
    data = EvalData(probs=probs, pred=pred, hard=hard, p_primary=probs, p_merged=probs)
    assert compute_all(data, ece_bins=10)["ece"] == pytest.approx(0.4)
    # one bin: |mean acc - mean conf| = |0.75 - 0.75| = 0
    assert ece(probs, pred, hard, n_bins=1) == pytest.approx(0.0, abs=1e-12)


def test_ece_bins_are_right_closed() -> None:
    # conf exactly 0.6 belongs to (0.4, 0.6] with 5 bins, not (0.6, 0.8]
    probs = np.array([dist(0.6, 0.4), dist(0.7, 0.3)])
    hard = np.array([0, 1])
    # right-closed: separate bins -> (|1-0.6| + |0-0.7|)/2 = 0.55
    assert ece(probs, probs.argmax(axis=1), hard, n_bins=5) == pytest.approx(0.55)


def test_brier_hand_cases() -> None:
    probs = np.array([dist(0.5, 0.5), dist(0.0, 1.0)])
    primary = np.array([dist(1.0), dist(0.5, 0.5)])
    np.testing.assert_allclose(brier(probs, np.array([dist(1.0), dist(0.0, 1.0)])), [0.5, 0.0])
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
    assert all(np.isnan(res[f"ccc_{d}"]) for d in M.DIMENSIONS)
    assert "jsd_true" in compute_all(make_data(50))


# ------------------------------------------------------------------------------ bootstrap


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
    monkeypatch.setattr(M, "_chunk_size", lambda n, target_cells=0: 7)
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
    lo, hi = M.percentile_ci(avg["macro_f1"])
    assert (res["macro_f1"].lo, res["macro_f1"].hi) == pytest.approx((lo, hi))
    assert np.isnan(bootstrap_multiseed(seeds[:1], B=10)["macro_f1"].seed_sd)


def test_sets_with_different_utterances_are_rejected() -> None:
    a, b = make_data(50, seed=0), make_data(50, seed=1)
    with pytest.raises(ValueError, match="different human labels"):
        bootstrap_multiseed([a, b], B=5)
    with pytest.raises(ValueError, match="utterances"):
        paired_bootstrap(a, make_data(40), B=5)


def test_paired_bootstrap_detects_a_clearly_better_system() -> None:
    base = make_data(600, seed=8, skill=0.3)
    better = with_predictions(base, make_data(600, seed=8, skill=4.0).probs)
    res = paired_bootstrap(better, base, B=200, seed=0)
    d = res["macro_f1"]
    assert d.diff > 0.2 and d.lo > 0
    assert d.diff == pytest.approx(d.variant - d.baseline)
    assert d.p_value == pytest.approx(2 / 201)
    same = paired_bootstrap(base, [base, base], B=200, seed=0)
    assert same["macro_f1"].diff == 0.0 and same["macro_f1"].p_value == 1.0
    assert same["kld_primary"].p_value == 1.0


def test_paired_bootstrap_p_value_is_large_for_exchangeable_systems() -> None:
    base = make_data(400, seed=9)
    rng = np.random.default_rng(9)
    a = with_predictions(base, rng.dirichlet(np.ones(K), size=base.n))
    b = with_predictions(base, rng.dirichlet(np.ones(K), size=base.n))
    res = paired_bootstrap(a, b, B=200, seed=0)
    for name in ("accuracy", "macro_f1", "weighted_f1"):
        assert res[name].lo < 0 < res[name].hi, name
        assert res[name].p_value > 0.2, name


def test_holm_hand_example() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])
    out = holm([0.02, np.nan, 0.04])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.04, 0.04])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([1.5])


# ------------------------------------------------------------------------------- strata


def test_entropy_strata_edges() -> None:
    h = np.array([0.0, 0.2, 1 / 3, 0.5, 2 / 3, 0.9, 1.0])
    masks = entropy_strata(h)
    assert [np.flatnonzero(m).tolist() for m in masks] == [[0, 1], [2, 3], [4, 5, 6]]
    masks = entropy_strata(np.array([0.1, 0.5, 1.0]), edges=[0.0, 0.5, 1.0])
    assert [np.flatnonzero(m).tolist() for m in masks] == [[0], [1, 2]]
    with pytest.raises(ValueError, match="lie in"):
        entropy_strata(np.array([1.2]))
    with pytest.raises(ValueError, match="increasing"):
        entropy_strata(np.array([0.5]), edges=[0.0, 0.5, 0.5, 1.0])
    assert M.stratum_names() == ["[0.000, 0.333)", "[0.333, 0.667)", "[0.667, 1.000]"]


def test_bootstrap_strata_resamples_within_each_stratum() -> None:
    data = make_data(400, seed=5)
    res = bootstrap_strata(data, B=30, seed=2)
    masks = entropy_strata(data.entropy)
    assert list(res) == M.stratum_names()
    for (name, stratum), mask in zip(res.items(), masks, strict=True):
        if not mask.any():
            assert stratum == {}
            continue
        assert stratum["n_all"].point == mask.sum() == stratum["n_all"].lo == stratum["n_all"].hi, name
        direct = bootstrap(data.subset(mask), B=30, seed=2)
        assert stratum["macro_f1"][:3] == pytest.approx(tuple(direct["macro_f1"]), nan_ok=True)


# -------------------------------------------------------------------- container / frames


def _frames(data: EvalData) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ids = [f"MSP-PODCAST_{i:04d}.wav" for i in range(data.n)]
    preds = pd.DataFrame(
        {
            "file_id": ids,
            "probs": list(data.probs.astype(np.float32)),
            "pred": data.pred,
            **{d: data.dims_pred[:, j] for j, d in enumerate(M.DIMENSIONS)},
        }
    )
    labels = pd.DataFrame(
        {
            "file_id": ids,
            "hard_label": pd.array([None if h < 0 else int(h) for h in data.hard], dtype="Int64"),
            "p_primary": list(data.p_primary),
            "p_merged": list(data.p_merged),
            "entropy_primary": data.entropy,
            **{d: data.dims_true[:, j] for j, d in enumerate(M.DIMENSIONS)},
        }
    )
    truth = pd.DataFrame({"file_id": ids, "p_true": list(data.p_true)})
    return preds, labels, truth


def test_from_frames_joins_and_orders_by_file_id() -> None:
    data = make_data(60, seed=1)
    preds, labels, truth = _frames(data)
    shuffled = preds.sample(frac=1.0, random_state=0)
    built = EvalData.from_frames(shuffled, labels.iloc[::-1], truth.sample(frac=1.0, random_state=1))
    assert list(built.file_ids) == sorted(preds["file_id"])
    assert_metrics_close(compute_all(built), compute_all(data), tol=1e-6)
    assert (built.hard == -1).sum() == (data.hard == -1).sum()


def test_from_frames_reports_coverage_mismatch_and_bad_columns() -> None:
    preds, labels, truth = _frames(make_data(30, seed=1))
    with pytest.raises(ValueError, match="do not cover the same utterances"):
        EvalData.from_frames(preds.iloc[:-2], labels)
    EvalData.from_frames(preds.iloc[:-2], labels, allow_extra_labels=True)
    with pytest.raises(ValueError, match="do not cover the same utterances"):
        EvalData.from_frames(preds, labels.iloc[1:], allow_extra_labels=True)
    with pytest.raises(ValueError, match="lacks column"):
        EvalData.from_frames(preds.drop(columns="probs"), labels)
    with pytest.raises(ValueError, match="duplicated file_id"):
        EvalData.from_frames(pd.concat([preds, preds.iloc[:1]]), labels)
    with pytest.raises(ValueError, match="latent_truth lacks"):
        EvalData.from_frames(preds, labels, truth.iloc[1:])
    bad = preds.copy()
    bad["probs"] = [np.ones(8) / 8] * len(bad)
    with pytest.raises(ValueError, match="list of 9 numbers"):
        EvalData.from_frames(bad, labels)


def test_evaldata_validation_messages() -> None:
    p = np.array([dist(0.5, 0.5)])
    with pytest.raises(ValueError, match="do not sum to 1"):
        EvalData(probs=np.array([dist(0.5, 0.6)]), pred=[0], hard=[0], p_primary=p, p_merged=p)
    with pytest.raises(ValueError, match="pred values"):
        EvalData(probs=p, pred=[9], hard=[0], p_primary=p, p_merged=p)
    with pytest.raises(ValueError, match="hard values"):
        EvalData(probs=p, pred=[0], hard=[-2], p_primary=p, p_merged=p)
    with pytest.raises(ValueError, match="shape"):
        EvalData(probs=p[:, :8], pred=[0], hard=[0], p_primary=p, p_merged=p)
    with pytest.raises(ValueError, match="rows but probs"):
        EvalData(probs=p, pred=[0, 0], hard=[0], p_primary=p, p_merged=p)
    with pytest.raises(ValueError, match="dims_pred"):
        EvalData(probs=p, pred=[0], hard=[0], p_primary=p, p_merged=p, dims_pred=np.ones((1, 2)))


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

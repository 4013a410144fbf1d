"""The study's scores (sertools.study.scores): point values, the seed + utterance bootstrap, comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from sertools.classes import MSP_PODCAST, ClassSet, K
from sertools.evaluation.bootstrap import seed_resample_indices, seed_resampled_mean
from sertools.evaluation.evaldata import EvalData
from sertools.measures import jsd, kld, normalised_entropy
from sertools.study import scores

S = {
    "bootstrap_seed": 3,
    "ci_level": 0.95,
    "ci_method": "percentile",
    "prob_floor": 1e-12,
    "entropy_bins": [0.0, 1 / 3, 2 / 3, 1.0],
}


def _dist(rng: np.random.Generator, n: int, conc: float = 1.0) -> np.ndarray:
    return rng.dirichlet(np.full(K, conc), size=n)


def _data(
    probs: np.ndarray,
    truth: np.ndarray,
    primary: np.ndarray,
    hard: np.ndarray,
    classes: ClassSet = MSP_PODCAST,
) -> EvalData:
    """Evaluation data of ``classes`` (a merged distribution only for MSP-Podcast's, which has one)."""
    n = len(probs)
    return EvalData(
        probs=probs,
        pred=probs.argmax(axis=1),
        hard=hard,
        p_primary=primary,
        p_merged=primary if classes == MSP_PODCAST else None,
        p_true=truth,
        file_ids=np.array([f"f{i:04d}" for i in range(n)], dtype=object),
        classes=classes,
    )


@pytest.fixture
def world():
    rng = np.random.default_rng(0)
    n = 300
    truth = _dist(rng, n, 0.5)
    mixture = 0.7 * truth + 0.3 * _dist(rng, 1, 1.0)
    primary = _dist(rng, n, 0.5)
    hard = truth.argmax(axis=1)
    hard[:30] = -1  # X
    return rng, n, truth, mixture, primary, hard


def test_seed_resampled_mean_carries_the_seed_variance():
    rng = np.random.default_rng(1)
    b = 4000
    # no utterance variance at all: every replicate of a seed is its point value
    per_seed = np.repeat(np.array([[0.0], [1.0], [2.0]]), b, axis=1)
    idx = seed_resample_indices(3, b, rng)
    reps = seed_resampled_mean(per_seed, idx)
    assert reps.std() == pytest.approx(np.sqrt(2 / 3 / 3), rel=0.05)  # SD of a mean of 3 draws
    assert reps.mean() == pytest.approx(1.0, abs=0.02)
    # one seed: the utterance bootstrap unchanged
    one = rng.normal(size=(1, 50))
    assert np.array_equal(seed_resampled_mean(one, seed_resample_indices(1, 50, rng)), one[0])
    with pytest.raises(ValueError, match="shape"):
        seed_resampled_mean(per_seed, idx[:, :2])


def test_points_equal_the_direct_computation(world):
    rng, n, truth, mixture, primary, hard = world
    probs = _dist(rng, n, 1.0)
    doc = scores.score_rows({"a": [_data(probs, truth, primary, hard)]}, mixture, "a", [], S, 200)
    m = doc["rows"]["a"]["metrics"]
    assert m["jsd_true"]["mean"] == pytest.approx(jsd(truth, probs).mean())
    assert m["kld_raters"]["mean"] == pytest.approx(kld(mixture, probs).mean())
    assert m["jsd_primary"]["mean"] == pytest.approx(jsd(primary, probs).mean())
    assert m["other_mass"]["mean"] == pytest.approx(probs[:, -1].mean())
    from sklearn.metrics import f1_score

    ok = hard >= 0
    f1 = f1_score(hard[ok], probs.argmax(axis=1)[ok], labels=list(range(K)), average="macro", zero_division=0)
    assert m["macro_f1"]["mean"] == pytest.approx(f1)
    for k in scores.METRICS:
        assert m[k]["ci_low"] <= m[k]["mean"] <= m[k]["ci_high"]


def test_seed_spread_widens_intervals_and_weakens_tests(world):
    """Two rows whose seeds disagree: resampling the seeds widens the CI and raises p."""
    rng, n, truth, mixture, primary, hard = world
    close = 0.8 * truth + 0.2 * _dist(rng, n, 1.0)
    far = [0.6 * truth + 0.4 * _dist(rng, n, 1.0) for _ in range(3)]
    # the variant's seeds: one far off, two close, so its mean beats the baseline only by the seeds drawn
    variant = [
        _data(close, truth, primary, hard),
        _data(close, truth, primary, hard),
        _data(far[0], truth, primary, hard),
    ]
    baseline = [_data(0.7 * truth + 0.3 * _dist(rng, n, 1.0), truth, primary, hard) for _ in range(3)]
    doc = scores.score_rows({"b": baseline, "v": variant}, mixture, "b", ["v"], S, 2000)
    row = doc["rows"]["v"]["metrics"]["jsd_true"]
    assert row["ci_high"] - row["ci_low"] > 1.5 * (row["ci_high_utterances"] - row["ci_low_utterances"])
    assert row["seed_sd"] > 0
    c = doc["comparisons"]["v"]["jsd_true"]
    assert c["p_value"] > c["p_value_utterances"]
    assert c["seed_pairs_min"] < 0 < c["seed_pairs_max"]  # the sign depends on the seeds
    assert c["diff"] == pytest.approx(
        np.mean([jsd(truth, d.probs).mean() for d in variant])
        - np.mean([jsd(truth, d.probs).mean() for d in baseline])
    )


def test_identical_rows_differ_by_nothing(world):
    rng, n, truth, mixture, primary, hard = world
    sets = [_data(_dist(rng, n), truth, primary, hard) for _ in range(2)]
    doc = scores.score_rows({"b": sets, "v": list(sets)}, mixture, "b", ["v"], S, 300)
    c = doc["comparisons"]["v"]["jsd_true"]
    assert c["diff"] == 0.0 and c["p_value_utterances"] == 1.0


def test_refuses_misaligned_inputs(world):
    rng, n, truth, mixture, primary, hard = world
    d = _data(_dist(rng, n), truth, primary, hard)
    with pytest.raises(ValueError, match="p_raters"):
        scores.score_rows({"a": [d]}, mixture[:-1], "a", [], S, 10)
    other = _data(_dist(rng, n - 1), truth[:-1], primary[:-1], hard[:-1])
    with pytest.raises(ValueError, match="same utterances"):
        scores.score_rows({"a": [d], "b": [other]}, mixture, "a", ["b"], S, 10)


def test_other_class_shares_per_stratum(world):
    rng, n, truth, mixture, primary, hard = world
    probs = _dist(rng, n, 0.3)
    d = _data(probs, truth, primary, hard)
    s = {**S, "entropy_bins": [0.0, 1 / 3, 2 / 3, 1.0]}
    doc = scores.score_rows({"a": [d]}, mixture, "a", [], s, 200)
    other = doc["rows"]["a"]["other_class"]
    assert list(other) == ["all", "[0.000, 0.333)", "[0.333, 0.667)", "[0.667, 1.000]"]
    h = normalised_entropy(primary)
    top = h >= 2 / 3
    assert other["[0.667, 1.000]"]["n_utterances"] == int(top.sum())
    assert other["[0.667, 1.000]"]["model"]["mean"] == pytest.approx((probs[top].argmax(1) == K - 1).mean())
    assert other["[0.667, 1.000]"]["human"]["mean"] == pytest.approx(primary[top, K - 1].mean())
    assert other["all"]["n_utterances"] == n

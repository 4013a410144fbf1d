"""The interval method (``evaluation.ci_method``): the recentred percentile interval contains the
estimate of a metric that resampling biases, where the percentile and BC intervals do not."""

from __future__ import annotations

import math

import numpy as np
import pytest
from dumps import EVAL_CFG
from evalsets import make_data

from sertools import config as config_mod
from sertools.classes import K
from sertools.evaluation import metrics, settings
from sertools.evaluation.bootstrap import (
    CI_METHOD_NAMES,
    CI_METHODS,
    DEFAULT_CI_METHOD,
    bc_ci,
    bootstrap,
    bootstrap_multiseed,
    bootstrap_replicates,
    ci_interval,
    metric_range,
    percentile_ci,
    recentred_ci,
)
from sertools.evaluation.evaldata import EvalData, EvaluationError

CONFIDENCES = (0.45, 0.65, 0.85)


def calibrated(n_per_level: int = 50, seed: int = 0) -> EvalData:
    """A perfectly calibrated prediction set: at each confidence level exactly that share is correct.

    Its ECE (from the 15-bin rounding of the levels only) is near 0, but every resample
    mis-calibrates it by chance, so the resampled ECEs lie almost all above the estimate. The
    labels do not depend on ``seed`` (another training seed of the same utterances).
    """
    conf = np.repeat(CONFIDENCES, n_per_level)
    hard = np.random.default_rng(99).integers(0, K, len(conf))
    rng = np.random.default_rng(seed)
    correct = np.zeros(len(conf), dtype=bool)
    for c in CONFIDENCES:
        idx = np.flatnonzero(conf == c)
        correct[rng.choice(idx, round(c * len(idx)), replace=False)] = True
    pred = np.where(correct, hard, (hard + rng.integers(1, K, len(conf))) % K)
    probs = np.repeat(((1 - conf) / (K - 1))[:, None], K, axis=1)
    probs[np.arange(len(conf)), pred] = conf
    onehot = np.eye(K)[hard]
    return EvalData(probs=probs, pred=pred, hard=hard, p_primary=onehot, p_merged=onehot)


# --------------------------------------------------------------------------- biased metric


def test_a_strongly_biased_metric_keeps_its_estimate_inside_the_recentred_interval() -> None:
    data = calibrated()
    pct = bootstrap(data, B=2000, seed=0, method="percentile")["ece"]
    # the case is meaningful: the percentile interval lies wholly above the estimate ...
    assert pct.point < pct.lo < pct.hi
    # ... and Efron's bias correction moves the interval away from it, below it
    bc = bootstrap(data, B=2000, seed=0, method="bc")["ece"]
    assert bc.lo <= bc.hi < bc.point
    rc = bootstrap(data, B=2000, seed=0)["ece"]  # the default method
    assert rc.point == pct.point
    assert 0.0 <= rc.lo < rc.point < rc.hi
    # the bootstrap's spread, centred on the estimate; below it clipped at 0, the range of the ECE
    med = np.median(_ece_replicates(data))
    assert rc.hi - rc.point == pytest.approx(pct.hi - med, rel=1e-9)
    assert pct.point + (pct.lo - med) < 0  # unclipped, the lower end would be negative
    assert rc.lo == 0.0


def _ece_replicates(data: EvalData) -> np.ndarray:
    return bootstrap_replicates(data, B=2000, seed=0)["ece"]


def test_several_seeds_centre_the_seed_mean_replicates_on_the_seed_mean() -> None:
    seeds = [calibrated(seed=s) for s in range(3)]
    pct = bootstrap_multiseed(seeds, B=1000, seed=1, method="percentile")
    rc = bootstrap_multiseed(seeds, B=1000, seed=1)
    assert pct["ece"].point < pct["ece"].lo  # the seed mean lies below the seed-mean replicates
    for k, e in rc.items():
        np.testing.assert_equal((e.point, e.seed_sd, e.n_seeds), pct[k][::3][:1] + pct[k][3:], err_msg=k)
        if math.isfinite(e.point):
            assert e.lo <= e.point <= e.hi, k


@pytest.mark.parametrize("n", [12, 40, 400])
def test_every_metric_contains_its_estimate_within_its_range(n: int) -> None:
    res = bootstrap(make_data(n, seed=n), B=200, seed=0)
    for k, e in res.items():
        if math.isfinite(e.point):
            lo, hi = metric_range(k)
            assert lo <= e.lo <= e.point <= e.hi <= hi, k


# ----------------------------------------------------------------------- unbiased metric


def test_an_unbiased_symmetric_metric_gets_about_the_percentile_interval() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    hard = rng.integers(0, K, n)
    pred = np.where(rng.random(n) < 0.6, hard, (hard + rng.integers(1, K, n)) % K)
    probs = np.full((n, K), 0.02)
    probs[np.arange(n), pred] = 1 - 0.02 * (K - 1)
    onehot = np.eye(K)[hard]
    data = EvalData(probs=probs, pred=pred, hard=hard, p_primary=onehot, p_merged=onehot)
    pct = bootstrap(data, B=2000, seed=0, method="percentile")["accuracy"]
    width = pct.hi - pct.lo
    for method in ("recentred", "bc"):
        e = bootstrap(data, B=2000, seed=0, method=method)["accuracy"]
        assert e.lo == pytest.approx(pct.lo, abs=0.05 * width), method
        assert e.hi == pytest.approx(pct.hi, abs=0.05 * width), method


# -------------------------------------------------------------------------- degenerate cases


def test_degenerate_replicates() -> None:
    same = np.full(50, 0.3)
    for method in CI_METHODS:
        assert ci_interval(same, 0.3, 0.95, method) == (0.3, 0.3), method
    # every replicate above the estimate: BC clamps z0 to a finite value (half a replicate) and
    # stays inside the replicates; the recentred interval is centred on the estimate
    above = np.linspace(1.0, 2.0, 101)
    lo, hi = bc_ci(above, 0.0)
    assert 1.0 <= lo <= hi < 1.05
    lo, hi = recentred_ci(above, 0.0)
    assert (lo, hi) == pytest.approx((np.quantile(above, 0.025) - 1.5, np.quantile(above, 0.975) - 1.5))
    assert recentred_ci(above, 0.0, bounds=(0.0, 1.0)) == pytest.approx((0.0, hi))
    # NaN replicates are ignored; no replicate or no estimate gives no interval
    with_nan = np.array([np.nan, 1.0, 2.0, 3.0])
    assert recentred_ci(with_nan, 2.0, 0.5) == pytest.approx((1.5, 2.5))
    assert percentile_ci(with_nan, 0.5) == pytest.approx((1.5, 2.5))
    for method in CI_METHODS:
        assert all(math.isnan(v) for v in ci_interval(np.full(4, np.nan), 1.0, 0.95, method))
    for method in ("recentred", "bc"):
        assert all(math.isnan(v) for v in ci_interval(with_nan, float("nan"), 0.95, method))
    # clipped to the metric's range: 0.1 + (q_lo - median) = 0.1 + 0.09 - 1 would go below 0
    skewed = np.array([0.0, 0.9, 1.0, 1.0, 1.0])
    assert recentred_ci(skewed, 0.1, 0.95, (0.0, 1.0)) == pytest.approx((0.0, 0.1))
    assert ci_interval(skewed, 0.1, 0.95, "recentred", (0.0, 1.0)) == pytest.approx((0.0, 0.1))
    assert metric_range("ece") == metric_range("jsd_paper") == (0.0, 1.0)
    assert metric_range("ccc_mean") == (-1.0, 1.0) and metric_range("kld_primary")[1] == math.inf
    with pytest.raises(ValueError, match="ci method"):
        ci_interval(same, 0.3, 0.95, "bca")
    with pytest.raises(ValueError, match="ci method"):
        bootstrap(make_data(20), B=5, method="basic")


# ------------------------------------------------------------------------------- the config


def test_the_config_key_and_its_default() -> None:
    node = config_mod.load_schema()["properties"]["evaluation"]["properties"]["ci_method"]
    assert node["default"] == DEFAULT_CI_METHOD == "recentred"
    assert tuple(node["enum"]) == CI_METHODS == tuple(CI_METHOD_NAMES)
    assert settings.KEYS[-1] == "ci_method"
    assert settings.resolve(EVAL_CFG)["ci_method"] == DEFAULT_CI_METHOD
    assert settings.resolve({**EVAL_CFG, "ci_method": "bc"})["ci_method"] == "bc"
    with pytest.raises(EvaluationError, match="ci_method must be one of"):
        settings.resolve({**EVAL_CFG, "ci_method": "bca"})
    assert settings.recorded_ci_method({"settings": {}}) == "percentile"  # documents from before the key
    assert settings.ci_phrase("recentred", 0.95) == "95% recentred percentile-bootstrap CI"


def test_the_method_is_recorded_and_applied_end_to_end(corpus: dict, results: dict) -> None:
    v = "noisy"
    default = results[v]
    assert default["settings"]["ci_method"] == DEFAULT_CI_METHOD

    def doc(method: str) -> dict:
        cfg = {**EVAL_CFG, "ci_method": method}
        return metrics.variant_metrics(corpus["paths"][v], corpus["labels"], cfg, corpus["truth"], variant=v)

    explicit, pct = doc(DEFAULT_CI_METHOD), doc("percentile")
    assert explicit == default
    assert pct["settings"]["ci_method"] == "percentile"
    moved = 0
    for split, res in default["splits"].items():
        blocks = [res["metrics"], *(st["metrics"] for st in res["strata"].values())]
        pblocks = [
            pct["splits"][split]["metrics"],
            *(st["metrics"] for st in pct["splits"][split]["strata"].values()),
        ]
        for block, pblock in zip(blocks, pblocks, strict=True):
            for name, e in block.items():
                p = pblock[name]
                assert e["mean"] == p["mean"] and e["per_seed"] == p["per_seed"], name
                if e["mean"] is None or e["ci_low"] is None:
                    continue
                # the recentred interval holds the seed mean (up to the rounding of two code paths)
                tol = 1e-12 * max(1.0, abs(e["mean"]))
                assert e["ci_low"] - tol <= e["mean"] <= e["ci_high"] + tol, (split, name)
                moved += (e["ci_low"], e["ci_high"]) != (p["ci_low"], p["ci_high"])
    assert moved > 0

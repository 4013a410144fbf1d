"""The study's own evaluation figures (sertools.study.evaluate): bootstrap mean CIs and the votes' summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sertools.evaluation import settings
from sertools.study.evaluate import _vote_summary, mean_with_ci

S = settings.resolve(
    {
        "bootstrap_resamples": 400,
        "bootstrap_seed": 0,
        "ci_level": 0.95,
        "entropy_bins": [0, 0.5, 1],
        "prob_floor": 1e-12,
        "ece_bins": 15,
    }
)


def test_mean_with_ci_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = mean_with_ci(rng.normal(1.0, 1.0, 100), S)
    large = mean_with_ci(rng.normal(1.0, 1.0, 10_000), S)
    for e in (small, large):
        assert e["ci_low"] < e["mean"] < e["ci_high"]
    assert (large["ci_high"] - large["ci_low"]) < (small["ci_high"] - small["ci_low"]) / 5
    assert large["ci_low"] < 1.0 < large["ci_high"]
    assert mean_with_ci(np.zeros(0), S) == {"mean": None, "ci_low": None, "ci_high": None}


def _labels(p_votes):
    n = len(p_votes)
    return pd.DataFrame(
        {
            "file_id": [f"u{i}" for i in range(n)],
            "split": "Test1",
            "p_primary": [list(p) for p in p_votes],
            "n_annotators": 5,
            "consensus": ["N"] * (n - 1) + ["X"],
        }
    )


def test_votes_equal_to_the_truth_are_at_jsd_zero():
    p = np.random.default_rng(1).dirichlet(np.ones(9), size=20)
    labels = _labels(p)
    truth = pd.DataFrame({"file_id": labels["file_id"], "p_true": [list(x) for x in p]})
    mixture = pd.DataFrame({"file_id": labels["file_id"], "p_raters": [list(0.5 * x + 0.5 / 9) for x in p]})
    out = _vote_summary(labels, truth, mixture, "Test1", S)
    assert out["jsd_votes_truth"]["mean"] == pytest.approx(0.0, abs=1e-9)
    # the mixture is flatter than the truth: its entropy is higher, and it lies away from votes and truth
    assert out["entropy_raters"]["mean"] > out["entropy_truth"]["mean"]
    assert out["jsd_raters_truth"]["mean"] == pytest.approx(out["jsd_votes_raters"]["mean"])
    assert out["jsd_raters_truth"]["mean"] > 0.01
    assert out["entropy_votes"]["mean"] == pytest.approx(out["entropy_truth"]["mean"])
    assert out["n_utterances"] == 20 and out["x_share"] == pytest.approx(0.05)
    # flatter votes than the truth: higher entropy, positive JSD
    flat = _labels(0.5 * p + 0.5 / 9)
    out = _vote_summary(flat, truth, mixture, "Test1", S)
    assert out["jsd_votes_raters"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert (
        out["entropy_votes"]["mean"] > out["entropy_truth"]["mean"] and out["jsd_votes_truth"]["mean"] > 0.01
    )


def test_report_refuses_outputs_it_does_not_write(tmp_path):
    from sertools.study import report

    with pytest.raises(ValueError, match="the outputs must be"):
        report.run(
            {},
            [tmp_path / "x.csv"],
            settings=[],
            variants={},
            baseline="h",
            evaluation={"splits": ["Test1"]},
            resamples=1000,
            root=tmp_path,
        )

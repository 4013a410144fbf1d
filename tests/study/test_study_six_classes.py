"""The study's scores and vote summary on a corpus of CREMA-D's six classes: no Other class, so the
Other columns are absent (not zero) and every vector is 6 wide (sertools.study.scores, .evaluate)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score
from test_evaluate import S as EVALUATE_SETTINGS
from test_scores import S, _data

from sertools.classes import CREMA_D, MSP_PODCAST
from sertools.measures import jsd, kld
from sertools.study import scores
from sertools.study.evaluate import _vote_summary

K = CREMA_D.k


@pytest.fixture
def world():
    rng = np.random.default_rng(0)
    n = 200
    truth = rng.dirichlet(np.full(K, 0.5), size=n)
    mixture = 0.7 * truth + 0.3 * rng.dirichlet(np.ones(K))
    primary = rng.dirichlet(np.full(K, 0.5), size=n)
    hard = truth.argmax(axis=1)
    hard[:20] = -1
    return rng, truth, mixture, primary, hard


def test_six_class_scores_have_no_other_columns(world):
    rng, truth, mixture, primary, hard = world
    base = [
        _data(rng.dirichlet(np.ones(K), size=len(truth)), truth, primary, hard, CREMA_D) for _ in range(2)
    ]
    probs = 0.8 * truth + 0.2 / K
    var = [_data(probs, truth, primary, hard, CREMA_D)]
    doc = scores.score_rows({"b": base, "v": var}, mixture, "b", ["v"], S, 300)
    m = doc["rows"]["v"]["metrics"]
    assert set(m) == set(scores.metrics(CREMA_D)) and "other_mass" not in m
    assert "other_class" not in doc["rows"]["v"]
    assert m["jsd_true"]["mean"] == pytest.approx(jsd(truth, probs).mean())
    assert m["kld_raters"]["mean"] == pytest.approx(kld(mixture, probs).mean())
    ok = hard >= 0
    f1 = f1_score(hard[ok], probs.argmax(1)[ok], labels=list(range(K)), average="macro", zero_division=0)
    assert m["macro_f1"]["mean"] == pytest.approx(f1)
    c = doc["comparisons"]["v"]["jsd_true"]
    assert c["diff"] < 0 and c["p_value"] < 0.05
    assert scores.metrics(MSP_PODCAST) == scores.METRICS and "other_mass" in scores.METRICS


def test_six_class_scores_refuse_nine_wide_mixtures_and_mixed_class_sets(world):
    rng, truth, mixture, primary, hard = world
    d = _data(truth, truth, primary, hard, CREMA_D)
    with pytest.raises(ValueError, match=r"shape \(200, 6\)"):
        scores.score_rows({"a": [d]}, np.ones((len(truth), 9)) / 9, "a", [], S, 10)
    nine = rng.dirichlet(np.ones(9), size=len(truth))
    msp = _data(nine, nine, nine, hard, MSP_PODCAST)
    with pytest.raises(ValueError, match="classes"):
        scores.score_rows({"a": [d], "b": [msp]}, mixture, "a", ["b"], S, 10)


def test_six_class_vote_summary_has_no_other_shares():
    s = EVALUATE_SETTINGS
    p = np.random.default_rng(1).dirichlet(np.ones(K), size=10)
    labels = pd.DataFrame(
        {
            "file_id": [f"u{i}" for i in range(10)],
            "split": "Test1",
            "p_primary": [list(x) for x in p],
            "n_responses": 7,  # the CREMA-D table's name
            "consensus": ["N"] * 9 + ["X"],
        }
    )
    truth = pd.DataFrame({"file_id": labels["file_id"], "p_true": [list(x) for x in p]})
    mixture = pd.DataFrame({"file_id": labels["file_id"], "p_raters": [list(x) for x in p]})
    out = _vote_summary(labels, truth, mixture, "Test1", s, CREMA_D)
    assert not any(k.startswith("other_") for k in out)
    assert out["annotators_mean"] == 7.0 and out["x_share"] == pytest.approx(0.1)
    assert out["jsd_votes_truth"]["mean"] == pytest.approx(0.0, abs=1e-9)

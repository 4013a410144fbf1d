"""Tests for sertools.evaluation.significance: paired bootstrap, Holm, and the stage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from dumps import EVAL_CFG, SEEDS, SPLITS, N
from evalsets import make_data, with_predictions

from sertools.classes import K
from sertools.evaluation import significance, significance_doc
from sertools.evaluation.evaldata import EvaluationError
from sertools.evaluation.significance import holm, paired_bootstrap

# ---------------------------------------------------------------------------- paired bootstrap


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


def test_paired_bootstrap_needs_the_same_utterances() -> None:
    with pytest.raises(ValueError, match="utterances"):
        paired_bootstrap(make_data(50), make_data(40), B=5)


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


# ---------------------------------------------------------------------------------- the stage


def test_perfect_beats_uniform_in_paired_test(corpus: dict) -> None:
    sig = significance.compare(
        corpus["paths"]["perfect"],
        corpus["paths"]["uniform"],
        corpus["labels"],
        EVAL_CFG,
        corpus["truth"],
        variant="perfect",
    )
    assert sig["baseline"] == "uniform"
    B = EVAL_CFG["bootstrap_resamples"]
    for split in SPLITS:
        blocks = sig["splits"][split]
        assert set(blocks) == {"all", *sig["strata"]}
        e = blocks["all"]["metrics"]["jsd_primary"]
        assert e["diff"] < 0 and e["ci_high"] < 0
        assert e["p_value"] == pytest.approx(2 / (B + 1))
        assert e["diff"] == pytest.approx(e["variant"] - e["baseline"])
        assert blocks["all"]["metrics"]["macro_f1"]["diff"] > 0
        assert "jsd_true" in blocks["all"]["metrics"]
        assert sum(blocks[s]["n_utterances"] for s in sig["strata"]) == blocks["all"]["n_utterances"] == N


def test_identical_systems_are_not_different(corpus: dict) -> None:
    sig = significance.compare(
        {"Test1": corpus["paths"]["noisy"]["Test1"]},
        {"Test1": corpus["paths"]["noisy"]["Test1"]},
        corpus["labels"],
        EVAL_CFG,
    )
    for e in sig["splits"]["Test1"]["all"]["metrics"].values():
        assert e["diff"] == pytest.approx(0.0, abs=1e-12)
        assert e["p_value"] == 1.0


def test_bad_inputs(corpus: dict) -> None:
    paths = corpus["paths"]
    with pytest.raises(EvaluationError, match="no predictions for split"):
        significance.compare(paths["noisy"], {"Test1": paths["uniform"]["Test1"]}, corpus["labels"], EVAL_CFG)
    with pytest.raises(EvaluationError, match="need a mapping"):
        significance.compare({}, paths["uniform"], corpus["labels"], EVAL_CFG)


def test_run_writes_the_document(corpus: dict, tmp_path: Path) -> None:
    paths = corpus["paths"]
    inputs = {
        **paths["noisy"],
        **{f"baseline_{s}": p for s, p in paths["uniform"].items()},
        "labels": corpus["labels"],
    }
    out = tmp_path / "sig" / "noisy.json"
    doc = significance.run(
        inputs, {"significance": out}, evaluation=EVAL_CFG, baseline="uniform", seeds=SEEDS, variant="noisy"
    )
    assert significance_doc.read(out) == json.loads(json.dumps(doc))
    assert doc["variant"] == "noisy" and doc["baseline"] == "uniform"
    assert significance_doc.split_names(doc) == list(SPLITS)
    with pytest.raises(EvaluationError, match="seed"):
        significance.run(
            inputs, {"significance": out}, evaluation=EVAL_CFG, baseline="uniform", seeds=[0], variant="noisy"
        )

"""Tests for the metrics stage (sertools.evaluation.metrics) on small synthetic prediction
dumps, and the chain from its documents to tables and figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dumps import EVAL_CFG, SEEDS, SPLITS, N, summary, write_dump

from sertools.classes import CLASSES, OTHER, K
from sertools.evaluation import metrics, metrics_doc, settings, significance
from sertools.evaluation.evaldata import EvaluationError
from sertools.evaluation.strata import entropy_strata
from sertools.measures import jsd
from sertools.report import figures, table_rows, tables

# ------------------------------------------------------------------------------- metrics


def test_perfect_predictions_have_zero_divergence(results: dict) -> None:
    for split in SPLITS:
        m = results["perfect"]["splits"][split]["metrics"]
        assert m["jsd_primary"]["mean"] == pytest.approx(0.0, abs=1e-6)
        assert m["kld_primary"]["mean"] == pytest.approx(0.0, abs=1e-5)
        assert m["jsd_primary_noX"]["mean"] == pytest.approx(0.0, abs=1e-6)
        u = results["uniform"]["splits"][split]["metrics"]
        assert u["jsd_primary"]["mean"] > 0.2
        assert u["jsd_primary"]["sd_seeds"] == pytest.approx(0.0, abs=1e-12)


def test_uniform_jsd_matches_direct_computation(corpus: dict, results: dict) -> None:
    lab = corpus["frame"][corpus["frame"]["split"] == "Test1"]
    p = np.stack(lab["p_primary"].to_numpy())
    expected = jsd(p, np.full_like(p, 1 / K)).mean()
    hard = lab["hard_label"].notna().to_numpy()
    m = results["uniform"]["splits"]["Test1"]["metrics"]
    assert m["jsd_primary"]["mean"] == pytest.approx(expected, rel=1e-6)
    assert m["jsd_primary_noX"]["mean"] == pytest.approx(
        jsd(p[hard], np.full_like(p[hard], 1 / K)).mean(), rel=1e-6
    )
    assert m["jsd_primary"]["n"] == N
    assert m["jsd_primary_noX"]["n"] == hard.sum() < N
    assert m["macro_f1"]["n"] == hard.sum()


def test_truth_metrics_present(results: dict) -> None:
    m = results["perfect"]["splits"]["Test1"]["metrics"]
    assert m["jsd_true"]["mean"] > 0  # the truth is smoothed, the prediction is not
    assert "kld_true_noX" in m
    assert results["perfect"]["has_truth"] is True


def test_seed_summary_and_cis(results: dict) -> None:
    res = results["noisy"]["splits"]["Test1"]
    assert res["n_seeds"] == 2
    for name in ("jsd_primary", "kld_primary", "jsd_merged", "accuracy", "brier_primary"):
        e = res["metrics"][name]
        assert len(e["per_seed"]) == 2
        assert e["mean"] == pytest.approx(np.mean(e["per_seed"]), rel=1e-12)
        assert e["sd_seeds"] == pytest.approx(np.std(e["per_seed"], ddof=1), rel=1e-9)
        assert e["ci_low"] <= e["mean"] <= e["ci_high"]
        assert e["ci_low"] < e["ci_high"]


def test_strata_sizes_sum_to_total(results: dict) -> None:
    for v in results:
        for split in SPLITS:
            res = results[v]["splits"][split]
            sizes = [s["n_utterances"] for s in res["strata"].values()]
            assert sum(s["all"] for s in sizes) == res["n_utterances"]["all"] == N
            assert sum(s["hard"] for s in sizes) == res["n_utterances"]["hard"]
            assert all(s["all"] > 0 for s in sizes)
            assert list(res["strata"]) == results[v]["strata"]


def test_stratum_metrics_use_the_stratum(corpus: dict, results: dict) -> None:
    lab = corpus["frame"][corpus["frame"]["split"] == "Test2"].sort_values("file_id")
    p = np.stack(lab["p_primary"].to_numpy())
    masks = entropy_strata(lab["entropy_primary"].to_numpy(), EVAL_CFG["entropy_bins"])
    res = results["uniform"]["splits"]["Test2"]
    for name, mask in zip(results["uniform"]["strata"], masks, strict=True):
        got = res["strata"][name]["metrics"]["jsd_primary"]["mean"]
        assert got == pytest.approx(jsd(p[mask], np.full((mask.sum(), K), 1 / K)).mean(), rel=1e-6)


def test_other_class_analysis(corpus: dict, results: dict) -> None:
    lab = corpus["frame"][corpus["frame"]["split"] == "Test1"].sort_values("file_id")
    p = np.stack(lab["p_primary"].to_numpy())
    h = lab["entropy_primary"].to_numpy()
    oc = results["other_router"]["splits"]["Test1"]["other_class"]
    names = results["other_router"]["strata"]
    high = h >= 2 / 3
    assert high.any() and (~high).any()
    assert oc[names[-1]]["other_pred_share"]["mean"] == pytest.approx(1.0)
    assert oc[names[0]]["other_pred_share"]["mean"] == pytest.approx(0.0)
    assert oc["all"]["other_pred_share"]["mean"] == pytest.approx(high.mean())
    assert oc[names[-1]]["other_mass"]["mean"] == pytest.approx(1 - 0.02 * (K - 1), rel=1e-6)
    assert oc[names[-1]]["human_other_share"]["mean"] == pytest.approx(p[high, OTHER].mean())
    assert oc["all"]["human_other_share"]["mean"] == pytest.approx(p[:, OTHER].mean())
    assert oc[names[-1]]["n_utterances"] == high.sum()
    # the humans' share does not depend on the model
    assert results["perfect"]["splits"]["Test1"]["other_class"]["all"]["human_other_share"][
        "mean"
    ] == pytest.approx(p[:, OTHER].mean())


def test_confusion_reliability_examples(corpus: dict, results: dict) -> None:
    res = results["noisy"]["splits"]["Test1"]
    cm = np.array(res["confusion_matrix"]["summed"])
    per_seed = np.array(res["confusion_matrix"]["per_seed"])
    assert cm.shape == (K, K)
    np.testing.assert_array_equal(cm, per_seed.sum(axis=0))
    assert cm.sum() == 2 * res["n_utterances"]["hard"]
    rd = res["reliability_diagram"]
    assert len(rd["count"]) == EVAL_CFG["ece_bins"] and len(rd["edges"]) == EVAL_CFG["ece_bins"] + 1
    assert sum(rd["count"]) == 2 * res["n_utterances"]["hard"]
    for c, a in zip(rd["count"], rd["accuracy"], strict=True):
        assert (a is None) == (c == 0)
    ex = res["examples"]
    assert [e["stratum"] for e in ex] == results["noisy"]["strata"]
    lab = corpus["frame"].set_index("file_id")
    for e in ex:
        assert lab.loc[e["file_id"], "split"] == "Test1"
        np.testing.assert_allclose(e["p_primary"], lab.loc[e["file_id"], "p_primary"])
        assert sum(e["probs"]) == pytest.approx(1.0, abs=1e-5)
        assert "p_true" in e
    # deterministic choice: the same utterances for every variant
    assert [e["file_id"] for e in ex] == [
        e["file_id"] for e in results["uniform"]["splits"]["Test1"]["examples"]
    ]


def test_documents_pass_strict_validation(results: dict) -> None:
    for doc in results.values():
        metrics_doc.validate(doc, strict=True)


def test_run_writes_strict_json_atomically(corpus: dict, results: dict, tmp_path: Path) -> None:
    json.dumps(results["uniform"], allow_nan=False)  # NaN became null
    out = tmp_path / "m" / "uniform.json"
    inputs = {"Test1": corpus["paths"]["uniform"]["Test1"], "labels": corpus["labels"]}
    cfg = {**EVAL_CFG, "splits": ["Test1"]}
    res = metrics.run(inputs, {"metrics": out}, evaluation=cfg, seeds=SEEDS, variant="uniform")
    assert metrics_doc.read(out) == json.loads(json.dumps(res))
    assert list(res["splits"]) == ["Test1"]
    assert res["has_truth"] is False
    assert "jsd_true" not in res["splits"]["Test1"]["metrics"]
    assert [p.name for p in tmp_path.joinpath("m").iterdir()] == ["uniform.json"]


def test_bootstrap_is_reproducible(corpus: dict, results: dict) -> None:
    again = metrics.variant_metrics(
        corpus["paths"]["noisy"], corpus["labels"], EVAL_CFG, corpus["truth"], variant="noisy"
    )
    assert json.dumps(again, sort_keys=True) == json.dumps(results["noisy"], sort_keys=True)


def test_config_keys_cover_what_the_stages_read() -> None:
    boot = (
        "bootstrap_resamples",
        "bootstrap_seed",
        "ci_level",
        "entropy_bins",
        "prob_floor",
        "ece_bins",
        "ci_method",
    )
    schemes = ("common_hard_labels", "strata_distribution", "paper_reference")
    assert ("splits", *boot, *schemes, "ccc_targets") == metrics.CONFIG_KEYS
    # significance: the common scheme and strata, not the paper reference; CCC always against the ratings
    assert metrics.CONFIG_KEYS[:-2] == significance.CONFIG_KEYS
    # the stages receive the validated section: every key they read is there
    assert set(metrics.CONFIG_KEYS) <= set(EVAL_CFG)


# ----------------------------------------------------------------------------------- errors


def test_bad_inputs_raise_clear_errors(corpus: dict, tmp_path: Path) -> None:
    paths = corpus["paths"]
    with pytest.raises(EvaluationError, match="lacks key"):
        metrics.variant_metrics(paths["noisy"], corpus["labels"], {"ci_level": 0.9})
    # a seed that predicts fewer utterances
    lab = corpus["frame"]
    short = tmp_path / "short.parquet"
    sub = lab[(lab["split"] == "Test1")].iloc[:10]
    write_dump(short, sub, "Test1", np.full((10, K), 1 / K), 0.1, 0)
    with pytest.raises(EvaluationError, match="same utterances"):
        metrics.variant_metrics({"Test1": [paths["noisy"]["Test1"][0], short]}, corpus["labels"], EVAL_CFG)
    # a dump of the wrong split
    with pytest.raises(EvaluationError, match="expected split 'Test1'"):
        metrics.variant_metrics({"Test1": paths["noisy"]["Test2"]}, corpus["labels"], EVAL_CFG)
    with pytest.raises(EvaluationError, match="not found"):
        metrics.variant_metrics({"Test1": [tmp_path / "missing.parquet"]}, corpus["labels"], EVAL_CFG)
    with pytest.raises(EvaluationError, match="need a mapping"):
        metrics.variant_metrics({}, corpus["labels"], EVAL_CFG)
    with pytest.raises(EvaluationError, match="seed"):
        metrics.run(
            {**paths["noisy"], "labels": corpus["labels"]},
            {"metrics": tmp_path / "x.json"},
            evaluation=EVAL_CFG,
            seeds=[0, 1, 2],
            variant="noisy",
        )


# ------------------------------------------------------------------------- stage chain


def test_chain_to_tables_and_figures(corpus: dict, results: dict, tmp_path: Path) -> None:
    """Real metrics documents feed build_tables and build_figures (structure agreement)."""
    sig = {
        v: significance.compare(
            corpus["paths"][v], corpus["paths"]["uniform"], corpus["labels"], EVAL_CFG, variant=v
        )
        for v in ("perfect", "noisy")
    }
    docs = {v: results[v] for v in ("perfect", "uniform", "noisy")}
    written = tables.build_tables(docs, sig, summary(), EVAL_CFG, tmp_path / "tables")
    assert sorted(written) == sorted(tables.table_files(tmp_path / "tables"))
    main = pd.read_csv(tmp_path / "tables" / "main.csv")
    assert list(main.columns) == list(table_rows.MAIN_COLUMNS)
    jsd_rows = main[(main["metric"] == "jsd_primary") & (main["split"] == "Test1")].set_index("variant")
    assert jsd_rows.loc["perfect", "mean"] == pytest.approx(0.0, abs=1e-6)
    assert list(jsd_rows.index) == ["uniform", "noisy", "perfect"]  # baseline first
    # the captions name the documents' interval (the default: EVAL_CFG leaves ci_method out)
    cfg = {**EVAL_CFG, "ci_method": settings.recorded_ci_method(docs["perfect"])}
    md = tables.readme_table(tmp_path / "tables" / "main.csv", cfg, tmp_path / "tables" / "significance.csv")
    assert md == (tmp_path / "tables" / "main.md").read_text()
    assert "| perfect |" in md and "B = 50" in md
    assert "95% recentred percentile-bootstrap CI of the seed-averaged metric" in md
    figs = figures.build_figures(docs, summary(), EVAL_CFG, tmp_path / "fig")
    stems = figures.figure_stems(list(docs), with_training=False)
    assert sorted(p.name for p in figs) == sorted(f"{s}.{e}" for s in stems for e in ("png", "pdf"))
    assert all(p.stat().st_size > 1000 for p in figs)
    assert CLASSES[0] == "Angry"  # class order assumed by the fixtures


def test_ccc_model_scale_clips_the_targets_of_a_neg1_1_row(corpus: dict) -> None:
    labels = metrics.read_labels(corpus["labels"])
    labels.loc[labels.index[:2], "arousal"] = [1.0, 6.5]
    clipped = metrics.ccc_reference(labels, "model_scale", "neg1_1")
    assert clipped["arousal"].iloc[:2].tolist() == [2.0, 6.0]
    assert clipped["valence"].between(2.0, 6.0).all()
    for same in (
        metrics.ccc_reference(labels, "ratings", "neg1_1"),
        metrics.ccc_reference(labels, "model_scale", "1_7"),
    ):
        np.testing.assert_allclose(same["arousal"].to_numpy(), labels["arousal"].to_numpy())
    with pytest.raises(metrics.EvaluationError, match="ccc_targets"):
        metrics.ccc_reference(labels, "scaled", "neg1_1")
    base = {**EVAL_CFG, "splits": ["Test1"], "bootstrap_resamples": 20}
    paths = {"Test1": corpus["paths"]["noisy"]["Test1"]}
    docs = {
        mode: metrics.variant_metrics(
            paths,
            corpus["labels"],
            {**base, "ccc_targets": mode},
            variant_cfg={"targets": "primary", "dim_scale": "neg1_1"},
        )
        for mode in ("ratings", "model_scale")
    }
    assert docs["model_scale"]["schemes"]["ccc_targets"] == "model_scale"
    ccc = {m: d["splits"]["Test1"]["metrics"]["ccc_mean"]["mean"] for m, d in docs.items()}
    assert ccc["ratings"] != ccc["model_scale"]

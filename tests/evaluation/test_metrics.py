"""Tests for sertools.evaluate on small synthetic prediction dumps (and the stage chain to tables/plots)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sertools.classes import CLASSES, CODES, NO_AGREEMENT, OTHER, K
from sertools.evaluation import metrics as evaluate
from sertools.evaluation.scores import entropy_strata, jsd
from sertools.labels.distributions import normalised_entropy
from sertools.report import figures as plots
from sertools.report import tables

N = 60
SPLITS = ("Test1", "Test2")
EVAL_CFG = {
    "splits": list(SPLITS),
    "baseline_variant": "uniform",
    "bootstrap_resamples": 50,
    "bootstrap_seed": 3,
    "ci_level": 0.95,
    "entropy_bins": [0.0, 1 / 3, 2 / 3, 1.0],
    "prob_floor": 1e-12,
    "ece_bins": 10,
}

PRED_SCHEMA = pa.schema(
    [
        ("file_id", pa.string()),
        ("split", pa.string()),
        ("probs", pa.list_(pa.float32())),
        ("pred", pa.int64()),
        ("arousal", pa.float32()),
        ("valence", pa.float32()),
        ("dominance", pa.float32()),
    ]
)


def _votes(rng: np.random.Generator, n: int) -> np.ndarray:
    """6 votes per utterance: a third unanimous, a third two-way, a third spread (all strata filled)."""
    votes = np.zeros((n, K), dtype=np.int64)
    for i in range(n):
        kind = i % 3
        if kind == 0:
            votes[i, rng.integers(K)] = 6
        elif kind == 1:
            a, b = rng.choice(K, 2, replace=False)
            votes[i, a], votes[i, b] = 4, 2
        else:
            votes[i] = rng.multinomial(6, np.full(K, 1 / K))
    return votes


def make_labels(root: Path, seed: int = 0) -> tuple[Path, Path, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    frames = []
    for split in SPLITS:
        votes = _votes(rng, N)
        p = votes / votes.sum(axis=1, keepdims=True)
        top = votes.max(axis=1)
        unique = (votes == top[:, None]).sum(axis=1) == 1
        hard = pd.array(np.where(unique, votes.argmax(axis=1), -1), dtype="Int64")
        hard[~unique] = pd.NA
        merged = 0.8 * p + 0.2 / K
        frames.append(
            pd.DataFrame(
                {
                    "file_id": [f"{split}_{i:03d}.wav" for i in range(N)],
                    "split": split,
                    "consensus": [
                        CODES[h] if u else NO_AGREEMENT for h, u in zip(votes.argmax(1), unique, strict=True)
                    ],
                    "hard_label": hard,
                    "entropy_primary": normalised_entropy(p),
                    "arousal": rng.uniform(1, 7, N),
                    "valence": rng.uniform(1, 7, N),
                    "dominance": rng.uniform(1, 7, N),
                    "p_primary": list(p),
                    "p_merged": list(merged),
                }
            )
        )
    labels = pd.concat(frames, ignore_index=True)
    lab_path = root / "labels.parquet"
    labels.to_parquet(lab_path, index=False)
    p_all = np.stack(labels["p_primary"].to_numpy())
    truth = pd.DataFrame({"file_id": labels["file_id"], "p_true": list(0.9 * p_all + 0.1 / K)})
    truth_path = root / "latent_truth.parquet"
    truth.to_parquet(truth_path, index=False)
    return lab_path, truth_path, labels


def write_dump(
    path: Path, labels: pd.DataFrame, split: str, probs: np.ndarray, dims_noise: float, seed: int
) -> None:
    lab = labels[labels["split"] == split]
    rng = np.random.default_rng(seed)
    dims = lab[["arousal", "valence", "dominance"]].to_numpy() + rng.normal(0, dims_noise, (len(lab), 3))
    table = pa.table(
        {
            "file_id": lab["file_id"].tolist(),
            "split": [split] * len(lab),
            "probs": pa.array(list(probs.astype(np.float32)), pa.list_(pa.float32())),
            "pred": probs.argmax(axis=1).astype(np.int64),
            "arousal": dims[:, 0].astype(np.float32),
            "valence": dims[:, 1].astype(np.float32),
            "dominance": dims[:, 2].astype(np.float32),
        },
        schema=PRED_SCHEMA,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def variant_probs(name: str, p: np.ndarray, entropy: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(p)
    if name == "perfect":
        return p
    if name == "uniform":
        return np.full((n, K), 1 / K)
    if name == "noisy":
        q = 0.6 * p + 0.4 * rng.dirichlet(np.ones(K), n)
        return q / q.sum(axis=1, keepdims=True)
    if name == "other_router":  # argmax Other exactly on the high-entropy stratum
        q = np.full((n, K), 0.02)
        q[np.arange(n), np.where(entropy >= 2 / 3, OTHER, 0)] = 1 - 0.02 * (K - 1)
        return q
    raise ValueError(name)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("eval")
    lab_path, truth_path, labels = make_labels(root)
    paths: dict[str, dict[str, list[Path]]] = {}
    for v in ("perfect", "uniform", "noisy", "other_router"):
        paths[v] = {}
        for split in SPLITS:
            lab = labels[labels["split"] == split].sort_values("file_id")
            p = np.stack(lab["p_primary"].to_numpy())
            paths[v][split] = []
            for seed in (0, 1):
                out = root / v / f"seed{seed}" / f"{split}.parquet"
                probs = variant_probs(
                    v, p, lab["entropy_primary"].to_numpy(), seed + 10 * SPLITS.index(split)
                )
                write_dump(out, labels, split, probs, 0.5, seed)
                paths[v][split].append(out)
    return {"root": root, "labels": lab_path, "truth": truth_path, "frame": labels, "paths": paths}


@pytest.fixture(scope="module")
def results(corpus: dict) -> dict[str, dict]:
    return {
        v: evaluate.variant_metrics(
            corpus["paths"][v], corpus["labels"], EVAL_CFG, corpus["truth"], variant=v
        )
        for v in ("perfect", "uniform", "noisy", "other_router")
    }


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


def test_json_is_strict_and_written_atomically(corpus: dict, results: dict, tmp_path: Path) -> None:
    json.dumps(results["uniform"], allow_nan=False)  # NaN became null
    out = tmp_path / "m" / "uniform.json"
    res = evaluate.run_variant_metrics(
        {"Test1": corpus["paths"]["uniform"]["Test1"]}, corpus["labels"], EVAL_CFG, out, variant="uniform"
    )
    assert json.loads(out.read_text()) == json.loads(json.dumps(res))
    assert list(res["splits"]) == ["Test1"]
    assert res["has_truth"] is False
    assert "jsd_true" not in res["splits"]["Test1"]["metrics"]
    assert [p.name for p in tmp_path.joinpath("m").iterdir()] == ["uniform.json"]


def test_bootstrap_is_reproducible(corpus: dict, results: dict) -> None:
    again = evaluate.variant_metrics(
        corpus["paths"]["noisy"], corpus["labels"], EVAL_CFG, corpus["truth"], variant="noisy"
    )
    assert json.dumps(again, sort_keys=True) == json.dumps(results["noisy"], sort_keys=True)


# --------------------------------------------------------------------------- significance


def test_perfect_beats_uniform_in_paired_test(corpus: dict) -> None:
    sig = evaluate.significance(
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
    sig = evaluate.significance(
        {"Test1": corpus["paths"]["noisy"]["Test1"]},
        {"Test1": corpus["paths"]["noisy"]["Test1"]},
        corpus["labels"],
        EVAL_CFG,
    )
    for e in sig["splits"]["Test1"]["all"]["metrics"].values():
        assert e["diff"] == pytest.approx(0.0, abs=1e-12)
        assert e["p_value"] == 1.0


# ----------------------------------------------------------------------------------- errors


def test_bad_inputs_raise_clear_errors(corpus: dict, tmp_path: Path) -> None:
    paths = corpus["paths"]
    with pytest.raises(evaluate.EvaluationError, match="lacks key"):
        evaluate.variant_metrics(paths["noisy"], corpus["labels"], {"ci_level": 0.9})
    # a seed that predicts fewer utterances
    lab = corpus["frame"]
    short = tmp_path / "short.parquet"
    sub = lab[(lab["split"] == "Test1")].iloc[:10]
    write_dump(short, sub, "Test1", np.full((10, K), 1 / K), 0.1, 0)
    with pytest.raises(evaluate.EvaluationError, match="same utterances"):
        evaluate.variant_metrics({"Test1": [paths["noisy"]["Test1"][0], short]}, corpus["labels"], EVAL_CFG)
    # a dump of the wrong split
    with pytest.raises(evaluate.EvaluationError, match="expected split 'Test1'"):
        evaluate.variant_metrics({"Test1": paths["noisy"]["Test2"]}, corpus["labels"], EVAL_CFG)
    with pytest.raises(evaluate.EvaluationError, match="not found"):
        evaluate.variant_metrics({"Test1": [tmp_path / "missing.parquet"]}, corpus["labels"], EVAL_CFG)
    with pytest.raises(evaluate.EvaluationError, match="no predictions for split"):
        evaluate.significance(
            paths["noisy"], {"Test1": paths["uniform"]["Test1"]}, corpus["labels"], EVAL_CFG
        )


# ------------------------------------------------------------------------- stage chain


def test_chain_to_tables_and_figures(corpus: dict, results: dict, tmp_path: Path) -> None:
    """Real evaluate output feeds build_tables and build_figures (structure agreement)."""
    sig = {
        v: evaluate.significance(
            corpus["paths"][v], corpus["paths"]["uniform"], corpus["labels"], EVAL_CFG, variant=v
        )
        for v in ("perfect", "noisy")
    }
    metrics = {v: results[v] for v in ("perfect", "uniform", "noisy")}
    counts = {c: 1 for c in [*CODES, NO_AGREEMENT]}
    summary = {
        "class_distribution": {s: {"utterances": N, "consensus": counts} for s in SPLITS},
        "entropy_histogram": {
            "edges": [0.0, 0.5, 1.0],
            **{s: {"primary": [30, 30], "merged": [20, 40]} for s in SPLITS},
        },
        "reliability": {
            "fleiss_kappa_primary": {"Test1": 0.2},
            "krippendorff_alpha_interval": {"arousal": 0.4},
        },
    }
    written = tables.build_tables(metrics, sig, summary, EVAL_CFG, tmp_path / "tables")
    assert sorted(written) == sorted(tables.table_files(tmp_path / "tables"))
    main = pd.read_csv(tmp_path / "tables" / "main.csv")
    assert list(main.columns) == list(tables.MAIN_COLUMNS)
    jsd_rows = main[(main["metric"] == "jsd_primary") & (main["split"] == "Test1")].set_index("variant")
    assert jsd_rows.loc["perfect", "mean"] == pytest.approx(0.0, abs=1e-6)
    assert list(jsd_rows.index) == ["uniform", "noisy", "perfect"]  # baseline first
    md = tables.readme_table(
        tmp_path / "tables" / "main.csv", EVAL_CFG, tmp_path / "tables" / "significance.csv"
    )
    assert md == (tmp_path / "tables" / "main.md").read_text()
    assert "| perfect |" in md and "B = 50" in md
    figs = plots.build_figures(metrics, summary, EVAL_CFG, tmp_path / "fig")
    stems = plots.figure_stems(list(metrics), with_training=False)
    assert sorted(p.name for p in figs) == sorted(f"{s}.{e}" for s in stems for e in ("png", "pdf"))
    assert all(p.stat().st_size > 1000 for p in figs)
    assert CLASSES[0] == "Angry"  # class order assumed by the fixtures

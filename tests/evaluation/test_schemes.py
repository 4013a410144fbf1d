"""The two hard-label schemes, the common and own-target entropy strata and the release's
metrics in the metrics stage (sertools.evaluation.schemes, sertools.evaluation.metrics)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dumps import EVAL_CFG, SPLITS, N

from sertools.classes import OTHER, K
from sertools.evaluation import metrics, metrics_doc, schemes, significance
from sertools.evaluation.evaldata import EvaluationError
from sertools.evaluation.strata import entropy_strata
from sertools.measures import (
    confusion_matrix,
    jsd_paper,
    kld_paper,
    macro_f1_published,
    normalised_entropy,
    uar,
)

GUARDED_MH = {"targets": "release_MH", "loss": "kl", "hard_labels": "guarded_argmax"}
X_OTHER = {"targets": "consensus", "loss": "ce", "hard_labels": "consensus_x_other"}
PRIMARY = {"targets": "primary", "loss": "kl"}


@pytest.fixture(scope="module")
def docs(corpus: dict) -> dict[str, dict]:
    run = {"guarded": GUARDED_MH, "x_other": X_OTHER, "primary": PRIMARY}
    return {
        name: metrics.variant_metrics(
            corpus["paths"]["noisy"],
            corpus["labels"],
            EVAL_CFG,
            corpus["truth"],
            variant="noisy",
            variant_cfg=cfg,
        )
        for name, cfg in run.items()
    }


def _seed_preds(corpus: dict, variant: str, split: str) -> list[pd.DataFrame]:
    return [pd.read_parquet(p).sort_values("file_id") for p in corpus["paths"][variant][split]]


def _labels(corpus: dict, split: str) -> pd.DataFrame:
    return corpus["frame"][corpus["frame"]["split"] == split].sort_values("file_id").reset_index(drop=True)


def _stack(col: pd.Series) -> np.ndarray:
    return np.stack(col.to_numpy())


# --------------------------------------------------------------------------- the scheme names


def test_scheme_names_and_columns() -> None:
    assert schemes.hard_column("consensus") == "hard_label"
    assert schemes.hard_column("consensus_x_other") == "hard_consensus_x_other"
    assert schemes.hard_column("guarded_argmax:release_MH") == "hard_guarded_release_MH"
    assert schemes.own_scheme(GUARDED_MH) == "guarded_argmax:release_MH"
    assert (
        schemes.own_scheme({"targets": "merged", "hard_labels": "guarded_argmax"}) == "guarded_argmax:merged"
    )
    assert schemes.own_scheme(X_OTHER) == "consensus_x_other"
    assert schemes.own_scheme(PRIMARY) == schemes.own_scheme(None) == "consensus"
    assert schemes.own_distribution(GUARDED_MH) == "release_MH"
    assert schemes.own_distribution(X_OTHER) is None and schemes.own_distribution(None) is None
    assert schemes.distribution_column("release_ML") == "p_release_ML"
    assert schemes.resolve({}) == {
        "common_hard_labels": "consensus",
        "strata_distribution": "primary",
        "paper_reference": "release_MH",
    }
    with pytest.raises(EvaluationError, match="needs distributional targets"):
        schemes.own_scheme({"targets": "consensus", "hard_labels": "guarded_argmax"})
    with pytest.raises(EvaluationError, match="common_hard_labels"):
        schemes.resolve({"common_hard_labels": "guarded_argmax"})
    with pytest.raises(EvaluationError, match="strata_distribution"):
        schemes.resolve({"strata_distribution": "consensus"})


# ------------------------------------------------------------------------ two hard-label schemes


def test_own_scheme_differs_on_hard_metrics_only(corpus: dict, results: dict, docs: dict) -> None:
    """A variant whose own scheme differs from the common one: different hard-label metrics
    under ``own``, the same common block (distribution metrics included) as without a config."""
    doc = docs["guarded"]
    assert doc["schemes"] == {
        "common_hard_labels": "consensus",
        "strata_distribution": "primary",
        "paper_reference": "release_MH",
        "own_hard_labels": "guarded_argmax:release_MH",
        "own_distribution": "release_MH",
        "ccc_targets": "ratings",
        "dim_scale": "1_7",
    }
    for split in SPLITS:
        common = doc["splits"][split]["metrics"]
        assert json.dumps(common, sort_keys=True) == json.dumps(
            results["noisy"]["splits"][split]["metrics"], sort_keys=True
        )
        own = doc["splits"][split]["own"]
        assert (
            own["scheme"] == "guarded_argmax:release_MH" and own["hard_column"] == "hard_guarded_release_MH"
        )
        assert set(own["metrics"]) == set(metrics.OWN_METRICS)
        assert not any(k.startswith(("jsd", "kld", "ccc")) for k in own["metrics"])
        # the guarded argmax labels every utterance, the consensus leaves X out
        assert own["n_utterances"]["hard"] == N > doc["splits"][split]["n_utterances"]["hard"]
        assert own["metrics"]["accuracy"]["n"] == N
        assert own["metrics"]["accuracy"]["mean"] != pytest.approx(common["accuracy"]["mean"])
        # by hand, per seed, against the label table's column
        lab = _labels(corpus, split)
        hard = lab["hard_guarded_release_MH"].to_numpy()
        cms = [confusion_matrix(hard, p["pred"].to_numpy()) for p in _seed_preds(corpus, "noisy", split)]
        expect = {
            "accuracy": np.mean([np.trace(c) / c.sum() for c in cms]),
            "uar": np.mean([uar(c) for c in cms]),
            "macro_f1_published": np.mean([macro_f1_published(c) for c in cms]),
        }
        for name, value in expect.items():
            assert own["metrics"][name]["mean"] == pytest.approx(value, rel=1e-12), name
        np.testing.assert_array_equal(own["confusion_matrix"]["summed"], np.sum(cms, axis=0))


def test_consensus_x_other_scores_x_as_other(corpus: dict, docs: dict) -> None:
    doc = docs["x_other"]
    assert doc["schemes"]["own_hard_labels"] == "consensus_x_other"
    assert doc["schemes"]["own_distribution"] is None
    lab = _labels(corpus, "Test1")
    x = lab["hard_label"].isna().to_numpy()
    assert x.any() and np.all(lab["hard_consensus_x_other"].to_numpy()[x] == OTHER)
    own = doc["splits"]["Test1"]["own"]
    assert own["n_utterances"]["hard"] == N
    support = np.array(own["confusion_matrix"]["summed"]).sum(axis=1) // 2  # two seeds
    assert support[OTHER] == (lab["hard_consensus_x_other"] == OTHER).sum()
    # hard targets: no own-target strata
    assert doc["splits"]["Test1"]["strata_own"] is None


def test_same_scheme_reuses_the_common_results(docs: dict) -> None:
    doc = docs["primary"]
    res = doc["splits"]["Test1"]
    assert res["own"]["scheme"] == "consensus"
    for k, e in res["own"]["metrics"].items():
        assert e == res["metrics"][k]
    assert res["strata_own"]["distribution"] == "primary"
    assert json.dumps(res["strata_own"]["strata"], sort_keys=True) == json.dumps(
        res["strata"], sort_keys=True
    )


def test_release_divergences_against_the_paper_reference(corpus: dict, results: dict) -> None:
    for split in SPLITS:
        lab = _labels(corpus, split)
        ref = _stack(lab["p_release_MH"])
        assert np.any(ref.sum(axis=1) > 0)
        per_seed = [_stack(p["probs"]).astype(np.float64) for p in _seed_preds(corpus, "noisy", split)]
        per_seed = [p / p.sum(axis=1, keepdims=True) for p in per_seed]
        m = results["noisy"]["splits"][split]["metrics"]
        assert m["jsd_paper"]["mean"] == pytest.approx(np.mean([jsd_paper(p, ref).mean() for p in per_seed]))
        assert m["kld_paper"]["mean"] == pytest.approx(np.mean([kld_paper(ref, p).mean() for p in per_seed]))
        assert m["jsd_paper"]["n"] == m["kld_paper"]["n"] == N
        ccc = [m[f"ccc_{d}"]["mean"] for d in ("arousal", "valence", "dominance")]
        assert m["ccc_mean"]["mean"] == pytest.approx(np.mean(ccc))
        assert m["ccc_mean"]["ci_low"] <= m["ccc_mean"]["mean"] <= m["ccc_mean"]["ci_high"]
    # another reference: other values
    other = metrics.variant_metrics(
        {"Test1": corpus["paths"]["noisy"]["Test1"]},
        corpus["labels"],
        {**EVAL_CFG, "paper_reference": "primary"},
    )
    m = other["splits"]["Test1"]["metrics"]
    assert m["jsd_paper"]["mean"] != pytest.approx(
        results["noisy"]["splits"]["Test1"]["metrics"]["jsd_paper"]["mean"]
    )
    assert other["schemes"]["paper_reference"] == "primary"


# ------------------------------------------------------------------------------ entropy strata


def test_own_target_strata_use_the_own_distribution(corpus: dict, docs: dict) -> None:
    doc = docs["guarded"]
    for split in SPLITS:
        st = doc["splits"][split]["strata_own"]
        assert st["distribution"] == "release_MH" and st["scheme"] == "guarded_argmax:release_MH"
        lab = _labels(corpus, split)
        h = normalised_entropy(_stack(lab["p_release_MH"]))
        masks = entropy_strata(h, EVAL_CFG["entropy_bins"])
        names = doc["strata"]
        assert list(st["strata"]) == names
        sizes = [st["strata"][n]["n_utterances"]["all"] for n in names]
        assert sizes == [int(m.sum()) for m in masks] and sum(sizes) == N
        # the common strata stay on the primary votes
        common = [doc["splits"][split]["strata"][n]["n_utterances"]["all"] for n in names]
        primary = entropy_strata(lab["entropy_primary"].to_numpy(), EVAL_CFG["entropy_bins"])
        assert common == [int(m.sum()) for m in primary]
        for n, mask in zip(names, masks, strict=True):
            if not mask.any():
                assert st["strata"][n]["metrics"] == {}
                continue
            e = st["strata"][n]["metrics"]["accuracy"]
            assert e["n"] == mask.sum()  # the guarded argmax labels every utterance
            hard = lab["hard_guarded_release_MH"].to_numpy()[mask]
            accs = [np.mean(p["pred"].to_numpy()[mask] == hard) for p in _seed_preds(corpus, "noisy", split)]
            assert e["mean"] == pytest.approx(np.mean(accs))
    metrics_doc.validate(doc, strict=True)
    assert metrics_doc.own_distribution(doc, "Test1") == "release_MH"
    assert sum(metrics_doc.own_stratum_size(doc, "Test1", n) for n in doc["strata"]) == N


def test_common_strata_on_another_distribution(corpus: dict, results: dict) -> None:
    cfg = {**EVAL_CFG, "strata_distribution": "release_ML"}
    doc = metrics.variant_metrics(corpus["paths"]["noisy"], corpus["labels"], cfg, variant="noisy")
    lab = _labels(corpus, "Test2")
    h = normalised_entropy(_stack(lab["p_release_ML"]))
    masks = entropy_strata(h, EVAL_CFG["entropy_bins"])
    res = doc["splits"]["Test2"]
    sizes = [res["strata"][n]["n_utterances"]["all"] for n in doc["strata"]]
    assert sizes == [int(m.sum()) for m in masks]
    assert sizes != [
        results["noisy"]["splits"]["Test2"]["strata"][n]["n_utterances"]["all"] for n in doc["strata"]
    ]
    # the whole-split block does not depend on the strata
    base = results["noisy"]["splits"]["Test2"]["metrics"]
    for k, e in res["metrics"].items():
        assert e["mean"] == base[k]["mean"], k
    for ex in res["examples"]:
        i = lab.index[lab["file_id"] == ex["file_id"]][0]
        assert ex["entropy_strata"] == pytest.approx(h[i])
        assert ex["entropy_primary"] == pytest.approx(lab.loc[i, "entropy_primary"])
    # the significance stage stratifies the same way and records it
    sig = significance.compare(
        {"Test2": corpus["paths"]["noisy"]["Test2"]},
        {"Test2": corpus["paths"]["uniform"]["Test2"]},
        corpus["labels"],
        cfg,
    )
    assert [sig["splits"]["Test2"][n]["n_utterances"] for n in doc["strata"]] == sizes
    assert sig["schemes"] == {"common_hard_labels": "consensus", "strata_distribution": "release_ML"}


def test_common_scheme_applies_to_the_main_block_and_significance(corpus: dict, results: dict) -> None:
    cfg = {**EVAL_CFG, "common_hard_labels": "guarded_argmax:primary"}
    paths = {"Test1": corpus["paths"]["noisy"]["Test1"]}
    doc = metrics.variant_metrics(paths, corpus["labels"], cfg, variant="noisy", variant_cfg=X_OTHER)
    res = doc["splits"]["Test1"]
    assert doc["schemes"]["common_hard_labels"] == "guarded_argmax:primary"
    assert res["n_utterances"]["hard"] == N and res["metrics"]["accuracy"]["n"] == N
    lab = _labels(corpus, "Test1")
    hard = lab["hard_guarded_primary"].to_numpy()
    accs = [np.mean(p["pred"].to_numpy() == hard) for p in _seed_preds(corpus, "noisy", "Test1")]
    assert res["metrics"]["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert res["own"]["scheme"] == "consensus_x_other"
    # the examples still show the consensus, not the common scheme's labels
    by_id = lab.set_index("file_id")["consensus"]
    assert [e["consensus"] for e in res["examples"]] == [by_id[e["file_id"]] for e in res["examples"]]
    # distribution metrics do not depend on the scheme
    base = results["noisy"]["splits"]["Test1"]["metrics"]
    assert res["metrics"]["jsd_primary"]["mean"] == base["jsd_primary"]["mean"]
    sig = significance.compare(paths, {"Test1": corpus["paths"]["uniform"]["Test1"]}, corpus["labels"], cfg)
    assert sig["schemes"]["common_hard_labels"] == "guarded_argmax:primary"
    assert sig["splits"]["Test1"]["all"]["metrics"]["accuracy"]["variant"] == pytest.approx(np.mean(accs))
    # the default scheme is not written into the significance document (unchanged bytes)
    plain = significance.compare(
        paths, {"Test1": corpus["paths"]["uniform"]["Test1"]}, corpus["labels"], EVAL_CFG
    )
    assert "schemes" not in plain


# ------------------------------------------------------------------------------------ errors


def test_missing_label_columns_are_named(corpus: dict, tmp_path: Path) -> None:
    lab = corpus["frame"]
    old = tmp_path / "labels.parquet"
    lab.drop(columns=["p_release_MH", "hard_guarded_release_MH"]).to_parquet(old, index=False)
    paths = {"Test1": corpus["paths"]["noisy"]["Test1"]}
    with pytest.raises(EvaluationError, match=r"p_release_MH.*paper_reference"):
        metrics.variant_metrics(paths, old, EVAL_CFG)
    cfg = {**EVAL_CFG, "paper_reference": "primary"}
    with pytest.raises(EvaluationError, match=r"hard_guarded_release_MH.*hard_labels"):
        metrics.variant_metrics(paths, old, cfg, variant_cfg=GUARDED_MH)
    with pytest.raises(EvaluationError, match=r"hard_guarded_release_MH.*common_hard_labels"):
        metrics.variant_metrics(paths, old, {**cfg, "common_hard_labels": "guarded_argmax:release_MH"})
    with pytest.raises(EvaluationError, match="p_release_XY"):
        metrics.variant_metrics(paths, old, {**cfg, "strata_distribution": "release_XY"})
    with pytest.raises(EvaluationError, match="needs distributional targets"):
        metrics.variant_metrics(
            paths, corpus["labels"], EVAL_CFG, variant_cfg={"hard_labels": "guarded_argmax"}
        )


def test_run_passes_the_variant_config(corpus: dict, tmp_path: Path) -> None:
    out = tmp_path / "guarded.json"
    inputs = {"Test1": corpus["paths"]["noisy"]["Test1"], "labels": corpus["labels"]}
    doc = metrics.run(
        inputs,
        {"metrics": out},
        evaluation={**EVAL_CFG, "splits": ["Test1"]},
        seeds=[0, 1],
        variant="noisy",
        variant_cfg=GUARDED_MH,
    )
    back = metrics_doc.read(out)
    assert back == json.loads(json.dumps(doc))
    assert metrics_doc.own_scheme(back, "Test1") == "guarded_argmax:release_MH"
    assert metrics_doc.own_entry(back, "Test1", "uar")["n"] == N
    assert metrics_doc.schemes(back)["own_distribution"] == "release_MH"
    assert len(metrics_doc.own_confusion_summed(back, "Test1")) == K

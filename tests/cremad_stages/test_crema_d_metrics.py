"""Metrics on a 6-class corpus (CREMA-D): the class set's F1 scores and published-rule macro-F1, strata,
no Other analysis (the corpus has no Other), no A/V/D or merged metrics, and the intended emotion
scored beside the perceived consensus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stagefiles import CremaDRun
from test_crema_d_training import make_cfg

from sertools import config, measures
from sertools.classes import CREMA_D
from sertools.evaluation import metrics, predictions, significance
from sertools.labels import crema_d_table


def evaluation() -> dict[str, Any]:
    cfg = config.resolve({"evaluation": {"paper_reference": "primary", "bootstrap_resamples": 200}})
    return cfg["evaluation"]


def test_metrics_of_a_six_class_corpus(cremad_run: CremaDRun, dumps: dict[str, Path]) -> None:
    cfg = make_cfg()
    doc = metrics.variant_metrics(
        {"Test1": [dumps["hard_ce"]]},
        cremad_run.labels,
        evaluation(),
        variant="hard_ce",
        variant_cfg=cfg["variants"]["hard_ce"],
    )
    assert doc["classes"] == list(CREMA_D.names)
    res = doc["splits"]["Test1"]
    block = res["metrics"]
    assert {f"f1_{c}" for c in CREMA_D.names} <= set(block)
    assert not any(k.startswith(("f1_Other", "f1_Surprise", "f1_Contempt", "other_", "ccc_")) for k in block)
    assert not any("merged" in k for k in block)
    assert res["other_class"] is None

    # against the dump and the label table, by hand
    dump = predictions.read(dumps["hard_ce"]).sort_values("file_id")
    labels = crema_d_table.read(cremad_run.labels).set_index("file_id").loc[dump["file_id"]]
    pred = dump["pred"].to_numpy()
    hard = labels["hard_label"].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)
    cm = measures.confusion_matrix(hard, pred, 6)
    assert np.array_equal(np.asarray(res["confusion_matrix"]["summed"]), cm)
    assert block["accuracy"]["mean"] == pytest.approx(float((pred == hard)[hard >= 0].mean()))
    assert block["macro_f1_published"]["mean"] == pytest.approx(measures.macro_f1_published(cm))
    assert block["macro_f1"]["mean"] == pytest.approx(float(measures.f1_scores(cm).mean()))
    probs = np.stack(dump["probs"])
    p_votes = np.stack(labels["p_votes"])
    assert block["jsd_primary"]["mean"] == pytest.approx(float(measures.jsd(p_votes, probs).mean()), rel=1e-6)

    # the intended emotion, scored beside the perceived consensus
    intended = np.array([CREMA_D.codes.index(c) for c in labels["intended"]])
    mine = res["intended"]
    assert mine["n_utterances"]["hard"] == len(dump)
    assert mine["metrics"]["accuracy"]["mean"] == pytest.approx(float((pred == intended).mean()))
    assert np.array_equal(
        np.asarray(mine["confusion_matrix"]["summed"]), measures.confusion_matrix(intended, pred, 6)
    )

    # strata: every utterance in one stratum
    strata = res["strata"]
    assert sum(s["n_utterances"]["all"] for s in strata.values()) == len(dump)


def test_significance_of_a_six_class_corpus(cremad_run: CremaDRun, dumps: dict[str, Path]) -> None:
    doc = significance.compare(
        {"Test1": [dumps["primary_kl_filter"]]},
        {"Test1": [dumps["hard_ce"]]},
        cremad_run.labels,
        evaluation(),
        variant="primary_kl_filter",
        baseline="hard_ce",
    )
    compared = doc["splits"]["Test1"]["all"]["metrics"]
    assert "macro_f1" in compared and "jsd_primary" in compared
    assert not any(k.startswith(("other_", "ccc_")) or "merged" in k for k in compared)

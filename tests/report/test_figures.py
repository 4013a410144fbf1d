"""Tests for the figures stage (sertools.report.figures): which figures, and the stage entry."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from fakedocs import METRICS, SUMMARY, log_frame

from sertools.evaluation import metrics_doc
from sertools.report import figures
from sertools.report.style import PlotError

CFG = {"baseline_variant": "hard_ce", "entropy_bins": [0.0, 0.5, 1.0]}


def test_figure_stems_match_build_figures(tmp_path: Path) -> None:
    logs = {v: {0: log_frame(0)} for v in METRICS}
    written = figures.build_figures(METRICS, SUMMARY, CFG, tmp_path, train_logs=logs)
    stems = figures.figure_stems(list(METRICS), with_training=True)
    assert sorted(p.name for p in written) == sorted(f"{s}.{e}" for s in stems for e in ("png", "pdf"))
    with pytest.raises(PlotError, match="no training logs for variant"):
        figures.build_figures(METRICS, SUMMARY, CFG, tmp_path / "y", train_logs={"hard_ce": logs["hard_ce"]})
    with pytest.raises(PlotError, match="no 'splits'"):
        figures.build_figures({"x": {}}, SUMMARY, CFG, tmp_path / "z")


def test_a_pool_of_workers_writes_the_same_files_in_the_same_order(tmp_path: Path) -> None:
    logs = {v: {0: log_frame(0), 1: log_frame(1)} for v in METRICS}
    one = figures.build_figures(METRICS, SUMMARY, CFG, tmp_path / "one", train_logs=logs)
    two = figures.build_figures(METRICS, SUMMARY, CFG, tmp_path / "two", train_logs=logs, workers=2)
    assert [p.name for p in one] == [p.name for p in two]
    for a, b in zip(one, two, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    with pytest.raises(ValueError, match="workers must be >= 1"):
        figures.build_figures(METRICS, SUMMARY, CFG, tmp_path / "z", workers=0)


def test_figure_stems_match_the_workflow_outputs() -> None:
    """The stems workflow/rules/common.smk declares (shared ones, then per variant)."""
    shared = [
        "strata_jsd_primary",
        "strata_kld_primary",
        "strata_macro_f1",
        "other_class",
        "entropy_histogram",
        "examples_Test1",
    ]
    assert figures.figure_stems([]) == shared
    assert figures.figure_stems(["a", "b"]) == [
        *shared,
        *(f"{k}_{v}" for v in ("a", "b") for k in ("confusion", "reliability", "training")),
    ]
    assert figures.VARIANT_FIGURES == ("confusion", "reliability", "training")
    assert figures.figure_stems(["a"], with_training=False)[-2:] == ["confusion_a", "reliability_a"]


def test_run_reads_the_documents(tmp_path: Path) -> None:
    variants, seeds = ["dist_kl", "hard_ce"], [0, 1]
    paths = []
    for v in variants:
        doc = {
            "schema": metrics_doc.SCHEMA,
            "settings": {},
            "classes": [],
            "has_truth": True,
            **copy.deepcopy(METRICS[v]),
        }
        for res in doc["splits"].values():
            res.setdefault("prediction_files", [])
            res.setdefault("n_utterances", {"all": 60, "hard": 45})
        paths.append(tmp_path / "m" / f"{v}.json")
        metrics_doc.write(paths[-1], doc)
    logs = []
    for v in variants:
        for s in seeds:
            logs.append(tmp_path / "logs" / v / f"seed{s}.csv")
            logs[-1].parent.mkdir(parents=True, exist_ok=True)
            log_frame(s).to_csv(logs[-1], index=False)
    (tmp_path / "summary.json").write_text(json.dumps(SUMMARY))
    inputs = {"metrics": paths, "label_summary": tmp_path / "summary.json", "train_logs": logs}
    out = tmp_path / "fig"
    declared = [out / f"{s}.{e}" for e in ("png", "pdf") for s in figures.figure_stems(variants)]
    written = figures.run(inputs, declared, evaluation=CFG, variants=variants, seeds=seeds, out_dir=out)
    assert sorted(map(str, written)) == sorted(map(str, declared))
    with pytest.raises(PlotError, match="3 training logs for 2 variants x 2 seeds"):
        figures.run(
            {**inputs, "train_logs": logs[:3]},
            [],
            evaluation=CFG,
            variants=variants,
            seeds=seeds,
            out_dir=out,
        )

"""The workflow on a tiny CREMA-D-layout download (tests/cremad.py): labels -> manifest -> eGeMAPS
features -> frozen heads -> predictions -> metrics, significance, tables and figures, with the settings of
config/crema_d.yaml (its corpus, evaluation and variant keys) on a small scale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from cremad import PIPELINE_SHARES, write_pipeline_download
from test_crema_d_labels_workflow import snakemake

from sertools.classes import CREMA_D
from sertools.evaluation import predictions
from sertools.labels import crema_d_table
from sertools.report import figures, tables

ROOT = Path(__file__).resolve().parents[2]
CREMA_D_CONFIG = ROOT / "config" / "crema_d.yaml"

pytestmark = pytest.mark.workflow


def tiny_config(root: Path) -> dict[str, Any]:
    """config/crema_d.yaml with the download, its speaker shares, eGeMAPS heads and a short training."""
    cfg = yaml.safe_load(CREMA_D_CONFIG.read_text())
    rows = ("h_ce", "p_kld", "p_filter")
    cfg["corpus"]["root"] = str(root)
    cfg["crema_d"]["split_shares"] = PIPELINE_SHARES
    cfg["model"] = {"mode": "frozen", "upstream": "egemaps"}
    cfg["train"] = {"batch_size": 16, "max_epochs": 2, "device": "cpu", "class_counts": "train"}
    variants = {}
    for name in rows:
        v = {k: val for k, val in cfg["variants"][name].items() if k != "train"}
        v["model"] = {"mode": "frozen", "upstream": "egemaps", "frozen": {"hidden": 16}}
        variants[name] = v
    cfg["variants"] = variants
    cfg["seeds"] = [0]
    cfg["evaluation"]["bootstrap_resamples"] = 50
    return cfg


def test_crema_d_runs_from_labels_to_metrics(tmp_path: Path) -> None:
    root = write_pipeline_download(tmp_path / "crema_d")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config(root)))
    work = tmp_path / "run"
    work.mkdir()
    proc = snakemake(work, config, cores=2)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    labels = crema_d_table.read(work / "results/labels/labels.parquet")
    test1 = labels[labels["split"] == "Test1"]
    for variant in ("h_ce", "p_kld", "p_filter"):
        dump = predictions.read(work / f"results/predictions/{variant}/seed0/Test1.parquet")
        assert sorted(dump["file_id"]) == sorted(test1["file_id"])
        assert np.stack(dump["probs"]).shape == (len(test1), CREMA_D.k)
        doc = json.loads((work / f"results/metrics/{variant}.json").read_text())
        assert doc["classes"] == list(CREMA_D.names)
        assert set(doc["splits"]) == {"Development", "Test1"}
        split = doc["splits"]["Test1"]
        assert split["other_class"] is None and "intended" in split
        assert split["metrics"]["macro_f1_published"]["mean"] is not None
    significance = json.loads((work / "results/metrics/significance/p_kld.json").read_text())
    assert significance["baseline"] == "h_ce"
    # tables and figures by the corpus's class set (sertools.report.shown): no Other, A/V/D or paper
    # comparison; the intended-emotion table; the prior reference row below the models
    made = {p.name for p in (work / "results/tables").iterdir()}
    assert made == {p.name for p in tables.table_files("results/tables", classes=CREMA_D)}
    assert "intended.csv" in made and "ccc.csv" not in made and "paper_comparison.csv" not in made
    assert "prior" in (work / "results/tables/main.md").read_text()
    drawn = {p.stem for p in (work / "results/figures").glob("*.png")}
    assert drawn == set(figures.figure_stems(["h_ce", "p_filter", "p_kld"], classes=CREMA_D))
    assert "Nothing to be done" in snakemake(work, config, "-n", cores=2).stdout

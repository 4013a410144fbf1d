"""The rater study end to end on a synthetic corpus of CREMA-D's six classes
(tests/study/config_crema_d.yaml): the corpus in the CREMA-D download layout, read by the CREMA-D
label stage; no Other class, so the Other-class table and figure, the Other columns and the Other
sentences are left out (sertools.report.shown)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_workflow import job_counts, snakemake

from sertools.classes import CREMA_D
from sertools.study import report

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "study" / "config_crema_d.yaml"
STUDY = "results/study"
SETTINGS = ["low_u0", "today_u0", "today_n3", "truth_n3"]

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("study_crema_d")
    proc = snakemake(d, "-p", "study", config=CONFIG)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return d


def test_outputs_leave_out_what_needs_other(run_dir):
    root = run_dir / STUDY
    files = report.output_files(CREMA_D)
    assert not any("other_class" in f for f in files)
    for name in files:
        assert (root / name).stat().st_size > 0, name
    assert not (root / "tables/other_class.csv").exists()
    assert not (root / "figures/other_class.png").exists()
    scores = pd.read_csv(root / "tables/scores.csv", keep_default_na=False)
    assert list(dict.fromkeys(scores["setting"])) == SETTINGS
    assert not any("other" in c for c in scores.columns if c != "other_when_unsure")
    assert (scores[scores["row"] == "oracle_truth"]["jsd_true"].astype(float) < 1e-6).all()
    votes = pd.read_csv(root / "tables/votes.csv", keep_default_na=False)
    assert not any(c.startswith("other_") and c != "other_when_unsure" for c in votes.columns)
    findings = (root / report.FINDINGS).read_text()
    assert "What the simulation shows" in findings
    assert "Other" not in findings and "propensity" not in findings  # no Other class: nothing to say of it


def test_corpus_in_crema_d_layout_and_six_wide_documents(run_dir):
    root = run_dir / STUDY
    assert (root / "corpus/AudioWAV").is_dir() and (
        root / "corpus/processedResults/tabulatedVotes.csv"
    ).is_file()
    truth = pd.read_parquet(root / "corpus/latent_truth.parquet")
    assert np.stack(truth["p_true"].to_numpy()).shape[1] == CREMA_D.k
    for s in SETTINGS:
        setting = root / "settings" / s
        assert not (setting / "corpus/AudioWAV").exists()
        assert (setting / "corpus/latent_truth.parquet").read_bytes() == (
            root / "corpus/latent_truth.parquet"
        ).read_bytes()
        labels = json.loads((setting / "labels/summary.json").read_text())
        assert labels["utterances_kept"] == labels["utterances_read"] and labels["utterances_dropped"] == {}
        doc = json.loads((setting / "evaluation/scores.json").read_text())
        for block in doc["splits"]["Test1"]["rows"].values():
            assert "other_class" not in block and "other_mass" not in block["metrics"]
        summary = json.loads((setting / "evaluation/summary.json").read_text())
        assert "other_votes" not in summary["votes"]["Test1"]
        assert summary["fleiss_kappa_primary"] is not None
    n3 = json.loads((root / "settings/today_n3/evaluation/summary.json").read_text())
    assert n3["votes"]["Test1"]["annotators_mean"] == 3.0


def test_nothing_changed_nothing_runs(run_dir):
    assert job_counts(snakemake(run_dir, "-n", "study", config=CONFIG).stdout) == {}


def test_other_when_unsure_is_refused_without_other(run_dir):
    import yaml

    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["study"]["other_when_unsure"] = [0.0, 0.5]
    path = run_dir / "routed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(run_dir, "-n", "study", config=path)
    assert proc.returncode != 0
    assert "has no Other class" in proc.stdout + proc.stderr

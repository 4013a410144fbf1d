"""The study end to end on a tiny configuration (tests/study/config.yaml), and what reruns.

One full ``study`` run (module-scoped), then dry runs: nothing changed ->
nothing runs; one more seed for one setting -> only that (setting, seed) trains;
other raters for one level -> that level's votes, labels, fits and evaluations,
never the corpus audio, the manifest or the features.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_workflow import job_counts, snakemake

from sertools.evaluation.reference import REFERENCES
from sertools.study import report

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "study" / "config.yaml"
STUDY = "results/study"
SETTINGS = ["low_u0", "today_u0", "low_u0.5", "today_u0.5", "today_n3", "today_n10", "truth_n3", "truth_n10"]

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("study")
    proc = snakemake(
        d, "-p", "study", config=CONFIG
    )  # (an option first: --resources takes every word after it)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return d


def _changed(run_dir: Path, edit) -> Path:
    cfg = yaml.safe_load(CONFIG.read_text())
    edit(cfg)
    path = run_dir / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_outputs(run_dir):
    for name in report.output_files():
        assert (run_dir / STUDY / name).stat().st_size > 0, name
    scores = pd.read_csv(run_dir / STUDY / "tables/scores.csv", keep_default_na=False)
    assert list(dict.fromkeys(scores["setting"])) == SETTINGS
    # the baseline first, then the other variants, then the references
    assert list(dict.fromkeys(scores["row"])) == ["hard_ce", "dist_merged_kl", *REFERENCES]
    oracle = scores[scores["row"] == "oracle_truth"]
    assert (oracle["jsd_true"].astype(float) < 1e-6).all()
    assert "What the simulation shows" in (run_dir / STUDY / report.FINDINGS).read_text()


def test_audio_once_votes_per_setting(run_dir):
    root = run_dir / STUDY
    assert (root / "corpus/Audios").is_dir()
    truth = (root / "corpus/latent_truth.parquet").read_bytes()
    seen = set()
    for s in SETTINGS:
        corpus = root / "settings" / s / "corpus"
        assert not (corpus / "Audios").exists()
        assert (corpus / "latent_truth.parquet").read_bytes() == truth
        seen.add((corpus / "Labels/labels_detailed.csv").read_bytes())
        labels = json.loads((root / "settings" / s / "labels/summary.json").read_text())
        for what in ("utterances", "annotations"):
            assert labels[f"{what}_kept"] + sum(labels[f"{what}_dropped"].values()) == labels[f"{what}_read"]
    assert len(seen) == len(SETTINGS)  # every setting re-drew the votes
    summary = json.loads((root / "settings/today_n10/evaluation/summary.json").read_text())
    assert summary["votes"]["Test1"]["annotators_mean"] == 10.0


def test_differences_carry_holm_over_their_family(run_dir):
    d = pd.read_csv(run_dir / STUDY / "tables/differences.csv")
    assert set(d["row"]) == {"dist_merged_kl"} and set(d["baseline"]) == {"hard_ce"}
    p, adj = d["jsd_true_p_value"].to_numpy(), d["jsd_true_p_holm"].to_numpy()
    assert np.all(adj >= p - 1e-12) and np.all(adj <= 1.0)
    # one family per axis and control: 2 reliability levels per propensity, 2 counts per perception
    fam = d.groupby("jsd_true_family")["setting"].apply(list).to_dict()
    assert sorted(map(sorted, fam.values())) == sorted(
        [
            ["low_u0", "today_u0"],
            ["low_u0.5", "today_u0.5"],
            ["today_n10", "today_n3"],
            ["truth_n10", "truth_n3"],
        ]
    )
    assert set(d["jsd_true_family_size"]) == {2}
    for c in ("jsd_raters_p_holm", "macro_f1_p_value_utterances", "macro_f1_seed_pairs_min"):
        assert c in d.columns


def test_raters_mixture_is_scored_and_the_truth_control_has_it_equal_to_the_truth(run_dir):
    scores = pd.read_csv(run_dir / STUDY / "tables/scores.csv", keep_default_na=False)
    oracle = scores[scores["row"] == "oracle_truth"].set_index("setting")
    assert (oracle.loc[["truth_n3", "truth_n10"], "jsd_raters"].astype(float) < 1e-6).all()
    assert (oracle.loc[["today_n3", "today_n10"], "jsd_raters"].astype(float) > 0.01).all()
    votes = pd.read_csv(run_dir / STUDY / "tables/votes.csv", keep_default_na=False).set_index("setting")
    assert float(votes.loc["truth_n10", "jsd_raters_truth"]) < 1e-9
    assert set(votes.loc[["truth_n3", "truth_n10"], "perception"]) == {"truth"}


def test_nothing_changed_nothing_runs(run_dir):
    assert job_counts(snakemake(run_dir, "-n", "study", config=CONFIG).stdout) == {}


def test_one_more_seed_trains_only_it(run_dir):
    cfg = _changed(run_dir, lambda c: c["study"].setdefault("seeds", {}).update({"low_u0.5": [0, 1]}))
    out = snakemake(run_dir, "-n", "study", config=cfg).stdout
    counts = job_counts(out)
    assert counts == {"study_fit": 1, "study_evaluate": 1, "study_report": 1, "study": 1}, out[-3000:]
    assert "settings/low_u0.5/train/hard_ce/seed1/" in out


def test_rater_change_never_recomputes_audio_or_features(run_dir):
    def edit(c):
        c["study"]["reliability_levels"]["low"]["noisy_share"] = 0.3

    counts = job_counts(snakemake(run_dir, "-n", "study", config=_changed(run_dir, edit)).stdout)
    # the two "low" settings (u 0 and 0.5) are redrawn; today's settings are untouched
    assert counts["study_votes"] == 2 and counts["study_labels"] == 2 and counts["study_fit"] == 2
    for rule in ("study_corpus", "study_manifest", "study_features", "study_corpus_labels"):
        assert rule not in counts

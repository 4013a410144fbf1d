"""The reference rows in the workflow's plan (sertools.evaluation.reference), without training.

The cheap part is run for real (synthetic corpus, labels, manifest, the two reference
dumps and their metrics: seconds); every other check is a dry run: the ``reference``
jobs are scheduled on the synthetic corpus (the oracle and the prior), their dumps are
stored as seed 0 whatever the seeds, an added seed or an evaluation setting never
reruns them, a real corpus has the prior alone, and no reference is ever compared.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "workflow" / "config.yaml"
REFERENCES = ("oracle_truth", "prior")
REFERENCE_METRICS = [f"results/metrics/{r}.json" for r in REFERENCES]

pytestmark = pytest.mark.workflow


def snakemake(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    # targets first: a list option (--resources) would take them as its values
    cmd = [sys.executable, "-m", "snakemake", *args, "-s", str(ROOT / "Snakefile"), "-d", str(workdir)]
    cmd += ["--configfile", str(config), "--cores", "2", "--resources", "gpu=1"]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir, check=False)


def config(tmp_path: Path, **changes) -> Path:
    """tests/workflow/config.yaml with top-level keys replaced."""
    cfg = {**yaml.safe_load(CONFIG.read_text()), **changes}
    path = tmp_path / f"config_{len(list(tmp_path.glob('config_*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def plan(proc: subprocess.CompletedProcess) -> tuple[dict[str, int], dict[str, list[str]]]:
    """A dry run's job counts per rule and the outputs of each rule's jobs."""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    if "Nothing to be done" in out:
        return {}, {}
    counts = {}
    for line in out.split("Job stats:", 1)[1].split("\n\n", 1)[0].splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) not in ("total", "all"):
            counts[m.group(1)] = int(m.group(2))
    outputs: dict[str, list[str]] = {}
    rule = None
    for line in out.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if m:
            rule = m.group(1)
        elif line.strip().startswith("output:") and rule:
            outputs.setdefault(rule, []).extend(p.strip() for p in line.split(":", 1)[1].split(","))
    return counts, outputs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work directory with the reference dumps and their metrics made (no training)."""
    d = tmp_path_factory.mktemp("reference_jobs")
    proc = snakemake(d, CONFIG, *REFERENCE_METRICS)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return d


def test_reference_jobs_are_scheduled_on_the_synthetic_corpus(tmp_path: Path) -> None:
    counts, outputs = plan(snakemake(tmp_path, CONFIG, "-n"))
    assert counts["reference"] == 2
    dumps = outputs["reference"]
    for ref in REFERENCES:
        for split in ("Development", "Test1", "Test2"):
            assert f"results/predictions/{ref}/seed0/{split}.parquet" in dumps
    # metrics for the 3 variants and the 2 references; significance for the 2 compared variants only
    assert counts["metrics"] == 5 and counts["significance"] == 2
    assert not any(r in p for p in outputs["significance"] for r in REFERENCES)
    assert {f"results/metrics/{r}.json" for r in REFERENCES} <= set(outputs["metrics"])
    # never predicted by a model, never trained
    assert not any(
        r in p for rule in ("train", "train_head", "predict") for p in outputs[rule] for r in REFERENCES
    )


def test_an_added_seed_does_not_rerun_the_references(built: Path, tmp_path: Path) -> None:
    two_seeds = config(tmp_path, seeds=[0, 1])
    # the reference dumps and metrics stay as they are: one run, seed 0, whatever the seeds
    assert plan(snakemake(built, two_seeds, "-n", *REFERENCE_METRICS)) == ({}, {})
    counts, outputs = plan(snakemake(built, two_seeds, "-n"))
    assert "reference" not in counts
    assert counts["train"] == 4 and counts["metrics"] == 3  # the models' metrics only
    assert not set(outputs["metrics"]) & set(REFERENCE_METRICS)
    # on a fresh directory the plan with two seeds still has one seed-0 dump per reference and split
    (tmp_path / "fresh").mkdir()
    counts, outputs = plan(snakemake(tmp_path / "fresh", two_seeds, "-n"))
    assert counts["reference"] == 2 and counts["predict"] == 4
    assert all("/seed0/" in p for p in outputs["reference"]) and len(outputs["reference"]) == 6


def test_an_evaluation_setting_rescores_the_references_from_the_same_dumps(
    built: Path, tmp_path: Path
) -> None:
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["evaluation"]["bootstrap_resamples"] = 60
    path = tmp_path / "evaluation.yaml"
    path.write_text(yaml.safe_dump(cfg))
    counts, outputs = plan(snakemake(built, path, "-n", *REFERENCE_METRICS))
    assert counts == {"metrics": 2} and sorted(outputs["metrics"]) == REFERENCE_METRICS


def test_a_real_corpus_has_the_prior_alone(built: Path, tmp_path: Path) -> None:
    """No latent truth, no oracle: the built synthetic corpus read as an MSP-Podcast release."""
    real = config(tmp_path, corpus={"source": "msp_podcast", "root": str(built / "resources" / "synthetic")})
    counts, outputs = plan(snakemake(tmp_path, real, "-n"))
    assert counts["reference"] == 1
    assert all("/prior/seed0/" in p for p in outputs["reference"])
    assert "results/metrics/prior.json" in outputs["metrics"]
    assert not any("oracle_truth" in p for ps in outputs.values() for p in ps)


def test_a_variant_may_not_take_a_reference_name(tmp_path: Path) -> None:
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["variants"]["prior"] = {"targets": "primary", "loss": "kl"}
    path = tmp_path / "clash.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, path, "-n")
    assert proc.returncode != 0
    assert "taken by the reference rows" in proc.stdout + proc.stderr

"""The workflow's labels rule on a CREMA-D download (tests/cremad.py): the CREMA-D table and summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cremad import CLIPS, write_download

from sertools.labels import crema_d_table

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "workflow" / "config.yaml"

pytestmark = pytest.mark.workflow


def snakemake(workdir: Path, config: Path, *args: str, cores: int = 1) -> subprocess.CompletedProcess[str]:
    """The workflow in ``workdir`` with ``config`` (the CREMA-D workflow tests share it)."""
    cmd = [sys.executable, "-m", "snakemake", *args, "-s", str(ROOT / "Snakefile"), "-d", str(workdir)]
    cmd += ["--configfile", str(config), "--cores", str(cores)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir, check=False)


def test_labels_rule_reads_a_crema_d_download(tmp_path: Path) -> None:
    root = write_download(tmp_path / "crema_d", audio=[name for name, _ in CLIPS])
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["corpus"] = {"source": "crema_d", "root": str(root)}
    cfg["crema_d"] = {"modality": "face"}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    work = tmp_path / "run"
    work.mkdir()
    proc = snakemake(work, config, "results/labels/labels.parquet")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = crema_d_table.read(work / "results/labels/labels.parquet")
    assert len(table) == len(CLIPS) and set(table["modality"]) == {"face"}
    summary = json.loads((work / "results/labels/summary.json").read_text())
    assert summary["audio"]["checked"] and summary["utterances_dropped"] == {}
    assert "Nothing to be done" in snakemake(work, config, "-n", "results/labels/labels.parquet").stdout

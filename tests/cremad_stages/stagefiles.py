"""The label and manifest stages run on a CREMA-D-layout download (tests/cremad.py), for the tests
of the stages after labels on a 6-class corpus."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from cremad import PIPELINE_SHARES, settings, write_pipeline_download

from sertools import config as config_mod
from sertools.corpus.crema_d import AUDIO_DIR, crema_d_files
from sertools.data import manifest
from sertools.features import extract
from sertools.labels import stage
from sertools.splits import DEVELOPMENT, TEST1, TRAIN

# the training tests' tiny settings and MSP-Podcast-format corpus (tests/training/tinyrun.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))


@dataclass(frozen=True)
class CremaDRun:
    """The files of the label and manifest stages on a CREMA-D download."""

    root: Path
    labels: Path
    manifest: Path
    manifest_summary: Path


def build(d: Path) -> CremaDRun:
    """Write a download under ``d`` and run the label and manifest stages on it."""
    root = write_pipeline_download(d / "download")
    files = {k: str(v) for k, v in crema_d_files(root).items()}
    labels = d / "results" / "labels" / "labels.parquet"
    stage.run(
        files,
        {"table": labels, "summary": labels.with_name("summary.json")},
        labels={"entropy_histogram_bins": 10},
        crema_d_settings=settings(split_shares=PIPELINE_SHARES),
    )
    out = d / "results" / "manifest"
    manifest.run(
        {"labels": labels, "audio": root / AUDIO_DIR},
        {"manifest": out / "manifest.parquet", "summary": out / "summary.json"},
        manifest=config_mod.resolve({})["manifest"],
    )
    return CremaDRun(root, labels, out / "manifest.parquet", out / "summary.json")


def extract_features(manifest_path: Path, out: Path) -> Path:
    """The eGeMAPS features (default settings) of Train, Development and Test1 of a manifest into ``out``."""
    settings = config_mod.resolve({})["features"]["egemaps"]
    for split in (TRAIN, DEVELOPMENT, TEST1):
        extract.run(
            {"manifest": manifest_path},
            {"features": out / f"{split}.safetensors", "summary": out / f"{split}.json"},
            upstream="egemaps",
            split=split,
            settings=settings,
        )
    return out

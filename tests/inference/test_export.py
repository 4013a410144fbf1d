"""`sertools export`: a self-contained folder with the model, its preprocessing, provenance and model card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

import sertools
from sertools.classes import CLASSES, DIMENSIONS
from sertools.inference import bundle, export
from sertools.io import file_sha256


def test_the_folder_holds_everything_the_model_needs(trained: Path, exported: Path) -> None:
    names = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file())
    assert names == [
        "README.md",
        "config.yaml",
        "model.json",
        "model.safetensors",
        "provenance/env.json",
        "provenance/run.json",
        "provenance/train_log.csv",
    ]
    meta = json.loads((exported / "model.json").read_text())
    assert meta["format"] == bundle.FORMAT and meta["kind"] == "finetune" and meta["upstream"] is None
    assert meta["classes"] == list(CLASSES) and meta["dimensions"] == list(DIMENSIONS)
    assert meta["preprocessing"]["sample_rate"] == 16000 and meta["dim_scale"] == "neg1_1"
    assert meta["batching"] == {
        "eval_batching": "file_order",
        "batch_size": 4,
        "max_eval_batch_seconds": 4.0,
        "amp": "auto",
    }
    assert meta["checkpoint"]["sha256"] == file_sha256(trained / "best.safetensors")
    assert meta["files"]["model.safetensors"] == file_sha256(exported / "model.safetensors")
    assert meta["architecture"]["head"] == "tc_gru" and meta["architecture"]["group_norm"] == "padded"
    assert yaml.safe_load((exported / "config.yaml").read_text())["variant"]["name"] == "hard_cbce"


def test_the_card_says_when_there_are_no_metrics(exported: Path, trained: Path) -> None:
    card = (exported / "README.md").read_text()
    results = trained.parents[2]
    assert f"No test metrics: neither {results / 'metrics' / 'hard_cbce.json'} nor" in card
    assert "Variant `hard_cbce`, seed 3" in card and "tc_gru" in card and "sertools infer" in card


def copy_run(trained: Path, root: Path) -> Path:
    run = root / "results" / "train" / "hard_cbce" / "seed3"
    shutil.copytree(trained, run)
    return run


def test_the_card_shows_the_variants_test_metrics_with_cis(trained: Path, tmp_path: Path) -> None:
    run = copy_run(trained, tmp_path)
    entry = {"mean": 0.25, "ci_low": 0.2, "ci_high": 0.3, "per_seed": [0.24, 0.26], "sd_seeds": 0.01, "n": 7}
    doc = {
        "splits": {
            "Test1": {
                "n_seeds": 2,
                "prediction_files": [f"results/predictions/hard_cbce/seed{s}/Test1.parquet" for s in (1, 3)],
                "metrics": {"macro_f1": entry, "jsd_primary": {**entry, "mean": 0.35}},
            }
        }
    }
    (tmp_path / "results" / "metrics").mkdir()
    (tmp_path / "results" / "metrics" / "hard_cbce.json").write_text(json.dumps(doc))
    res = export.export(run, tmp_path / "out")
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| Test1 | macro-F1 ↑ | 0.250 [0.200, 0.300] | 0.260 | 2 |" in card  # seed 3 is the second
    assert "| Test1 | JSD to the primary votes ↓ | 0.350 [0.200, 0.300] | 0.260 | 2 |" in card
    assert (tmp_path / "out" / "metrics" / "hard_cbce.json").is_file() and "metrics/hard_cbce.json" in res[
        "metrics"
    ]


def test_without_a_metrics_document_the_card_reads_main_csv(trained: Path, tmp_path: Path) -> None:
    run = copy_run(trained, tmp_path)
    (tmp_path / "results" / "tables").mkdir()
    rows = [
        ("hard_cbce", "Test2", "accuracy", 0.5, 0.4, 0.6),
        ("hard_ce", "Test2", "accuracy", 0.9, 0.8, 1.0),  # another variant: not shown
        ("hard_cbce", "Development", "accuracy", 0.7, 0.6, 0.8),  # not a test split: not shown
    ]
    pd.DataFrame(
        [
            {
                "variant": v,
                "model": "m",
                "split": s,
                "metric": m,
                "mean": x,
                "sd_seeds": 0.0,
                "ci_low": lo,
                "ci_high": hi,
                "n_seeds": 2,
                "n_utterances": 9,
            }
            for v, s, m, x, lo, hi in rows
        ]
    ).to_csv(tmp_path / "results" / "tables" / "main.csv", index=False)
    export.export(run, tmp_path / "out")
    card = (tmp_path / "out" / "README.md").read_text()
    table = [line for line in card.splitlines() if line.startswith("| Test")]
    assert table == ["| Test2 | accuracy ↑ | 0.500 [0.400, 0.600] | n/a | 2 |"]


def test_the_folder_works_without_the_run(trained: Path, tmp_path: Path, corpus: tuple[Path, Path]) -> None:
    run = copy_run(trained, tmp_path)
    export.export(run, tmp_path / "out")
    shutil.rmtree(tmp_path / "results")
    manifest = pd.read_parquet(corpus[1])
    table = sertools.load_model(tmp_path / "out").predict_files(manifest["path"].tolist()[:3]).table
    assert len(table) == 3


def test_export_refuses_what_it_cannot_export(exported: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="already an exported model"):
        export.export(exported, tmp_path / "again")
    with pytest.raises(bundle.BundleError, match="neither an exported model"):
        export.export(tmp_path, tmp_path / "out")

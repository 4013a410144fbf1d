"""The `sertools` command line: every stage standalone, errors in one line."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from sertools.cli import main


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    p = tmp_path_factory.mktemp("cfg") / "c.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "train": {"batch_size": 8, "max_epochs": 1},
                "variants": {
                    "dist_primary_kl": {"targets": "primary", "loss": "kl"},
                    "head_kl": {
                        "targets": "primary",
                        "loss": "kl",
                        "model": {"mode": "frozen", "upstream": "egemaps"},
                    },
                },
                "evaluation": {
                    "bootstrap_resamples": 20,
                    "splits": ["Development", "Test1"],
                    "baseline_variant": "dist_primary_kl",
                },
            }
        )
    )
    return p


def test_all_stages(tmp_path, tiny_config, capsys):
    c, r = tmp_path / "corpus", tmp_path / "r"
    assert (
        main(
            [
                "synth",
                str(c),
                "--utterances",
                "40",
                "--seed",
                "1",
                "--min-duration",
                "1",
                "--max-duration",
                "1.2",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "labels",
                str(c),
                "--out",
                f"{r}/labels.parquet",
                "--summary",
                f"{r}/s.json",
                "--config",
                str(tiny_config),
            ]
        )
        == 0
    )
    assert json.loads((r / "s.json").read_text())["utterances_read"] == 40
    assert main(["manifest", str(c), f"{r}/labels.parquet", "--out", f"{r}/manifest.parquet"]) == 0
    assert (r / "manifest_summary.json").exists()
    args = [f"{r}/labels.parquet", f"{r}/manifest.parquet", "--config", str(tiny_config)]
    assert main(["train", *args, "--variant", "dist_primary_kl", "--seed", "0", "--out-dir", f"{r}/run"]) == 0
    assert (
        main(
            [
                "predict",
                f"{r}/run/best.safetensors",
                *args[:2],
                "--splits",
                "Development",
                "Test1",
                "--out-dir",
                f"{r}/pred",
                "--config",
                str(tiny_config),
            ]
        )
        == 0
    )
    assert len(pd.read_parquet(r / "pred" / "Test1.parquet")) > 0
    # the frozen-upstream path: features once, then a head trained and run on them
    feats = ["--out-dir", f"{r}/feats", "--splits", "Train", "Development", "Test1"]
    assert main(["features", f"{r}/manifest.parquet", "--upstream", "egemaps", *feats, "--threads", "1"]) == 0
    assert json.loads((r / "feats" / "Train.json").read_text())["shape"] == [1, 88]
    head = ["--variant", "head_kl", "--seed", "0", "--out-dir", f"{r}/head", "--features-dir", f"{r}/feats"]
    assert main(["train", *args, *head]) == 0
    out = ["--splits", "Test1", "--out-dir", f"{r}/head_pred", "--features-dir", f"{r}/feats"]
    assert main(["predict", f"{r}/head/best.safetensors", *args[:2], *out, "--config", str(tiny_config)]) == 0
    assert len(pd.read_parquet(r / "head_pred" / "Test1.parquet")) == len(
        pd.read_parquet(r / "pred" / "Test1.parquet")
    )
    # without the features, the head cannot predict: one line that says so
    assert (
        main(["predict", f"{r}/head/best.safetensors", *args[:2], "--out-dir", f"{r}/x", "--splits", "Test1"])
        == 2
    )
    assert "give the Test1 features file" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                f"{r}/labels.parquet",
                f"{r}/pred",
                "--out",
                f"{r}/m.json",
                "--truth",
                f"{c}/latent_truth.parquet",
                "--config",
                str(tiny_config),
            ]
        )
        == 0
    )
    m = json.loads((r / "m.json").read_text())
    assert "Test1" in m["splits"]


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["labels", str(tmp_path), "--out", "x.parquet", "--summary", "s.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sertools labels: error:") and "no Labels/ directory" in err and "\n" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("labels: {nope: 1}\n")
    (tmp_path / "Labels").mkdir()
    assert (
        main(["labels", str(tmp_path), "--out", "x.parquet", "--summary", "s.json", "--config", str(bad)])
        == 2
    )
    assert "unknown config key(s) 'nope' under 'labels'" in capsys.readouterr().err


def test_unknown_variant(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "l.parquet",
                "m.parquet",
                "--variant",
                "nope",
                "--seed",
                "0",
                "--out-dir",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "unknown variant 'nope'" in capsys.readouterr().err

"""Tests for sertools.report.plots: every plot is written as non-empty PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import pytest
from fakedocs import METRICS, SUMMARY, log_frame

from sertools.report import plots
from sertools.report.style import PlotError


def assert_written(paths: list[Path], stem: Path) -> None:
    assert [p.name for p in paths] == [f"{stem.name}.png", f"{stem.name}.pdf"]
    png, pdf = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 2000
    leftovers = [p.name for p in stem.parent.iterdir() if ".tmp" in p.name]
    assert not leftovers


def test_each_plot_writes_png_and_pdf(tmp_path: Path) -> None:
    rc_before = dict(mpl.rcParams)
    cases = [
        (lambda o: plots.plot_metric_by_stratum(METRICS, "macro_f1", o), "strata_macro_f1"),
        (lambda o: plots.plot_other_by_stratum(METRICS, o), "other"),
        (lambda o: plots.plot_confusion(METRICS["hard_ce"], o), "confusion"),
        (lambda o: plots.plot_reliability(METRICS["dist_kl"], o, splits=["Test1"]), "reliability"),
        (lambda o: plots.plot_training_curves({0: log_frame(0), 1: log_frame(1)}, o, "hard_ce"), "training"),
        (lambda o: plots.plot_entropy_histogram(SUMMARY, o, edges=[0, 1 / 3, 2 / 3, 1]), "entropy"),
        (lambda o: plots.plot_examples(METRICS, o, split="Test2"), "examples"),
    ]
    for fn, name in cases:
        assert_written(fn(tmp_path / name), tmp_path / name)
    assert dict(mpl.rcParams) == rc_before  # no global style change leaks out


def test_training_curves_tolerate_missing_columns(tmp_path: Path) -> None:
    logs = {0: log_frame(0, ["epoch", "train_loss"]), 1: log_frame(1, ["train_loss", "val_jsd"])}
    assert_written(plots.plot_training_curves(logs, tmp_path / "t"), tmp_path / "t")


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(PlotError, match="splits"):
        plots.plot_metric_by_stratum(METRICS, "jsd_primary", tmp_path / "x", splits=["Development"])
    with pytest.raises(PlotError, match="no training logs"):
        plots.plot_training_curves({}, tmp_path / "x")
    with pytest.raises(PlotError, match="entropy_histogram"):
        plots.plot_entropy_histogram({}, tmp_path / "x")
    with pytest.raises(PlotError, match="no examples"):
        plots.plot_examples(METRICS, tmp_path / "x", split="Development")
    with pytest.raises(PlotError, match="no stratum names"):
        plots.plot_metric_by_stratum(
            {"v": {**METRICS["hard_ce"], "strata": []}}, "jsd_primary", tmp_path / "x"
        )
    assert not list(tmp_path.iterdir())

"""Tests for sertools.plots: every figure is written as non-empty PNG and PDF, deterministically."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest

from sertools.classes import K
from sertools.report import figures as plots

STRATA = ["[0.000, 0.333)", "[0.333, 0.667)", "[0.667, 1.000]"]


def ci(mean: float | None, n: int = 20) -> dict:
    if mean is None:
        return {"mean": None, "sd_seeds": None, "ci_low": None, "ci_high": None, "per_seed": [None], "n": n}
    return {
        "mean": mean,
        "sd_seeds": 0.01,
        "ci_low": mean - 0.03,
        "ci_high": mean + 0.04,
        "per_seed": [mean],
        "n": n,
    }


def fake_split(rng: np.random.Generator, shift: float) -> dict:
    cm = rng.integers(0, 20, (K, K))
    cm[4] = 0  # a class without consensus utterances
    count = [0, 0, 3, 8, 12, 20, 15, 9, 5, 2]
    acc = [None if c == 0 else float(x) for c, x in zip(count, np.linspace(0.1, 1.0, 10), strict=True)]
    conf = [None if c == 0 else float(x) for c, x in zip(count, np.linspace(0.05, 0.95, 10), strict=True)]
    p = rng.dirichlet(np.ones(K), 3)
    q = rng.dirichlet(np.ones(K), 3)
    other = {
        k: {
            "n_utterances": 20,
            "other_pred_share": ci(0.1 + shift),
            "other_mass": ci(0.15),
            "human_other_share": ci(0.07),
        }
        for k in ["all", *STRATA]
    }
    return {
        "n_seeds": 2,
        "metrics": {"ece": ci(0.12), "jsd_primary": ci(0.3 + shift)},
        "strata": {
            s: {
                "n_utterances": {"all": 20, "hard": 15},
                "metrics": {
                    "jsd_primary": ci(0.2 + i * 0.05 + shift),
                    "kld_primary": ci(0.5 + i * 0.1 + shift),
                    "macro_f1": ci(None if i == 2 else 0.4 - i * 0.1, 15),
                },
            }
            for i, s in enumerate(STRATA)
        },
        "other_class": other,
        "confusion_matrix": {"summed": cm.tolist(), "per_seed": [cm.tolist()]},
        "reliability_diagram": {
            "edges": np.linspace(0, 1, 11).tolist(),
            "count": count,
            "mean_confidence": conf,
            "accuracy": acc,
        },
        "examples": [
            {
                "file_id": f"utt_{i}.wav",
                "stratum": s,
                "entropy_primary": 0.1 + 0.3 * i,
                "consensus": "X" if i == 2 else "N",
                "p_primary": p[i].tolist(),
                "p_true": p[i].tolist(),
                "probs": q[i].tolist(),
            }
            for i, s in enumerate(STRATA)
        ],
    }


def fake_metrics(variant: str, shift: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "variant": variant,
        "strata": STRATA,
        "splits": {s: fake_split(rng, shift) for s in ("Test1", "Test2")},
    }


METRICS = {"hard_ce": fake_metrics("hard_ce", 0.1, 0), "dist_kl": fake_metrics("dist_kl", -0.1, 1)}
SUMMARY = {
    "entropy_histogram": {
        "edges": np.linspace(0, 1, 11).tolist(),
        "Train": {
            "primary": [5, 1, 20, 15, 40, 8, 20, 6, 0, 0],
            "merged": [0, 1, 5, 8, 30, 40, 30, 20, 2, 0],
        },
        "Test1": {"primary": [2, 0, 5, 4, 12, 2, 6, 1, 0, 0], "merged": [0, 0, 2, 3, 8, 9, 7, 3, 0, 0]},
        "all": {
            "primary": [7, 1, 25, 19, 52, 10, 26, 7, 0, 0],
            "merged": [0, 1, 7, 11, 38, 49, 37, 23, 2, 0],
        },
    }
}


def log_frame(seed: int, columns: list[str] | None = None) -> pd.DataFrame:
    e = np.arange(1, 7)
    df = pd.DataFrame(
        {
            "epoch": e,
            "train_loss": 2 * np.exp(-e / 3) + seed * 0.05,
            "val_loss": 2.2 * np.exp(-e / 4),
            "val_macro_f1": 0.3 * (1 - np.exp(-e / 3)),
            "val_jsd": 0.4 * np.exp(-e / 5),
            "lr_backbone": 1e-5 * 0.9 ** (e // 2),
            "lr_heads": 1e-4 * 0.9 ** (e // 2),
        }
    )
    return df[columns] if columns else df


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


def test_output_bytes_are_deterministic(tmp_path: Path) -> None:
    a = plots.plot_metric_by_stratum(METRICS, "jsd_primary", tmp_path / "a" / "fig.png")
    b = plots.plot_metric_by_stratum(METRICS, "jsd_primary", tmp_path / "b" / "fig")
    for pa, pb in zip(a, b, strict=True):
        assert pa.name == pb.name
        assert pa.read_bytes() == pb.read_bytes()
    assert b"CreationDate" not in a[1].read_bytes()


def test_training_curves_tolerate_missing_columns(tmp_path: Path) -> None:
    logs = {0: log_frame(0, ["epoch", "train_loss"]), 1: log_frame(1, ["train_loss", "val_jsd"])}
    assert_written(plots.plot_training_curves(logs, tmp_path / "t"), tmp_path / "t")


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(plots.PlotError, match="splits"):
        plots.plot_metric_by_stratum(METRICS, "jsd_primary", tmp_path / "x", splits=["Development"])
    with pytest.raises(plots.PlotError, match="no training logs"):
        plots.plot_training_curves({}, tmp_path / "x")
    with pytest.raises(plots.PlotError, match="entropy_histogram"):
        plots.plot_entropy_histogram({}, tmp_path / "x")
    with pytest.raises(plots.PlotError, match="no examples"):
        plots.plot_examples(METRICS, tmp_path / "x", split="Development")
    assert not list(tmp_path.iterdir())


def test_figure_stems_match_build_figures(tmp_path: Path) -> None:
    logs = {v: {0: log_frame(0)} for v in METRICS}
    cfg = {"baseline_variant": "hard_ce", "entropy_bins": [0.0, 0.5, 1.0]}
    written = plots.build_figures(METRICS, SUMMARY, cfg, tmp_path, train_logs=logs)
    stems = plots.figure_stems(list(METRICS), with_training=True)
    assert sorted(p.name for p in written) == sorted(f"{s}.{e}" for s in stems for e in ("png", "pdf"))
    with pytest.raises(plots.PlotError, match="no training logs for variant"):
        plots.build_figures(METRICS, SUMMARY, cfg, tmp_path / "y", train_logs={"hard_ce": logs["hard_ce"]})


def test_variant_styles_are_distinct_and_stable() -> None:
    names = [f"v{i}" for i in range(9)]
    st = plots.variant_styles(names)
    assert st == plots.variant_styles(names)
    assert len({(s["color"], s["marker"]) for s in st.values()}) == len(names)
    assert st["v0"]["color"] == plots.OKABE_ITO[0]

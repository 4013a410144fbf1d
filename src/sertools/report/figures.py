"""Figures of the evaluation stage (matplotlib, no pyplot state).

Each ``plot_*`` function takes already-loaded data (the JSON dicts of
:mod:`sertools.evaluate`, the label summary, training-log DataFrames) and an
output path; it writes ``<stem>.png`` (150 dpi) and ``<stem>.pdf`` atomically
and returns both paths. Figures are built on :class:`matplotlib.figure.Figure`
(Agg canvas) inside :func:`matplotlib.rc_context`, so nothing global changes.
File bytes are deterministic: no date in either file and no software stamp in
the PNG.

Colours are the Okabe-Ito colour-blind-safe palette; variants also differ by
marker, so the figures survive greyscale printing. Humans are black, the
latent truth grey.

Config keys read (the ``evaluation`` section, :func:`build_figures` only):
``baseline_variant`` (variant order), ``entropy_bins`` (stratum edges drawn on
the entropy histogram).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sertools.classes import CLASSES
from sertools.io import atomic_path

__all__ = [
    "OKABE_ITO",
    "build_figures",
    "figure_stems",
    "plot_confusion",
    "plot_entropy_histogram",
    "plot_examples",
    "plot_metric_by_stratum",
    "plot_other_by_stratum",
    "plot_reliability",
    "plot_training_curves",
    "save_figure",
    "variant_styles",
]

PathLike = str | Path

# Okabe & Ito (2008), ordered so the first colours are the most distinct on white;
# yellow comes last (weak contrast for thin lines).
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
)
HUMAN_COLOUR = "#000000"
TRUTH_COLOUR = "#8C8C8C"
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
_SPLIT_ORDER = ("Train", "Development", "Test1", "Test2", "all")
STRATA_FIGURE_METRICS: tuple[str, ...] = ("jsd_primary", "kld_primary", "macro_f1")

METRIC_LABELS: dict[str, str] = {
    "jsd_primary": "JSD to primary votes (base 2, in [0, 1])",
    "kld_primary": "KL(human ‖ model) to primary votes (nats)",
    "jsd_merged": "JSD to merged votes (base 2, in [0, 1])",
    "kld_merged": "KL(human ‖ model) to merged votes (nats)",
    "jsd_true": "JSD to latent truth (base 2, in [0, 1])",
    "kld_true": "KL(truth ‖ model) (nats)",
    "macro_f1": "Macro-F1 (X excluded)",
    "accuracy": "Accuracy (X excluded)",
    "ece": "Expected calibration error",
}
_RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "pdf.fonttype": 42,  # embed TrueType: text stays selectable and editable
    "svg.hashsalt": "sertools",
    "savefig.dpi": 150,
}


class PlotError(ValueError):
    """The data handed to a plotting function cannot be drawn."""


# ================================================================================= helpers


def save_figure(fig: Figure, out: PathLike, dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` (atomically, no dates) and return the paths.

    ``out`` may be the stem or a path ending in ``.png``/``.pdf``.
    """
    stem = Path(out)
    if stem.suffix.lower() in (".png", ".pdf"):
        stem = stem.with_suffix("")
    paths = []
    for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "ModDate": None})):
        dest = stem.with_name(f"{stem.name}.{ext}")
        with atomic_path(dest) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi, metadata=meta)
        paths.append(dest)
    return paths


def variant_styles(variants: Sequence[str]) -> dict[str, dict[str, str]]:
    """Colour and marker per variant, in the given order (stable across figures)."""
    return {
        v: {"color": OKABE_ITO[i % len(OKABE_ITO)], "marker": _MARKERS[i % len(_MARKERS)]}
        for i, v in enumerate(variants)
    }


def _new_figure(w: float, h: float) -> Figure:
    return Figure(figsize=(w, h), layout="constrained")


def _ordered_splits(splits: Sequence[str]) -> list[str]:
    rank = {s: i for i, s in enumerate(_SPLIT_ORDER)}
    return sorted(set(splits), key=lambda s: (rank.get(s, len(rank)), s))


def _present_splits(metrics: Mapping[str, Mapping[str, Any]], wanted: Sequence[str] | None) -> list[str]:
    have = {s for res in metrics.values() for s in res.get("splits", {})}
    if wanted is not None:
        out = [s for s in wanted if s in have]
    else:
        tests = [s for s in ("Test1", "Test2") if s in have]
        out = tests or _ordered_splits(list(have))
    if not out:
        raise PlotError(f"none of the splits {list(wanted) if wanted else 'Test1/Test2'} have metrics")
    return out


def _stratum_names(metrics: Mapping[str, Mapping[str, Any]]) -> list[str]:
    for res in metrics.values():
        if res.get("strata"):
            return list(res["strata"])
    raise PlotError("the metrics carry no stratum names ('strata')")


def _short_stratum(name: str) -> str:
    """``[0.333, 0.667)`` -> ``[0.33, 0.67)`` for tick labels."""
    try:
        lo, hi = name[1:-1].split(",")
        return f"{name[0]}{float(lo):.2f}, {float(hi):.2f}{name[-1]}"
    except ValueError:
        return name


def _val(e: Mapping[str, Any] | None, key: str) -> float:
    v = None if e is None else e.get(key)
    return float("nan") if v is None else float(v)


def _yerr(means: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Asymmetric error bars; 0 where the CI is missing."""
    err = np.vstack([means - lo, hi - means])
    return np.where(np.isfinite(err), np.clip(err, 0, None), 0.0)


def _offsets(n: int, width: float = 0.7) -> np.ndarray:
    if n == 1:
        return np.zeros(1)
    return np.linspace(-width / 2, width / 2, n)


def _legend_below(
    fig: Figure, handles: Sequence[Any], labels: Sequence[str], ncol: int | None = None
) -> None:
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=ncol or min(len(labels), 4),
        frameon=False,
    )


# =================================================================================== plots


def plot_metric_by_stratum(
    metrics: Mapping[str, Mapping[str, Any]],
    metric: str,
    out: PathLike,
    splits: Sequence[str] | None = None,
) -> list[Path]:
    """``metric`` per entropy stratum (mean over seeds, bootstrap CI bars), one panel per split.

    ``metrics``: variant -> variant_metrics JSON, in legend order. Tick labels
    give each stratum's size (utterances the metric uses).
    """
    if not metrics:
        raise PlotError("plot_metric_by_stratum: no variants")
    splits = _present_splits(metrics, splits)
    strata = _stratum_names(metrics)
    styles = variant_styles(list(metrics))
    offs = _offsets(len(metrics), 0.36)
    x = np.arange(len(strata), dtype=float)
    with mpl.rc_context(_RC):
        fig = _new_figure(3.3 * len(splits) + 0.6, 3.6)
        axes = fig.subplots(1, len(splits), sharey=True, squeeze=False)[0]
        handles = []
        for ax, split in zip(axes, splits, strict=True):
            sizes = ["?"] * len(strata)
            for off, (v, res) in zip(offs, metrics.items(), strict=True):
                sres = res.get("splits", {}).get(split)
                if sres is None:
                    continue
                es = [sres["strata"].get(s, {}).get("metrics", {}).get(metric) for s in strata]
                m = np.array([_val(e, "mean") for e in es])
                lo = np.array([_val(e, "ci_low") for e in es])
                hi = np.array([_val(e, "ci_high") for e in es])
                for j, s in enumerate(strata):
                    if sizes[j] == "?":
                        e = es[j]
                        sizes[j] = (
                            str(e["n"])
                            if e
                            else str(sres["strata"].get(s, {}).get("n_utterances", {}).get("all", 0))
                        )
                h = ax.errorbar(
                    x + off,
                    m,
                    yerr=_yerr(m, lo, hi),
                    color=styles[v]["color"],
                    marker=styles[v]["marker"],
                    markersize=5,
                    linewidth=1.0,
                    elinewidth=1.2,
                    capsize=3,
                    label=v,
                )
                if ax is axes[0]:
                    handles.append(h)
            ax.set_xticks(x, [f"{_short_stratum(s)}\nn = {n}" for s, n in zip(strata, sizes, strict=True)])
            ax.set_xlim(-0.6, len(strata) - 0.4)
            ax.set_title(split)
            ax.set_xlabel("Normalised primary-vote entropy stratum")
        axes[0].set_ylabel(METRIC_LABELS.get(metric, metric))
        if metric.split("_")[0] in ("jsd", "kld", "ece", "brier") or metric in ("macro_f1", "accuracy"):
            axes[0].set_ylim(bottom=0)
        _legend_below(fig, handles, [h.get_label() for h in handles])
        fig.suptitle(
            f"{METRIC_LABELS.get(metric, metric).split(' (')[0]} by annotation-entropy stratum "
            "(mean over seeds, bootstrap CI)",
            fontsize=10,
        )
        return save_figure(fig, out)


def plot_other_by_stratum(
    metrics: Mapping[str, Mapping[str, Any]], out: PathLike, splits: Sequence[str] | None = None
) -> list[Path]:
    """The Other class per entropy stratum: share of argmax = Other (top) and mean Other
    probability (bottom) per variant, against the humans' mean primary-vote share of Other."""
    if not metrics:
        raise PlotError("plot_other_by_stratum: no variants")
    splits = _present_splits(metrics, splits)
    cols = ["all", *_stratum_names(metrics)]
    styles = variant_styles(list(metrics))
    offs = _offsets(len(metrics), 0.4)
    x = np.arange(len(cols), dtype=float)
    rows = (
        ("other_pred_share", "Share predicted Other\n(argmax)"),
        ("other_mass", "Mean probability\non Other"),
    )
    with mpl.rc_context(_RC):
        fig = _new_figure(3.4 * len(splits) + 0.8, 5.4)
        axes = fig.subplots(2, len(splits), sharey="row", sharex="col", squeeze=False)
        handles: dict[str, Any] = {}
        for c, split in enumerate(splits):
            for r, (field, ylabel) in enumerate(rows):
                ax = axes[r, c]
                for off, (v, res) in zip(offs, metrics.items(), strict=True):
                    oc = res.get("splits", {}).get(split, {}).get("other_class")
                    if not oc:
                        continue
                    es = [oc.get(k, {}).get(field) for k in cols]
                    m = np.array([_val(e, "mean") for e in es])
                    lo = np.array([_val(e, "ci_low") for e in es])
                    hi = np.array([_val(e, "ci_high") for e in es])
                    h = ax.errorbar(
                        x + off,
                        m,
                        yerr=_yerr(m, lo, hi),
                        color=styles[v]["color"],
                        marker=styles[v]["marker"],
                        linestyle="none",
                        markersize=5,
                        capsize=3,
                        label=v,
                    )
                    handles.setdefault(v, h)
                ax.axvline(0.5, color="0.6", linewidth=0.8)  # "all" | strata
                oc = _first_other(metrics, split)
                if oc:
                    hm = np.array([_val(oc.get(k, {}).get("human_other_share"), "mean") for k in cols])
                    hh = ax.hlines(
                        hm, x - 0.42, x + 0.42, colors=HUMAN_COLOUR, linestyles="--", linewidth=1.4
                    )
                    handles.setdefault("human", hh)
                if c == 0:
                    ax.set_ylabel(ylabel)
                if r == 0:
                    ax.set_title(split)
            oc = _first_other(metrics, split)
            sizes = [oc.get(k, {}).get("n_utterances", 0) for k in cols]
            labels = ["all" if k == "all" else _short_stratum(k) for k in cols]
            axes[1, c].set_xticks(x, [f"{lab}\nn = {n}" for lab, n in zip(labels, sizes, strict=True)])
            axes[1, c].set_xlabel("Normalised primary-vote entropy stratum")
        for ax in axes[:, 0]:  # after drawing: the shared limits then cover every column
            ax.set_ylim(bottom=0)
        names = [k for k in metrics if k in handles]
        hl = [handles[k] for k in names] + ([handles["human"]] if "human" in handles else [])
        ll = names + (["humans: mean primary-vote share of Other"] if "human" in handles else [])
        _legend_below(fig, hl, ll)
        fig.suptitle(
            "Other class by annotation entropy (all utterances, mean over seeds, bootstrap CI)", fontsize=10
        )
        return save_figure(fig, out)


def _first_other(metrics: Mapping[str, Mapping[str, Any]], split: str) -> Mapping[str, Any]:
    """The Other-class block of the first variant that has ``split`` (human shares and sizes
    do not depend on the variant)."""
    for res in metrics.values():
        oc = res.get("splits", {}).get(split, {}).get("other_class")
        if oc:
            return oc
    return {}


def plot_confusion(
    variant_metrics: Mapping[str, Any],
    out: PathLike,
    splits: Sequence[str] | None = None,
    variant: str | None = None,
) -> list[Path]:
    """Row-normalised confusion matrices (consensus class x prediction, summed over seeds), one panel per split."""
    name = variant or variant_metrics.get("variant") or "model"
    splits = _present_splits({name: variant_metrics}, splits)
    k = len(CLASSES)
    with mpl.rc_context({**_RC, "axes.grid": False}):
        fig = _new_figure(4.3 * len(splits) + 0.9, 4.6)
        axes = fig.subplots(1, len(splits), squeeze=False)[0]
        im = None
        for ax, split in zip(axes, splits, strict=True):
            cm = np.asarray(variant_metrics["splits"][split]["confusion_matrix"]["summed"], dtype=float)
            if cm.shape != (k, k):
                raise PlotError(f"{name}/{split}: confusion matrix has shape {cm.shape}, expected ({k}, {k})")
            support = cm.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                norm = cm / support[:, None]
            cmap = mpl.colormaps["Blues"].with_extremes(bad="#EEEEEE")  # grey: class absent
            im = ax.imshow(np.ma.masked_invalid(norm), cmap=cmap, vmin=0, vmax=1)
            for i in range(k):
                for j in range(k):
                    if np.isfinite(norm[i, j]) and cm[i, j] > 0:
                        ax.text(
                            j,
                            i,
                            f"{100 * norm[i, j]:.0f}",
                            ha="center",
                            va="center",
                            fontsize=6.5,
                            color="white" if norm[i, j] > 0.55 else "black",
                        )
            n_seeds = variant_metrics["splits"][split].get("n_seeds", 1)
            ax.set_xticks(range(k), CLASSES, rotation=45, ha="right")
            ax.set_yticks(range(k), [f"{c} ({int(s)})" for c, s in zip(CLASSES, support, strict=True)])
            ax.set_xlabel("Predicted class (argmax)")
            ax.set_ylabel("Consensus class (count over seeds)")
            ax.set_title(f"{split} ({n_seeds} seed{'s' if n_seeds != 1 else ''} pooled)")
        cb = fig.colorbar(im, ax=list(axes), shrink=0.8)
        cb.set_label("Share of the consensus class's utterances")
        fig.suptitle(f"{name}: confusion matrix, row-normalised, % (X utterances excluded)", fontsize=10)
        return save_figure(fig, out)


def plot_reliability(
    variant_metrics: Mapping[str, Any],
    out: PathLike,
    splits: Sequence[str] | None = None,
    variant: str | None = None,
) -> list[Path]:
    """Reliability diagrams (accuracy vs mean confidence per bin, pooled over seeds) with bin counts."""
    name = variant or variant_metrics.get("variant") or "model"
    splits = _present_splits({name: variant_metrics}, splits)
    with mpl.rc_context(_RC):
        fig = _new_figure(3.4 * len(splits) + 0.4, 4.6)
        axes = fig.subplots(2, len(splits), squeeze=False, sharex=True, height_ratios=[3, 1])
        for c, split in enumerate(splits):
            sres = variant_metrics["splits"][split]
            rd = sres["reliability_diagram"]
            edges = np.asarray(rd["edges"], dtype=float)
            centres = (edges[:-1] + edges[1:]) / 2
            width = np.diff(edges)
            acc = np.array([np.nan if a is None else a for a in rd["accuracy"]], dtype=float)
            conf = np.array([np.nan if a is None else a for a in rd["mean_confidence"]], dtype=float)
            count = np.asarray(rd["count"], dtype=float)
            ax = axes[0, c]
            ok = np.isfinite(acc)
            ax.bar(
                centres[ok], acc[ok], width=width[ok] * 0.95, color=OKABE_ITO[0], alpha=0.85, label="accuracy"
            )
            ax.bar(
                centres[ok],
                (conf - acc)[ok],
                bottom=acc[ok],
                width=width[ok] * 0.95,
                facecolor="none",
                edgecolor=OKABE_ITO[3],
                hatch="///",
                linewidth=0.8,
                label="gap to mean confidence",
            )
            ax.plot(
                [0, 1], [0, 1], linestyle="--", color=HUMAN_COLOUR, linewidth=1, label="perfect calibration"
            )
            e = sres.get("metrics", {}).get("ece")
            if e and e.get("mean") is not None:
                txt = f"ECE = {e['mean']:.3f}"
                if e.get("ci_low") is not None:
                    txt += f"\n[{e['ci_low']:.3f}, {e['ci_high']:.3f}]"
                ax.text(
                    0.04,
                    0.96,
                    txt,
                    transform=ax.transAxes,
                    va="top",
                    fontsize=8,
                    bbox={"facecolor": "white", "edgecolor": "0.7", "alpha": 0.9, "boxstyle": "round"},
                )
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_title(f"{split} ({sres.get('n_seeds', 1)} seeds pooled)")
            if c == 0:
                ax.set_ylabel("Accuracy in bin (X excluded)")
            axc = axes[1, c]
            axc.bar(centres, count, width=width * 0.95, color=TRUTH_COLOUR)
            axc.set_xlabel("Confidence (max predicted probability)")
            if c == 0:
                axc.set_ylabel("Utterances")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        _legend_below(fig, handles, labels, ncol=3)
        fig.suptitle(f"{name}: reliability diagram (ECE: mean over seeds, bootstrap CI)", fontsize=10)
        return save_figure(fig, out)


_CURVE_PANELS: tuple[tuple[str, tuple[tuple[str, str, str], ...], str, bool], ...] = (
    (
        "Loss",
        (("train_loss", "train", "-"), ("val_loss", "validation", "--")),
        "Loss (training objective)",
        False,
    ),
    ("Validation macro-F1", (("val_macro_f1", "validation", "-"),), "Macro-F1", False),
    ("Validation JSD", (("val_jsd", "validation", "-"),), "JSD to primary votes (base 2)", False),
    (
        "Learning rates",
        (("lr_backbone", "backbone", "-"), ("lr_heads", "heads", "--")),
        "Learning rate",
        True,
    ),
)


def plot_training_curves(
    logs: Mapping[Any, pd.DataFrame], out: PathLike, variant: str | None = None
) -> list[Path]:
    """Training curves per seed (thin lines): losses, validation macro-F1 and JSD, learning rates.

    ``logs``: seed -> train_log DataFrame. Columns that are absent are skipped
    (the panel says so); ``epoch`` defaults to the row number + 1.
    """
    if not logs:
        raise PlotError("plot_training_curves: no training logs")
    seeds = list(logs)
    seed_colours = {s: OKABE_ITO[i % len(OKABE_ITO)] for i, s in enumerate(seeds)}
    with mpl.rc_context(_RC):
        fig = _new_figure(7.6, 5.6)
        axes = fig.subplots(2, 2, sharex=True).ravel()
        for ax, (title, series, ylabel, logy) in zip(axes, _CURVE_PANELS, strict=True):
            drawn: dict[str, str] = {}  # label -> line style, for the panel's own legend
            for s in seeds:
                df = logs[s]
                ep = df["epoch"].to_numpy() if "epoch" in df else np.arange(1, len(df) + 1)
                for col, label, ls in series:
                    if col not in df or not df[col].notna().any():
                        continue
                    y = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
                    ax.plot(
                        ep, y, linestyle=ls, color=seed_colours[s], linewidth=1.0, marker=".", markersize=3
                    )
                    drawn[label] = ls
            if logy and drawn:
                ax.set_yscale("log")
            if not drawn:
                ax.text(0.5, 0.5, "not logged", transform=ax.transAxes, ha="center", va="center", color="0.4")
            elif len(series) > 1:
                ax.legend(
                    [mpl.lines.Line2D([], [], color="0.3", linestyle=ls) for ls in drawn.values()],
                    list(drawn),
                    frameon=False,
                    loc="best",
                )
            ax.set_title(title)
            ax.set_ylabel(ylabel)
        for ax in axes[2:]:
            ax.set_xlabel("Epoch")
        handles = [mpl.lines.Line2D([], [], color=seed_colours[s], linewidth=1.5) for s in seeds]
        _legend_below(fig, handles, [f"seed {s}" for s in seeds], ncol=min(len(seeds), 6))
        fig.suptitle(f"{variant or 'model'}: training curves (one line per seed)", fontsize=10)
        return save_figure(fig, out)


def plot_entropy_histogram(
    label_summary: Mapping[str, Any],
    out: PathLike,
    edges: Sequence[float] | None = None,
    splits: Sequence[str] | None = None,
) -> list[Path]:
    """Share of utterances per normalised-entropy bin, per split (primary and merged votes).

    ``edges``: entropy-stratum edges to mark (``evaluation.entropy_bins``).
    """
    hist = label_summary.get("entropy_histogram")
    if not hist or "edges" not in hist:
        raise PlotError("the label summary has no entropy_histogram with edges")
    bins = np.asarray(hist["edges"], dtype=float)
    avail = [s for s in hist if s != "edges"]
    splits = [s for s in (splits or _ordered_splits([s for s in avail if s != "all"])) if s in hist]
    if not splits:
        raise PlotError("no split of the entropy histogram to draw")
    colours = {s: OKABE_ITO[i % len(OKABE_ITO)] for i, s in enumerate(splits)}
    styles = ("-", "--", "-.", ":")
    with mpl.rc_context(_RC):
        fig = _new_figure(7.6, 3.9)
        axes = fig.subplots(1, 2, sharey=True)
        for ax, kind in zip(axes, ("primary", "merged"), strict=True):
            for i, s in enumerate(splits):
                counts = np.asarray(hist[s].get(kind, []), dtype=float)
                if counts.size != len(bins) - 1 or counts.sum() == 0:
                    continue
                share = counts / counts.sum()
                ax.stairs(
                    share,
                    bins,
                    color=colours[s],
                    linestyle=styles[i % len(styles)],
                    linewidth=1.6,
                    label=f"{s} (n = {int(counts.sum())})",
                )
            for e in edges or ():
                if 0 < e < 1:
                    ax.axvline(e, color="0.35", linestyle=":", linewidth=1)
            ax.set_xlim(bins[0], bins[-1])
            ax.set_xlabel("Normalised entropy (0 = unanimous, 1 = uniform)")
            ax.set_title(f"{kind.capitalize()} votes")
        axes[0].set_ylabel("Share of the split's utterances")
        handles, labels = axes[0].get_legend_handles_labels()
        if edges:
            handles.append(mpl.lines.Line2D([], [], color="0.35", linestyle=":", linewidth=1))
            labels.append("entropy-stratum edges")
        _legend_below(fig, handles, labels, ncol=min(len(labels), 3))
        fig.suptitle("Annotation entropy per split", fontsize=10)
        return save_figure(fig, out)


def plot_examples(
    metrics: Mapping[str, Mapping[str, Any]],
    out: PathLike,
    split: str = "Test1",
    variants: Sequence[str] | None = None,
) -> list[Path]:
    """Predicted (seed-averaged) vs human (and latent true) distributions of a few utterances.

    The utterances are the ``examples`` of ``split`` in the first variant's
    metrics (one per entropy stratum); every other variant must hold the same.
    """
    names = list(variants or metrics)
    if not names:
        raise PlotError("plot_examples: no variants")
    missing = [v for v in names if v not in metrics]
    if missing:
        raise PlotError(f"plot_examples: no metrics for {missing}")
    first = metrics[names[0]]["splits"].get(split)
    if not first or not first.get("examples"):
        raise PlotError(f"plot_examples: {names[0]} has no examples for {split}")
    examples = first["examples"]
    per_variant: dict[str, dict[str, Any]] = {}
    for v in names:
        exs = {e["file_id"]: e for e in metrics[v]["splits"].get(split, {}).get("examples", [])}
        per_variant[v] = exs
    has_true = any("p_true" in e for e in examples)
    series = ["human", *(["true"] if has_true else []), *names]
    styles = variant_styles(names)
    k = len(CLASSES)
    width = 0.84 / len(series)
    offs = (np.arange(len(series)) - (len(series) - 1) / 2) * width
    x = np.arange(k, dtype=float)
    with mpl.rc_context(_RC):
        fig = _new_figure(min(14.0, max(7.6, 0.9 * k + 0.1 * k * len(series))), 2.3 * len(examples) + 0.8)
        axes = fig.subplots(len(examples), 1, sharex=True, squeeze=False)[:, 0]
        handles: dict[str, Any] = {}
        for ax, ex in zip(axes, examples, strict=True):
            for off, s in zip(offs, series, strict=True):
                if s == "human":
                    y, kw, lab = ex["p_primary"], {"color": HUMAN_COLOUR}, "humans (primary votes)"
                elif s == "true":
                    if "p_true" not in ex:
                        continue
                    y = ex["p_true"]
                    kw = {"facecolor": TRUTH_COLOUR, "hatch": "//", "edgecolor": "white"}
                    lab = "latent truth"
                else:
                    e = per_variant[s].get(ex["file_id"])
                    if e is None:
                        continue
                    y, kw, lab = e["probs"], {"color": styles[s]["color"]}, s
                h = ax.bar(x + off, y, width=width, label=lab, **kw)
                handles.setdefault(lab, h)
            ax.set_ylim(0, 1)
            ax.grid(axis="x", visible=False)
            ax.set_ylabel("Probability")
            ax.set_title(
                f"{ex['file_id']}: entropy {ex['entropy_primary']:.2f} "
                f"(stratum {_short_stratum(ex['stratum'])}), consensus {ex['consensus']}",
                fontsize=9,
                loc="left",
            )
        axes[-1].set_xticks(x, CLASSES)
        axes[-1].set_xlabel("Emotion class")
        _legend_below(fig, list(handles.values()), list(handles), ncol=min(len(handles), 4))
        fig.suptitle(f"{split}: predicted (mean over seeds) vs human vote distributions", fontsize=10)
        return save_figure(fig, out)


# ================================================================================== driver


def figure_stems(
    variants: Sequence[str], with_training: bool = True, example_split: str = "Test1"
) -> list[str]:
    """File stems (no extension) :func:`build_figures` writes; each gets ``.png`` and ``.pdf``."""
    stems = [f"strata_{m}" for m in STRATA_FIGURE_METRICS]
    stems += ["other_class", "entropy_histogram", f"examples_{example_split}"]
    for v in variants:
        stems += [f"confusion_{v}", f"reliability_{v}"]
        if with_training:
            stems.append(f"training_{v}")
    return stems


def _read_log(path: PathLike) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise PlotError(f"cannot read training log {path}: {err}") from None


def build_figures(
    metrics: Mapping[str, Mapping[str, Any]],
    label_summary: Mapping[str, Any],
    eval_cfg: Mapping[str, Any],
    out_dir: PathLike,
    train_logs: Mapping[str, Mapping[Any, PathLike | pd.DataFrame]] | None = None,
    example_split: str = "Test1",
) -> list[Path]:
    """Every figure of :func:`figure_stems` into ``out_dir``; returns the files written.

    ``train_logs``: variant -> seed -> train_log.csv path (or DataFrame).
    The example figure uses ``example_split``, or the first evaluated split
    when that one is absent (the stem keeps the requested name).
    """
    if not metrics:
        raise PlotError("build_figures: no variant metrics")
    if train_logs is not None:  # fail before drawing anything
        absent = [v for v in metrics if not train_logs.get(v)]
        if absent:
            raise PlotError(f"build_figures: no training logs for variant(s) {absent}")
    base = eval_cfg.get("baseline_variant")
    order = sorted(metrics, key=lambda v: (v != base, v))
    ordered = {v: metrics[v] for v in order}
    d = Path(out_dir)
    written: list[Path] = []
    for m in STRATA_FIGURE_METRICS:
        written += plot_metric_by_stratum(ordered, m, d / f"strata_{m}")
    written += plot_other_by_stratum(ordered, d / "other_class")
    written += plot_entropy_histogram(
        label_summary, d / "entropy_histogram", edges=eval_cfg.get("entropy_bins")
    )
    have = _ordered_splits([s for res in ordered.values() for s in res.get("splits", {})])
    split = example_split if example_split in have else have[0]
    written += plot_examples(ordered, d / f"examples_{example_split}", split=split)
    for v in order:
        written += plot_confusion(ordered[v], d / f"confusion_{v}", variant=v)
        written += plot_reliability(ordered[v], d / f"reliability_{v}", variant=v)
        if train_logs is not None:
            logs = train_logs[v]
            frames = {s: (p if isinstance(p, pd.DataFrame) else _read_log(p)) for s, p in logs.items()}
            written += plot_training_curves(frames, d / f"training_{v}", variant=v)
    return written


def run_figures(
    metrics_paths: Mapping[str, PathLike],
    label_summary_path: PathLike,
    eval_cfg: Mapping[str, Any],
    out_dir: PathLike,
    train_logs: Mapping[str, Mapping[Any, PathLike]] | None = None,
) -> list[Path]:
    """The ``figures`` stage: load the metrics JSONs and the label summary, draw everything."""
    import json

    metrics = {v: json.loads(Path(p).read_text()) for v, p in metrics_paths.items()}
    label_summary = json.loads(Path(label_summary_path).read_text())
    return build_figures(metrics, label_summary, eval_cfg, out_dir, train_logs=train_logs)

"""The plots: one function per kind of figure, drawing already-loaded data.

Each ``plot_*`` function takes metrics documents (:mod:`sertools.evaluation.metrics_doc`),
the label summary or training-log DataFrames, and an output path; it writes
``<stem>.png`` and ``<stem>.pdf`` through :func:`sertools.report.style.save_figure`
and returns both paths. Panels without data for a split are left out; a
figure with nothing to draw raises :class:`~sertools.report.style.PlotError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

if TYPE_CHECKING:
    from matplotlib.typing import LineStyleType

from sertools import splits as partitions
from sertools.corpus.crema_d import modality_order
from sertools.evaluation import metrics_doc
from sertools.report.stage import document_classes
from sertools.report.style import (
    HUMAN_COLOUR,
    OKABE_ITO,
    RC,
    TRUTH_COLOUR,
    PlotError,
    legend_below,
    new_figure,
    offsets,
    save_figure,
    short_stratum,
    variant_styles,
    yerr,
)

__all__ = [
    "METRIC_LABELS",
    "plot_confusion",
    "plot_entropy_histogram",
    "plot_examples",
    "plot_metric_by_stratum",
    "plot_other_by_stratum",
    "plot_reliability",
    "plot_training_curves",
]

PathLike = str | Path
Docs = Mapping[str, Mapping[str, Any]]

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
_STRATUM_AXIS = "Normalised primary-vote entropy stratum"


# ================================================================================ selection


def _present_splits(metrics: Docs, wanted: Sequence[str] | None) -> list[str]:
    """``wanted`` splits that have metrics; by default the test splits, else every split."""
    have = {s for doc in metrics.values() for s in metrics_doc.split_names(doc)}
    if wanted is not None:
        out = [s for s in wanted if s in have]
    else:
        tests = [s for s in partitions.TEST_SPLITS if s in have]
        out = tests or partitions.ordered(have)
    if not out:
        default = "/".join(partitions.TEST_SPLITS)
        raise PlotError(f"none of the splits {list(wanted) if wanted else default} have metrics")
    return out


def _stratum_names(metrics: Docs) -> list[str]:
    for doc in metrics.values():
        names = metrics_doc.stratum_names(doc)
        if names:
            return names
    raise PlotError("the metrics carry no stratum names ('strata')")


def _series(entries: Sequence[Mapping[str, Any] | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means and CI bounds of a row of entries (NaN where missing)."""
    m = np.array([metrics_doc.value(e, "mean") for e in entries])
    lo = np.array([metrics_doc.value(e, "ci_low") for e in entries])
    hi = np.array([metrics_doc.value(e, "ci_high") for e in entries])
    return m, lo, hi


# ============================================================================ metric by stratum


def _stratum_panel(
    ax: Axes, metrics: Docs, metric: str, split: str, strata: Sequence[str], offs: np.ndarray
) -> list[Any]:
    """One split's panel: ``metric`` per stratum for every variant; returns the line handles."""
    styles = variant_styles(list(metrics))
    x = np.arange(len(strata), dtype=float)
    sizes = ["?"] * len(strata)
    handles = []
    for off, (v, doc) in zip(offs, metrics.items(), strict=True):
        if metrics_doc.split_result(doc, split) is None:
            continue
        es = [metrics_doc.entry(doc, split, metric, s) for s in strata]
        m, lo, hi = _series(es)
        for j, s in enumerate(strata):
            entry = es[j]
            if sizes[j] == "?":
                sizes[j] = str(entry["n"]) if entry else str(metrics_doc.stratum_size(doc, split, s))
        h = ax.errorbar(
            x + off,
            m,
            yerr=yerr(m, lo, hi),
            color=styles[v]["color"],
            marker=styles[v]["marker"],
            markersize=5,
            linewidth=1.0,
            elinewidth=1.2,
            capsize=3,
            label=v,
        )
        handles.append(h)
    ax.set_xticks(x, [f"{short_stratum(s)}\nn = {n}" for s, n in zip(strata, sizes, strict=True)])
    ax.set_xlim(-0.6, len(strata) - 0.4)
    ax.set_title(split)
    ax.set_xlabel(_STRATUM_AXIS)
    return handles


def plot_metric_by_stratum(
    metrics: Docs, metric: str, out: PathLike, splits: Sequence[str] | None = None
) -> list[Path]:
    """``metric`` per entropy stratum (mean over seeds, bootstrap CI bars), one panel per split.

    ``metrics``: variant -> metrics document, in legend order. Tick labels
    give each stratum's size (utterances the metric uses).
    """
    if not metrics:
        raise PlotError("plot_metric_by_stratum: no variants")
    splits = _present_splits(metrics, splits)
    strata = _stratum_names(metrics)
    offs = offsets(len(metrics), 0.36)
    with mpl.rc_context(RC):
        fig = new_figure(3.3 * len(splits) + 0.6, 3.6)
        axes = fig.subplots(1, len(splits), sharey=True, squeeze=False)[0]
        handles = []
        for ax, split in zip(axes, splits, strict=True):
            drawn = _stratum_panel(ax, metrics, metric, split, strata, offs)
            if ax is axes[0]:
                handles = drawn
        label = METRIC_LABELS.get(metric, metric)
        axes[0].set_ylabel(label)
        if metric.split("_")[0] in ("jsd", "kld", "ece", "brier") or metric in ("macro_f1", "accuracy"):
            axes[0].set_ylim(bottom=0)
        legend_below(fig, handles, [h.get_label() for h in handles])
        fig.suptitle(
            f"{label.split(' (')[0]} by annotation-entropy stratum (mean over seeds, bootstrap CI)",
            fontsize=10,
        )
        return save_figure(fig, out)


# ============================================================================== Other class


def _first_other(metrics: Docs, split: str) -> Mapping[str, Any]:
    """The Other-class block of the first variant that has ``split`` (human shares and sizes
    do not depend on the variant)."""
    for doc in metrics.values():
        oc = metrics_doc.other_class(doc, split)
        if oc:
            return oc
    return {}


def _other_panel(
    ax: Axes, metrics: Docs, split: str, field: str, cols: Sequence[str], handles: dict[str, Any]
) -> None:
    """``field`` of the Other-class rows per variant, with the humans' share as dashes."""
    styles = variant_styles(list(metrics))
    x = np.arange(len(cols), dtype=float)
    for off, (v, doc) in zip(offsets(len(metrics), 0.4), metrics.items(), strict=True):
        oc = metrics_doc.other_class(doc, split)
        if not oc:
            continue
        m, lo, hi = _series([oc.get(k, {}).get(field) for k in cols])
        h = ax.errorbar(
            x + off,
            m,
            yerr=yerr(m, lo, hi),
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
        hm = np.array([metrics_doc.value(oc.get(k, {}).get("human_other_share"), "mean") for k in cols])
        hh = ax.hlines(hm, x - 0.42, x + 0.42, colors=HUMAN_COLOUR, linestyles="--", linewidth=1.4)
        handles.setdefault("human", hh)


def plot_other_by_stratum(metrics: Docs, out: PathLike, splits: Sequence[str] | None = None) -> list[Path]:
    """The Other class per entropy stratum: share of argmax = Other (top) and mean Other
    probability (bottom) per variant, against the humans' mean primary-vote share of Other."""
    if not metrics:
        raise PlotError("plot_other_by_stratum: no variants")
    splits = _present_splits(metrics, splits)
    cols = [partitions.ALL, *_stratum_names(metrics)]
    x = np.arange(len(cols), dtype=float)
    rows = (
        ("other_pred_share", "Share predicted Other\n(argmax)"),
        ("other_mass", "Mean probability\non Other"),
    )
    with mpl.rc_context(RC):
        fig = new_figure(3.4 * len(splits) + 0.8, 5.4)
        axes = fig.subplots(2, len(splits), sharey="row", sharex="col", squeeze=False)
        handles: dict[str, Any] = {}
        for c, split in enumerate(splits):
            for r, (field, ylabel) in enumerate(rows):
                _other_panel(axes[r, c], metrics, split, field, cols, handles)
                if c == 0:
                    axes[r, c].set_ylabel(ylabel)
                if r == 0:
                    axes[r, c].set_title(split)
            oc = _first_other(metrics, split)
            sizes = [oc.get(k, {}).get("n_utterances", 0) for k in cols]
            labels = [k if k == partitions.ALL else short_stratum(k) for k in cols]
            axes[1, c].set_xticks(x, [f"{lab}\nn = {n}" for lab, n in zip(labels, sizes, strict=True)])
            axes[1, c].set_xlabel(_STRATUM_AXIS)
        for ax in axes[:, 0]:  # after drawing: the shared limits then cover every column
            ax.set_ylim(bottom=0)
        names = [k for k in metrics if k in handles]
        hl = [handles[k] for k in names] + ([handles["human"]] if "human" in handles else [])
        ll = names + (["humans: mean primary-vote share of Other"] if "human" in handles else [])
        legend_below(fig, hl, ll)
        fig.suptitle(
            "Other class by annotation entropy (all utterances, mean over seeds, bootstrap CI)", fontsize=10
        )
        return save_figure(fig, out)


# ================================================================================ confusion


def _classes(doc: Mapping[str, Any]) -> list[str]:
    """The class names of a metrics document (:func:`sertools.report.stage.document_classes`)."""
    return list(document_classes({"": doc}, PlotError).names)


def _confusion_panel(ax: Axes, doc: Mapping[str, Any], name: str, split: str) -> Any:
    """Row-normalised confusion matrix of one split (percentages in the cells); returns the image."""
    names = _classes(doc)
    k = len(names)
    cm = np.asarray(metrics_doc.confusion_summed(doc, split), dtype=float)
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
    n_seeds = metrics_doc.n_seeds(doc, split)
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), [f"{c} ({int(s)})" for c, s in zip(names, support, strict=True)])
    ax.set_xlabel("Predicted class (argmax)")
    ax.set_ylabel("Consensus class (count over seeds)")
    ax.set_title(f"{split} ({n_seeds} seed{'s' if n_seeds != 1 else ''} pooled)")
    return im


def plot_confusion(
    variant_metrics: Mapping[str, Any],
    out: PathLike,
    splits: Sequence[str] | None = None,
    variant: str | None = None,
) -> list[Path]:
    """Row-normalised confusion matrices (consensus class x prediction, summed over seeds), one panel per split."""
    name = variant or variant_metrics.get("variant") or "model"
    splits = _present_splits({name: variant_metrics}, splits)
    with mpl.rc_context({**RC, "axes.grid": False}):
        fig = new_figure(4.3 * len(splits) + 0.9, 4.6)
        axes = fig.subplots(1, len(splits), squeeze=False)[0]
        im = None
        for ax, split in zip(axes, splits, strict=True):
            im = _confusion_panel(ax, variant_metrics, name, split)
        if im is None:
            raise PlotError("plot_confusion: no split to draw")
        cb = fig.colorbar(im, ax=list(axes), shrink=0.8)
        cb.set_label("Share of the consensus class's utterances")
        fig.suptitle(f"{name}: confusion matrix, row-normalised, % (X utterances excluded)", fontsize=10)
        return save_figure(fig, out)


# ============================================================================== reliability


def _ece_note(ax: Axes, e: Mapping[str, Any] | None) -> None:
    """The split's ECE (and its CI) in a box in the panel's corner."""
    if not e or e.get("mean") is None:
        return
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


def _reliability_panels(ax: Axes, axc: Axes, doc: Mapping[str, Any], split: str, first: bool) -> None:
    """Accuracy per confidence bin with the gap to the mean confidence (``ax``), bin counts (``axc``)."""
    rd = metrics_doc.reliability_diagram(doc, split)
    edges = np.asarray(rd["edges"], dtype=float)
    centres = (edges[:-1] + edges[1:]) / 2
    width = np.diff(edges)
    acc = np.array([np.nan if a is None else a for a in rd["accuracy"]], dtype=float)
    conf = np.array([np.nan if a is None else a for a in rd["mean_confidence"]], dtype=float)
    count = np.asarray(rd["count"], dtype=float)
    ok = np.isfinite(acc)
    ax.bar(centres[ok], acc[ok], width=width[ok] * 0.95, color=OKABE_ITO[0], alpha=0.85, label="accuracy")
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
    ax.plot([0, 1], [0, 1], linestyle="--", color=HUMAN_COLOUR, linewidth=1, label="perfect calibration")
    _ece_note(ax, metrics_doc.entry(doc, split, "ece"))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"{split} ({metrics_doc.n_seeds(doc, split)} seeds pooled)")
    if first:
        ax.set_ylabel("Accuracy in bin (X excluded)")
    axc.bar(centres, count, width=width * 0.95, color=TRUTH_COLOUR)
    axc.set_xlabel("Confidence (max predicted probability)")
    if first:
        axc.set_ylabel("Utterances")


def plot_reliability(
    variant_metrics: Mapping[str, Any],
    out: PathLike,
    splits: Sequence[str] | None = None,
    variant: str | None = None,
) -> list[Path]:
    """Reliability diagrams (accuracy vs mean confidence per bin, pooled over seeds) with bin counts."""
    name = variant or variant_metrics.get("variant") or "model"
    splits = _present_splits({name: variant_metrics}, splits)
    with mpl.rc_context(RC):
        fig = new_figure(3.4 * len(splits) + 0.4, 4.6)
        axes = fig.subplots(2, len(splits), squeeze=False, sharex=True, height_ratios=[3, 1])
        for c, split in enumerate(splits):
            _reliability_panels(axes[0, c], axes[1, c], variant_metrics, split, c == 0)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        legend_below(fig, handles, labels, ncol=3)
        fig.suptitle(f"{name}: reliability diagram (ECE: mean over seeds, bootstrap CI)", fontsize=10)
        return save_figure(fig, out)


# ========================================================================== training curves

# (title, ((column, label, line style), ...), y label, log scale)
_CURVE_PANELS: tuple[tuple[str, tuple[tuple[str, str, LineStyleType], ...], str, bool], ...] = (
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


def _curve_panel(
    ax: Axes,
    logs: Mapping[Any, pd.DataFrame],
    colours: Mapping[Any, str],
    panel: tuple[str, tuple[tuple[str, str, LineStyleType], ...], str, bool],
) -> None:
    """One panel of training curves: its columns for every seed (absent columns skipped)."""
    title, series, ylabel, logy = panel
    drawn: dict[str, LineStyleType] = {}  # label -> line style, for the panel's own legend
    for s, df in logs.items():
        ep = df["epoch"].to_numpy() if "epoch" in df else np.arange(1, len(df) + 1)
        for col, label, ls in series:
            if col not in df or not df[col].notna().any():
                continue
            y = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
            ax.plot(ep, y, linestyle=ls, color=colours[s], linewidth=1.0, marker=".", markersize=3)
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
    colours = {s: OKABE_ITO[i % len(OKABE_ITO)] for i, s in enumerate(seeds)}
    with mpl.rc_context(RC):
        fig = new_figure(7.6, 5.6)
        axes = fig.subplots(2, 2, sharex=True).ravel()
        for ax, panel in zip(axes, _CURVE_PANELS, strict=True):
            _curve_panel(ax, logs, colours, panel)
        for ax in axes[2:]:
            ax.set_xlabel("Epoch")
        handles = [mpl.lines.Line2D([], [], color=colours[s], linewidth=1.5) for s in seeds]
        legend_below(fig, handles, [f"seed {s}" for s in seeds], ncol=min(len(seeds), 6))
        fig.suptitle(f"{variant or 'model'}: training curves (one line per seed)", fontsize=10)
        return save_figure(fig, out)


# ======================================================================== entropy histogram


def _histogram_panel(
    ax: Axes, hist: Mapping[str, Any], kind: str, splits: Sequence[str], edges: Sequence[float] | None
) -> None:
    """Share of each split's utterances per entropy bin of the ``kind`` votes, stratum edges dotted."""
    bins = np.asarray(hist["edges"], dtype=float)
    line_styles = ("-", "--", "-.", ":")
    for i, s in enumerate(splits):
        counts = np.asarray(hist[s].get(kind, []), dtype=float)
        if counts.size != len(bins) - 1 or counts.sum() == 0:
            continue
        ax.stairs(
            counts / counts.sum(),
            bins,
            color=OKABE_ITO[i % len(OKABE_ITO)],
            linestyle=line_styles[i % len(line_styles)],
            linewidth=1.6,
            label=f"{s} (n = {int(counts.sum())})",
        )
    for e in edges or ():
        if 0 < e < 1:
            ax.axvline(e, color="0.35", linestyle=":", linewidth=1)
    ax.set_xlim(bins[0], bins[-1])
    ax.set_xlabel("Normalised entropy (0 = unanimous, 1 = uniform)")
    ax.set_title(f"{kind.capitalize()} votes")


def plot_entropy_histogram(
    label_summary: Mapping[str, Any],
    out: PathLike,
    edges: Sequence[float] | None = None,
    splits: Sequence[str] | None = None,
) -> list[Path]:
    """Share of utterances per normalised-entropy bin, per split (primary and merged votes).

    ``edges``: entropy-stratum edges to mark (``evaluation.entropy_bins``).
    """
    if label_summary.get("corpus") == "crema_d":
        return _plot_modality_entropy(label_summary, out, edges)
    hist = label_summary.get("entropy_histogram")
    if not hist or "edges" not in hist:
        raise PlotError("the label summary has no entropy_histogram with edges")
    avail = {s for s in hist if s not in ("edges", partitions.ALL)}
    splits = [s for s in (splits or partitions.ordered(avail)) if s in hist]
    if not splits:
        raise PlotError("no split of the entropy histogram to draw")
    with mpl.rc_context(RC):
        fig = new_figure(7.6, 3.9)
        axes = fig.subplots(1, 2, sharey=True)
        for ax, kind in zip(axes, ("primary", "merged"), strict=True):
            _histogram_panel(ax, hist, kind, splits, edges)
        axes[0].set_ylabel("Share of the split's utterances")
        handles, labels = axes[0].get_legend_handles_labels()
        if edges:
            handles.append(mpl.lines.Line2D([], [], color="0.35", linestyle=":", linewidth=1))
            labels.append("entropy-stratum edges")
        legend_below(fig, handles, labels, ncol=min(len(labels), 3))
        fig.suptitle("Annotation entropy per split", fontsize=10)
        return save_figure(fig, out)


def _plot_modality_entropy(
    label_summary: Mapping[str, Any], out: PathLike, edges: Sequence[float] | None
) -> list[Path]:
    """A CREMA-D label summary: share of clips per normalised vote-entropy bin for each rating
    modality (voice only, face only, audio-visual), the labels' modality named."""
    stats = label_summary.get("statistics") or {}
    hists: dict[str, Mapping[str, Any]] = {}
    for m in modality_order(stats):
        h = (stats[m].get("entropy") or {}).get("histogram")
        if h and "edges" in h and "counts" in h:
            hists[m] = h
    if not hists:
        raise PlotError("the CREMA-D label summary has no entropy histogram of any modality")
    chosen = label_summary.get("modality")
    line_styles = ("-", "--", "-.", ":")
    with mpl.rc_context(RC):
        fig = new_figure(5.6, 3.9)
        ax = fig.subplots(1, 1)
        for i, (m, h) in enumerate(hists.items()):
            counts = np.asarray(h["counts"], dtype=float)
            if counts.sum() == 0:
                continue
            ax.stairs(
                counts / counts.sum(),
                np.asarray(h["edges"], dtype=float),
                color=OKABE_ITO[i % len(OKABE_ITO)],
                linestyle=line_styles[i % len(line_styles)],
                linewidth=2.2 if m == chosen else 1.4,
                label=f"{m}{' (the labels)' if m == chosen else ''} (n = {int(counts.sum())})",
            )
        for e in edges or ():
            if 0 < e < 1:
                ax.axvline(e, color="0.35", linestyle=":", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_xlabel("Normalised vote entropy (0 = unanimous, 1 = uniform)")
        ax.set_ylabel("Share of clips")
        handles, labels = ax.get_legend_handles_labels()
        if edges:
            handles.append(mpl.lines.Line2D([], [], color="0.35", linestyle=":", linewidth=1))
            labels.append("entropy-stratum edges")
        legend_below(fig, handles, labels, ncol=2)
        fig.suptitle("Vote entropy per rating modality", fontsize=10)
        return save_figure(fig, out)


# ================================================================================= examples


def _example_bars(
    ax: Axes,
    ex: Mapping[str, Any],
    series: Sequence[str],
    per_variant: Mapping[str, Mapping[str, Any]],
    styles: Mapping[str, Mapping[str, str]],
    width: float,
    handles: dict[str, Any],
) -> None:
    """One utterance: human votes, latent truth (when known) and each variant's mean prediction."""
    x = np.arange(len(ex["p_primary"]), dtype=float)
    offs = (np.arange(len(series)) - (len(series) - 1) / 2) * width
    kw: dict[str, Any]  # the bars' style
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
        f"(stratum {short_stratum(ex['stratum'])}), consensus {ex['consensus']}",
        fontsize=9,
        loc="left",
    )


def plot_examples(
    metrics: Docs,
    out: PathLike,
    split: str = partitions.HEADLINE,
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
    examples = metrics_doc.examples(metrics[names[0]], split)
    if not examples:
        raise PlotError(f"plot_examples: {names[0]} has no examples for {split}")
    per_variant = {v: {e["file_id"]: e for e in metrics_doc.examples(metrics[v], split)} for v in names}
    has_true = any("p_true" in e for e in examples)
    series = ["human", *(["true"] if has_true else []), *names]
    classes = _classes(metrics[names[0]])
    k = len(classes)
    with mpl.rc_context(RC):
        fig = new_figure(min(14.0, max(7.6, 0.9 * k + 0.1 * k * len(series))), 2.3 * len(examples) + 0.8)
        axes = fig.subplots(len(examples), 1, sharex=True, squeeze=False)[:, 0]
        handles: dict[str, Any] = {}
        for ax, ex in zip(axes, examples, strict=True):
            _example_bars(ax, ex, series, per_variant, variant_styles(names), 0.84 / len(series), handles)
        axes[-1].set_xticks(np.arange(k, dtype=float), classes)
        axes[-1].set_xlabel("Emotion class")
        legend_below(fig, list(handles.values()), list(handles), ncol=min(len(handles), 4))
        fig.suptitle(f"{split}: predicted (mean over seeds) vs human vote distributions", fontsize=10)
        return save_figure(fig, out)

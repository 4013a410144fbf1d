"""The study's figures (PNG and PDF, :func:`sertools.report.style.save_figure`).

Every figure draws from :class:`sertools.study.collect.StudyResults`; error
bars are the bootstrap CIs of the evaluation documents. Models are coloured
lines with markers, the oracle (latent truth as the prediction) a grey dashed
line, the Train prior a black dotted line; humans (the votes) are black.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from sertools.evaluation.reference import ORACLE, PRIOR, REFERENCES
from sertools.report.style import (
    HUMAN_COLOUR,
    RC,
    TRUTH_COLOUR,
    legend_below,
    new_figure,
    offsets,
    save_figure,
    short_stratum,
    variant_styles,
    yerr,
)
from sertools.study.collect import METRICS, StudyResults

__all__ = ["FIGURES", "plot_all"]

PathLike = str | Path

#: figure stem -> what it shows
FIGURES: dict[str, str] = {
    "reliability_jsd": "JSD to the latent truth and to the votes against rater reliability",
    "reliability_kld": "KLD to the latent truth and to the votes against rater reliability",
    "differences": "Distributional minus hard (JSD, KLD to truth and votes) against rater reliability",
    "other_class": "Argmax-Other share of each row and the humans' Other vote share per entropy stratum",
    "accuracy_entropy": "Macro-F1 and mean predicted entropy against rater reliability",
    "annotators": "Votes and models against the latent truth as annotators per utterance grow",
}


_VOTES = {"color": HUMAN_COLOUR, "marker": "o", "linestyle": "-"}
_VOTES_ENTROPY = {"color": HUMAN_COLOUR, "marker": "x", "linestyle": "-."}
_TRUTH = {"color": TRUTH_COLOUR, "marker": "x", "linestyle": "-."}


def _style(rows: Sequence[str]) -> dict[str, dict[str, object]]:
    models = [r for r in rows if r not in REFERENCES]
    st: dict[str, dict[str, object]] = {r: {**s, "linestyle": "-"} for r, s in variant_styles(models).items()}
    st[ORACLE] = {"color": TRUTH_COLOUR, "marker": "", "linestyle": "--"}
    st[PRIOR] = {"color": HUMAN_COLOUR, "marker": "", "linestyle": ":"}
    return st


def _line(ax, x, d: pd.DataFrame, style: dict[str, object], label: str, col: str = "mean"):
    lo, hi = (d["ci_low"], d["ci_high"]) if col == "mean" else (d[f"{col}_ci_low"], d[f"{col}_ci_high"])
    m = d[col] if col == "mean" else d[f"{col}_mean"]
    return ax.errorbar(
        x,
        m,
        yerr=yerr(m.to_numpy(), lo.to_numpy(), hi.to_numpy()),
        label=label,
        capsize=2,
        lw=1.2,
        ms=4,
        **style,
    )


def _reliability_panels(r: StudyResults, metrics: Sequence[str], out: Path) -> list[Path]:
    s = r.scores[r.scores["axis"] == "reliability"]
    us = sorted(s["other_when_unsure"].unique())
    st = _style(list(r.rows))
    fig = new_figure(3.0 * len(metrics), 2.6 * len(us) + 0.6)
    axes = fig.subplots(len(us), len(metrics), squeeze=False)
    handles = []
    for i, u in enumerate(us):
        for j, m in enumerate(metrics):
            ax = axes[i][j]
            for row, label in r.rows.items():
                d = s[(s["other_when_unsure"] == u) & (s["row"] == row) & (s["metric"] == m)].sort_values(
                    "reliability"
                )
                h = _line(ax, d["reliability"], d, st[row], label)
                if i == 0 and j == 0:
                    handles.append(h)
            ax.set_title(f"{METRICS[m]} (Other propensity {u:g})")
            ax.set_xlabel("mean rater reliability")
    legend_below(fig, handles, list(r.rows.values()))
    return save_figure(fig, out)


def _differences(r: StudyResults, out: Path) -> list[Path]:
    d = r.differences[r.differences["axis"] == "reliability"]
    us = sorted(d["other_when_unsure"].unique())
    metrics = ["jsd_true", "jsd_primary", "kld_true", "kld_primary"]
    rows = [v for v in r.rows if v in set(d["row"])]
    st = _style(list(r.rows))
    fig = new_figure(3.0 * len(metrics), 2.6 * len(us) + 0.6)
    axes = fig.subplots(len(us), len(metrics), squeeze=False)
    handles = []
    for i, u in enumerate(us):
        for j, m in enumerate(metrics):
            ax = axes[i][j]
            ax.axhline(0.0, color=HUMAN_COLOUR, lw=0.8)
            for row in rows:
                e = d[(d["other_when_unsure"] == u) & (d["row"] == row) & (d["metric"] == m)].sort_values(
                    "reliability"
                )
                h = ax.errorbar(
                    e["reliability"],
                    e["diff"],
                    yerr=yerr(e["diff"].to_numpy(), e["ci_low"].to_numpy(), e["ci_high"].to_numpy()),
                    capsize=2,
                    lw=1.2,
                    ms=4,
                    **st[row],
                )
                ns = e[e["p_holm"] >= 0.05]
                ax.plot(
                    ns["reliability"], ns["diff"], ls="", marker="o", ms=7, mfc="white", mec=st[row]["color"]
                )
                if i == 0 and j == 0:
                    handles.append(h)
            base = r.rows[str(d["baseline"].iloc[0])] if len(d) else "baseline"
            ax.set_title(f"{METRICS[m]}: row - {base} (u {u:g})")
            ax.set_xlabel("mean rater reliability")
    legend_below(fig, handles, [r.rows[v] for v in rows])
    return save_figure(fig, out)


def _other_class(r: StudyResults, out: Path) -> list[Path]:
    o = r.other[(r.other["axis"] == "reliability") & (r.other["stratum"] != "all")]
    us = sorted(o["other_when_unsure"].unique())
    levels = list(dict.fromkeys(o.sort_values("reliability")["level"]))
    rows = [v for v in r.rows if v != PRIOR]
    st = _style(list(r.rows))
    fig = new_figure(2.4 * len(levels), 2.4 * len(us) + 0.6)
    axes = fig.subplots(len(us), len(levels), squeeze=False, sharey=True)
    handles = []
    for i, u in enumerate(us):
        for j, level in enumerate(levels):
            ax = axes[i][j]
            e = o[(o["other_when_unsure"] == u) & (o["level"] == level)]
            strata = list(dict.fromkeys(e["stratum"]))
            x = np.arange(len(strata))
            off = offsets(len(rows) + 1, width=0.8)
            bw = 0.8 / (len(rows) + 1)
            hum = e[e["row"] == rows[0]].set_index("stratum").loc[strata]
            h = ax.bar(
                x + off[0],
                hum["human_mean"],
                width=bw,
                color=HUMAN_COLOUR,
                yerr=yerr(
                    hum["human_mean"].to_numpy(),
                    hum["human_ci_low"].to_numpy(),
                    hum["human_ci_high"].to_numpy(),
                ),
            )
            if i == 0 and j == 0:
                handles.append(h)
            for k, row in enumerate(rows, start=1):
                m = e[e["row"] == row].set_index("stratum").loc[strata]
                h = ax.bar(
                    x + off[k],
                    m["model_mean"],
                    width=bw,
                    color=st[row]["color"],
                    yerr=yerr(
                        m["model_mean"].to_numpy(),
                        m["model_ci_low"].to_numpy(),
                        m["model_ci_high"].to_numpy(),
                    ),
                )
                if i == 0 and j == 0:
                    handles.append(h)
            ax.set_xticks(x, [short_stratum(s) for s in strata])
            rel = float(e["reliability"].iloc[0]) if len(e) else float("nan")
            ax.set_title(f"reliability {rel:.2f}, u {u:g}")
            if j == 0:
                ax.set_ylabel("Other share")
    legend_below(fig, handles, ["Humans (Other votes)", *(f"{r.rows[v]} (argmax Other)" for v in rows)])
    return save_figure(fig, out)


def _accuracy_entropy(r: StudyResults, out: Path) -> list[Path]:
    s = r.scores[(r.scores["axis"] == "reliability")]
    us = sorted(s["other_when_unsure"].unique())
    st = _style(list(r.rows))
    v = r.votes[r.votes["axis"] == "reliability"]
    fig = new_figure(6.4, 2.6 * len(us) + 0.6)
    axes = fig.subplots(len(us), 2, squeeze=False)
    handles, labels = [], []
    for i, u in enumerate(us):
        for j, m in enumerate(("macro_f1", "entropy_pred")):
            ax = axes[i][j]
            for row, label in r.rows.items():
                d = s[(s["other_when_unsure"] == u) & (s["row"] == row) & (s["metric"] == m)].sort_values(
                    "reliability"
                )
                h = _line(ax, d["reliability"], d, st[row], label)
                if i == 0 and j == 0:
                    handles.append(h)
                    labels.append(label)
            if m == "entropy_pred":
                vu = v[v["other_when_unsure"] == u].sort_values("reliability")
                h1 = _line(
                    ax,
                    vu["reliability"],
                    vu,
                    _VOTES_ENTROPY,
                    "Votes",
                    col="entropy_votes",
                )
                h2 = _line(
                    ax,
                    vu["reliability"],
                    vu,
                    _TRUTH,
                    "Latent truth",
                    col="entropy_truth",
                )
                if i == 0:
                    handles += [h1, h2]
                    labels += ["Votes (entropy)", "Latent truth (entropy)"]
            ax.set_title(f"{METRICS[m]} (u {u:g})")
            ax.set_xlabel("mean rater reliability")
    legend_below(fig, handles, labels)
    return save_figure(fig, out)


def _annotators(r: StudyResults, out: Path) -> list[Path]:
    s = r.scores[(r.scores["axis"] == "annotators")]
    v = r.votes[r.votes["axis"] == "annotators"].sort_values("annotators")
    st = _style(list(r.rows))
    fig = new_figure(9.6, 3.2)
    axes = fig.subplots(1, 3)
    h1 = _line(
        axes[0],
        v["annotators"],
        v,
        _VOTES,
        "Votes",
        col="jsd_votes_truth",
    )
    axes[0].set_title("JSD of the votes to the latent truth")
    _line(
        axes[1],
        v["annotators"],
        v,
        _VOTES,
        "Votes",
        col="entropy_votes",
    )
    h2 = _line(
        axes[1],
        v["annotators"],
        v,
        _TRUTH,
        "Truth",
        col="entropy_truth",
    )
    axes[1].set_title("Mean normalised entropy")
    handles, labels = [h1, h2], ["Votes", "Latent truth"]
    for row, label in r.rows.items():
        d = s[(s["row"] == row) & (s["metric"] == "jsd_true")].sort_values("annotators")
        handles.append(_line(axes[2], d["annotators"], d, st[row], label))
        labels.append(label)
    axes[2].set_title("JSD of each row to the latent truth")
    for ax in axes:
        ax.set_xscale("log")
        ticks = sorted(v["annotators"].astype(int).unique())
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("annotators per utterance")
    legend_below(fig, handles, labels)
    return save_figure(fig, out)


def plot_all(r: StudyResults, out_dir: PathLike) -> list[Path]:
    """Write every figure of :data:`FIGURES` into ``out_dir``; returns the files."""
    d = Path(out_dir)
    with matplotlib.rc_context(RC):
        paths = _reliability_panels(r, ["jsd_true", "jsd_primary"], d / "reliability_jsd")
        paths += _reliability_panels(r, ["kld_true", "kld_primary"], d / "reliability_kld")
        paths += _differences(r, d / "differences")
        paths += _other_class(r, d / "other_class")
        paths += _accuracy_entropy(r, d / "accuracy_entropy")
        if (r.votes["axis"] == "annotators").any():
            paths += _annotators(r, d / "annotators")
    return paths

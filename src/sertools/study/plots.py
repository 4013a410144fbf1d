"""The study's figures (PNG and PDF, :func:`sertools.report.style.save_figure`).

Every figure draws from :class:`sertools.study.collect.StudyResults`; error
bars are the bootstrap CIs of the evaluation documents (utterances and seeds
resampled, :mod:`sertools.study.scores`). Models are coloured
lines with markers, the oracle (latent truth as the prediction) a grey dashed
line, the Train prior a black dotted line; humans (the votes) are black.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from sertools.study.families import ALPHA

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.container import ErrorbarContainer

__all__ = ["FIGURES", "plot_all"]

PathLike = str | Path

#: figure stem -> what it shows
FIGURES: dict[str, str] = {
    "reliability_jsd": "JSD to the latent truth, the raters' mixture and the votes against rater reliability",
    "reliability_kld": "KLD to the latent truth, the raters' mixture and the votes against rater reliability",
    "differences": "Each row minus hard CE (JSD to truth, mixture and votes; macro-F1) against rater reliability",
    "other_class": "Argmax-Other share of each row and the humans' Other vote share per entropy stratum",
    "accuracy_entropy": "Macro-F1 and mean predicted entropy against rater reliability",
    "annotators": "Votes and models against the latent truth and the raters' mixture as annotators per utterance grow, per rater perception",
}


_VOTES = {"color": HUMAN_COLOUR, "marker": "o", "linestyle": "-"}
_VOTES_ENTROPY = {"color": HUMAN_COLOUR, "marker": "x", "linestyle": "-."}
_TRUTH = {"color": TRUTH_COLOUR, "marker": "x", "linestyle": "-."}
_MIXTURE = {"color": TRUTH_COLOUR, "marker": "s", "linestyle": ":"}


def _style(rows: Sequence[str]) -> dict[str, dict[str, object]]:
    models = [r for r in rows if r not in REFERENCES]
    st: dict[str, dict[str, object]] = {r: {**s, "linestyle": "-"} for r, s in variant_styles(models).items()}
    st[ORACLE] = {"color": TRUTH_COLOUR, "marker": "", "linestyle": "--"}
    st[PRIOR] = {"color": HUMAN_COLOUR, "marker": "", "linestyle": ":"}
    return st


def _line(
    ax: Axes, x: pd.Series, d: pd.DataFrame, style: Mapping[str, Any], label: str, col: str = "mean"
) -> ErrorbarContainer:
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
    metrics = ["jsd_true", "jsd_raters", "jsd_primary", "macro_f1"]
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
                ns = e[e["p_holm"] >= ALPHA]
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
                h3 = _line(ax, vu["reliability"], vu, _MIXTURE, "Raters' mixture", col="entropy_raters")
                if i == 0:
                    handles += [h1, h2, h3]
                    labels += ["Votes (entropy)", "Latent truth (entropy)", "Raters' mixture (entropy)"]
            ax.set_title(f"{METRICS[m]} (u {u:g})")
            ax.set_xlabel("mean rater reliability")
    legend_below(fig, handles, labels)
    return save_figure(fig, out)


def _annotators(r: StudyResults, out: Path) -> list[Path]:
    s = r.scores[(r.scores["axis"] == "annotators")]
    v_all = r.votes[r.votes["axis"] == "annotators"].sort_values("annotators")
    perceptions = list(dict.fromkeys(v_all["perception"]))
    st = _style(list(r.rows))
    fig = new_figure(12.8, 3.0 * len(perceptions) + 0.6)
    axes = fig.subplots(len(perceptions), 4, squeeze=False)
    handles: list = []
    labels: list[str] = []
    for i, perception in enumerate(perceptions):
        v = v_all[v_all["perception"] == perception]
        ax = axes[i]
        h1 = _line(ax[0], v["annotators"], v, _VOTES, "Votes to truth", col="jsd_votes_truth")
        h2 = _line(ax[0], v["annotators"], v, _MIXTURE, "Votes to mixture", col="jsd_votes_raters")
        ax[0].set_title(f"JSD of the votes (raters: {perception})")
        h3 = _line(ax[1], v["annotators"], v, _VOTES_ENTROPY, "Votes", col="entropy_votes")
        h4 = _line(ax[1], v["annotators"], v, _TRUTH, "Truth", col="entropy_truth")
        h5 = _line(ax[1], v["annotators"], v, _MIXTURE, "Mixture", col="entropy_raters")
        ax[1].set_title(f"Mean normalised entropy (raters: {perception})")
        if i == 0:
            handles += [h1, h2, h3, h4, h5]
            labels += [
                "Votes: JSD to truth",
                "Votes: JSD to raters' mixture",
                "Votes (entropy)",
                "Latent truth (entropy)",
                "Raters' mixture (entropy)",
            ]
        sp = s[s["perception"] == perception]
        for j, (metric, what) in enumerate((("jsd_true", "latent truth"), ("jsd_raters", "raters' mixture"))):
            for row, label in r.rows.items():
                d = sp[(sp["row"] == row) & (sp["metric"] == metric)].sort_values("annotators")
                h = _line(ax[2 + j], d["annotators"], d, st[row], label)
                if i == 0 and j == 0:
                    handles.append(h)
                    labels.append(label)
            ax[2 + j].set_title(f"JSD of each row to the {what}")
        for a in ax:
            a.set_xscale("log")
            ticks = sorted(v["annotators"].astype(int).unique())
            a.set_xticks(ticks, [str(t) for t in ticks])
            a.minorticks_off()
            a.set_xlabel("annotators per utterance")
    legend_below(fig, handles, labels)
    return save_figure(fig, out)


def plot_all(r: StudyResults, out_dir: PathLike) -> list[Path]:
    """Write every figure of :data:`FIGURES` into ``out_dir``; returns the files."""
    d = Path(out_dir)
    with matplotlib.rc_context(RC):
        paths = _reliability_panels(r, ["jsd_true", "jsd_raters", "jsd_primary"], d / "reliability_jsd")
        paths += _reliability_panels(r, ["kld_true", "kld_raters", "kld_primary"], d / "reliability_kld")
        paths += _differences(r, d / "differences")
        if r.has_other:  # the Other-class figure needs an Other class (sertools.study.report.NEEDS)
            paths += _other_class(r, d / "other_class")
        paths += _accuracy_entropy(r, d / "accuracy_entropy")
        if (r.votes["axis"] == "annotators").any():
            paths += _annotators(r, d / "annotators")
    return paths

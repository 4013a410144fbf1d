"""The ``study_report`` stage: every setting's evaluation -> the study's tables, figures and findings.

Writes under ``results/study/`` (:func:`output_files`):

* ``tables/scores``: per setting and row (models and the oracle and prior
  references), JSD and KLD to the latent truth and to the primary votes,
  macro-F1 against the consensus and the mean predicted normalised entropy,
  with bootstrap CIs;
* ``tables/differences``: each compared variant minus the hard baseline, the
  paired CI, p and Holm-adjusted p (:mod:`sertools.study.collect`);
* ``tables/other_class``: per entropy stratum, the humans' Other vote share
  and each row's argmax-Other share (negative and positive control);
* ``tables/votes``: per setting, the votes against the latent truth;
* ``figures/``: :data:`sertools.study.plots.FIGURES`;
* ``tables/findings.md``: sentences written from these numbers (the README's
  "What the simulation shows" is copied from it by ``make readme``).

Each table is CSV (every number, CI bounds in their own columns), Markdown
and LaTeX (``mean [low, high]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sertools.evaluation.bootstrap import DEFAULT_CI_METHOD
from sertools.evaluation.reference import PRIOR
from sertools.evaluation.settings import ci_phrase
from sertools.io import write_text
from sertools.report.render import WideTable, csv_text, fmt_float, interval
from sertools.study import collect as collect_mod
from sertools.study.collect import DIFF_METRICS, METRICS, StudyResults
from sertools.study.plots import FIGURES, plot_all

__all__ = ["FINDINGS", "TABLES", "output_files", "run"]

PathLike = str | Path

TABLES: tuple[str, ...] = ("scores", "differences", "other_class", "votes")
FINDINGS = "tables/findings.md"
_FORMATS = ("csv", "md", "tex")


def output_files() -> list[str]:
    """Every file the stage writes, relative to ``results/study/``."""
    tables = [f"tables/{t}.{ext}" for t in TABLES for ext in _FORMATS]
    figures = [f"figures/{f}.{ext}" for f in FIGURES for ext in ("png", "pdf")]
    return [*tables, *figures, FINDINGS]


# ================================================================================== tables


def _setting_stub(line: Mapping[str, Any]) -> list[str]:
    n = line["annotators"]
    return [
        str(line["setting"]),
        f"{float(line['reliability']):.2f}",
        f"{float(line['other_when_unsure']):g}",
        "5+" if n is None or (isinstance(n, float) and np.isnan(n)) else str(int(n)),
    ]


_STUB = ["Setting", "Reliability", "Other prop.", "Annotators"]


def _write(
    out: Path,
    name: str,
    columns: Sequence[str],
    csv_rows: list[dict[str, str]],
    wide: WideTable,
    caption: str,
) -> None:
    write_text(out / f"{name}.csv", csv_text(columns, csv_rows))
    write_text(out / f"{name}.md", wide.markdown(caption))
    write_text(out / f"{name}.tex", wide.latex(caption, f"tab:study_{name}"))


def _cis(evaluation: Mapping[str, Any]) -> str:
    """The captions' name of the intervals: level and method of the evaluation section the
    study_evaluate stage computed them with (``evaluation.ci_level``, ``evaluation.ci_method``)."""
    method = str(evaluation.get("ci_method", DEFAULT_CI_METHOD))
    return ci_phrase(method, float(evaluation.get("ci_level", 0.95))) + "s"


def _scores_table(r: StudyResults, out: Path, cis: str) -> None:
    s = r.scores
    keys = ["setting", "row"]
    wide_rows, csv_rows = [], []
    for (_setting, row), d in s.groupby(keys, sort=False):
        d = d.set_index("metric")
        first = d.iloc[0]
        line = {c: first[c] for c in collect_mod.SETTING_COLUMNS}
        rec = {
            **{c: str(line[c]) if line[c] is not None else "" for c in collect_mod.SETTING_COLUMNS},
            "row": row,
            "label": first["label"],
        }
        cells = []
        for m in METRICS:
            mean, lo, hi = (fmt_float(d.loc[m, k]) for k in ("mean", "ci_low", "ci_high"))
            rec.update({m: mean, f"{m}_ci_low": lo, f"{m}_ci_high": hi})
            cells.append(interval(mean, lo, hi))
        csv_rows.append(rec)
        wide_rows.append(([*_setting_stub(line), str(first["label"])], cells))
    columns = [
        *collect_mod.SETTING_COLUMNS,
        "row",
        "label",
        *(f"{m}{s}" for m in METRICS for s in ("", "_ci_low", "_ci_high")),
    ]
    caption = (
        f"The rater simulation study on {r.split}: each row against the latent truth and the primary votes "
        "(JSD base 2; KLD(target ‖ model) in nats), macro-F1 against the consensus (X excluded) and the mean normalised entropy of "
        f"its predictions; mean over seeds with {cis} over utterances. Oracle (truth): the latent true "
        "distribution as the prediction (the ceiling); Prior (Train): the Train mean of the primary votes for every "
        "utterance (the floor). Reliability: the raters' mean reliability; Other prop.: the Other-when-unsure "
        "propensity; Annotators: per utterance (5+: five plus a few extra on harder utterances)."
    )
    _write(
        out,
        "scores",
        columns,
        csv_rows,
        WideTable([*_STUB, "Row"], [("", list(METRICS.values()))], wide_rows),
        caption,
    )


def _differences_table(r: StudyResults, out: Path) -> None:
    d = r.differences
    wide_rows, csv_rows = [], []
    for (_setting, row), e in d.groupby(["setting", "row"], sort=False):
        e = e.set_index("metric")
        first = e.iloc[0]
        rec = {c: "" if first[c] is None else str(first[c]) for c in collect_mod.SETTING_COLUMNS}
        rec.update({"row": row, "label": first["label"], "baseline": first["baseline"]})
        cells = []
        for m in DIFF_METRICS:
            vals = {k: fmt_float(e.loc[m, k]) for k in ("diff", "ci_low", "ci_high", "p_value", "p_holm")}
            rec.update({f"{m}_{k}": v for k, v in vals.items()})
            text = interval(vals["diff"], vals["ci_low"], vals["ci_high"])
            if vals["diff"] != "" and not text.startswith("-"):
                text = f"+{text}"
            if vals["p_holm"] != "" and float(vals["p_holm"]) < 0.05:
                text += " *"
            cells.append(text)
        csv_rows.append(rec)
        wide_rows.append(([*_setting_stub(first), str(first["label"])], cells))
    columns = [
        *collect_mod.SETTING_COLUMNS,
        "row",
        "label",
        "baseline",
        *(f"{m}_{k}" for m in DIFF_METRICS for k in ("diff", "ci_low", "ci_high", "p_value", "p_holm")),
    ]
    base = r.rows.get(str(d["baseline"].iloc[0]), "baseline") if len(d) else "baseline"
    caption = (
        f"Each row minus {base} on {r.split}: the paired bootstrap difference (both rows on the same resampled "
        "utterances, seeds averaged inside each resample) with its 95% percentile-bootstrap CI; * marks a Holm-adjusted p below 0.05 "
        "(Holm over the rows of one setting and metric). Negative JSD/KLD differences: closer to the truth or to "
        "the votes than the hard baseline; positive macro-F1 differences: more accurate."
    )
    labels = [f"Δ{METRICS[m]}" for m in DIFF_METRICS]
    _write(
        out, "differences", columns, csv_rows, WideTable([*_STUB, "Row"], [("", labels)], wide_rows), caption
    )


def _other_table(r: StudyResults, out: Path, cis: str) -> None:
    o = r.other[r.other["row"] != PRIOR]
    rows = [v for v in r.rows if v != PRIOR]
    wide_rows, csv_rows = [], []
    for (_setting, stratum), e in o.groupby(["setting", "stratum"], sort=False):
        e = e.set_index("row")
        first = e.iloc[0]
        rec = {c: "" if first[c] is None else str(first[c]) for c in collect_mod.SETTING_COLUMNS}
        rec.update({"stratum": stratum, "n_utterances": str(int(first["n_utterances"]))})
        hum = [fmt_float(first[f"human_{k}"]) for k in ("mean", "ci_low", "ci_high")]
        rec.update(dict(zip(("human_other_share", "human_ci_low", "human_ci_high"), hum, strict=True)))
        cells = [interval(*hum)]
        for row in rows:
            vals = [fmt_float(e.loc[row, f"model_{k}"]) for k in ("mean", "ci_low", "ci_high")]
            rec.update(
                dict(zip((f"{row}_other_share", f"{row}_ci_low", f"{row}_ci_high"), vals, strict=True))
            )
            cells.append(interval(*vals))
        csv_rows.append(rec)
        wide_rows.append(([*_setting_stub(first), str(stratum)], cells))
    columns = [
        *collect_mod.SETTING_COLUMNS,
        "stratum",
        "n_utterances",
        "human_other_share",
        "human_ci_low",
        "human_ci_high",
        *(f"{v}_{k}" for v in rows for k in ("other_share", "ci_low", "ci_high")),
    ]
    caption = (
        f"The Other class per entropy stratum of the primary votes on {r.split}: the humans' Other vote share and "
        f"each row's share of utterances whose argmax is Other ({cis}). Other propensity 0 is the "
        "negative control (no Other routing in the raters); a non-zero propensity plants routing to Other that "
        "grows with the entropy of the true distribution (positive control)."
    )
    groups = [("", ["Humans", *(r.rows[v] for v in rows)])]
    _write(out, "other_class", columns, csv_rows, WideTable([*_STUB, "Stratum"], groups, wide_rows), caption)


def _votes_table(r: StudyResults, out: Path, cis: str) -> None:
    v = r.votes
    wide_rows, csv_rows = [], []
    fields = ("entropy_votes", "entropy_truth", "jsd_votes_truth")
    for _, line in v.iterrows():
        rec = {c: "" if line[c] is None else str(line[c]) for c in collect_mod.SETTING_COLUMNS}
        rec.update({k: fmt_float(line[k]) for k in ("fleiss_kappa", "annotators_mean", "x_share")})
        cells = [f"{line['fleiss_kappa']:.3f}", f"{line['annotators_mean']:.2f}", f"{line['x_share']:.3f}"]
        for f in fields:
            vals = [fmt_float(line[f"{f}_{k}"]) for k in ("mean", "ci_low", "ci_high")]
            rec.update(dict(zip((f, f"{f}_ci_low", f"{f}_ci_high"), vals, strict=True)))
            cells.append(interval(*vals))
        csv_rows.append(rec)
        wide_rows.append((_setting_stub(line), cells))
    columns = [
        *collect_mod.SETTING_COLUMNS,
        "fleiss_kappa",
        "annotators_mean",
        "x_share",
        *(f"{f}{s}" for f in fields for s in ("", "_ci_low", "_ci_high")),
    ]
    caption = (
        f"The votes of each setting against the latent truth on {r.split}: Fleiss' kappa of the primary votes "
        "(all splits), annotators per utterance, share of X (no plurality), mean normalised entropy of the "
        f"primary-vote and of the true distributions, and the mean JSD of the votes to the truth ({cis})."
    )
    heads = [
        "Fleiss' kappa",
        "Annotators (mean)",
        "X share",
        "Entropy votes",
        "Entropy truth",
        "JSD votes-truth",
    ]
    _write(out, "votes", columns, csv_rows, WideTable(_STUB, [("", heads)], wide_rows), caption)


# ================================================================================ findings


def _fmt_range(values: pd.Series, signed: bool = True) -> str:
    lo, hi = float(values.min()), float(values.max())
    f = "{:+.3f}" if signed else "{:.3f}"
    return f.format(lo) if np.isclose(lo, hi) else f"{f.format(lo)} to {f.format(hi)}"


def _tally(d: pd.DataFrame) -> str:
    """How many differences are significantly negative / positive (Holm p < 0.05), and their range."""
    neg = int(((d["diff"] < 0) & (d["p_holm"] < 0.05)).sum())
    pos = int(((d["diff"] > 0) & (d["p_holm"] < 0.05)).sum())
    return f"{neg} of {len(d)} significantly lower, {pos} higher (differences {_fmt_range(d['diff'])})"


def _findings(r: StudyResults, variants: Mapping[str, Mapping[str, Any]], baseline: str) -> str:
    """The study's answer in a few paragraphs, every number computed from ``r``."""
    base = r.rows[baseline]
    dist = [v for v in r.rows if v in variants and variants[v]["targets"] != "consensus"]
    dist_names = ", ".join(r.rows[v] for v in dist)
    rel_d = r.differences[(r.differences["axis"] == "reliability") & r.differences["row"].isin(dist)]
    levels = sorted(r.votes.loc[r.votes["axis"] == "reliability", "reliability"].unique())
    lines = ["# What the simulation shows", ""]
    if len(rel_d) and levels:
        lines.append(
            f"**Distributional rows against {base}.** Paired differences of the distributional rows ({dist_names}) "
            f"minus {base} on Test1, over {len(levels)} rater-reliability levels (mean reliability "
            f"{levels[0]:.2f} to {levels[-1]:.2f}); Holm over the rows of one setting and metric:"
        )
        for u in sorted(rel_d["other_when_unsure"].unique()):
            du = rel_d[rel_d["other_when_unsure"] == u]
            control = "negative control" if u == 0 else "positive control"
            lines.append(
                f"- Other propensity {u:g} ({control}): JSD to the latent truth "
                f"{_tally(du[du['metric'] == 'jsd_true'])}; JSD to the votes {_tally(du[du['metric'] == 'jsd_primary'])}; "
                f"macro-F1 {_tally(du[du['metric'] == 'macro_f1'])}."
            )
        lines.append("")
    v = r.votes
    vr = v[(v["axis"] == "reliability") & (v["other_when_unsure"] == 0)].sort_values("reliability")
    if len(vr):
        a, b = vr.iloc[0], vr.iloc[-1]
        lines.append(
            f"**Votes against perception.** With 5+ annotators per utterance, the mean JSD of the primary votes to the "
            f"latent truth falls from {a['jsd_votes_truth_mean']:.3f} (reliability {a['reliability']:.2f}) to "
            f"{b['jsd_votes_truth_mean']:.3f} ({b['reliability']:.2f}); the oracle row (the truth as the prediction) "
            f"is that far from the votes, so models trained on the votes can be closer to them than the truth is."
        )
    va = v[v["axis"] == "annotators"].sort_values("annotators")
    if len(va):
        a, b = va.iloc[0], va.iloc[-1]
        flatter = "flatter" if b["entropy_votes_mean"] > b["entropy_truth_mean"] else "sharper"
        lines.append(
            f"At reliability {a['reliability']:.2f}, {int(a['annotators'])} to {int(b['annotators'])} annotators per "
            f"utterance bring the votes from JSD {a['jsd_votes_truth_mean']:.3f} to {b['jsd_votes_truth_mean']:.3f} of "
            f"the truth, while their mean normalised entropy goes from {a['entropy_votes_mean']:.3f} to "
            f"{b['entropy_votes_mean']:.3f} against {b['entropy_truth_mean']:.3f} for the truth: many votes average "
            f"out the sampling noise but keep each rater's guessing, and end up {flatter} than perception."
        )
        ad = r.differences[(r.differences["axis"] == "annotators") & r.differences["row"].isin(dist)]
        ad = ad[ad["metric"] == "jsd_true"]
        if len(ad):
            per_n = [
                f"{int(n)}: {_fmt_range(g['diff'])}"
                for n, g in ad.groupby(ad["annotators"].astype(int), sort=True)
            ]
            lines.append(
                f"Distributional rows minus {base} in JSD to the truth, per annotator count: "
                + "; ".join(per_n)
                + "."
            )
    lines.append("")
    o = r.other[(r.other["axis"] == "reliability") & (r.other["stratum"] != "all")]
    if len(o):
        top = list(dict.fromkeys(o["stratum"]))[-1]
        mid = levels[len(levels) // 2]
        parts = []
        for u in sorted(o["other_when_unsure"].unique()):
            e = o[(o["other_when_unsure"] == u) & (o["stratum"] == top) & np.isclose(o["reliability"], mid)]
            e = e.set_index("row")
            if not len(e):
                continue
            rows = ", ".join(
                f"{r.rows[x]} {e.loc[x, 'model_mean']:.3f}" for x in r.rows if x in variants and x in e.index
            )
            parts.append(f"propensity {u:g}: humans {e['human_mean'].iloc[0]:.3f}; {rows}")
        lines.append(
            f"**Other class.** In the highest-entropy stratum {top} at reliability {mid:.2f}, the humans' Other vote "
            "share and each row's share of argmax-Other predictions: " + "; ".join(parts) + "."
        )
        lines.append("")
    s = r.scores[(r.scores["axis"] == "reliability") & (r.scores["other_when_unsure"] == 0)]
    f1 = s[s["metric"] == "macro_f1"]
    if len(f1):
        rng = f1.groupby("row")["mean"]
        models = [x for x in r.rows if x in rng.groups]
        lines.append(
            "**Accuracy and entropy.** Macro-F1 against the consensus (propensity 0, range over the reliability levels): "
            + "; ".join(f"{r.rows[x]} {_fmt_range(rng.get_group(x), signed=False)}" for x in models)
            + "."
        )
    ent = s[s["metric"] == "entropy_pred"]
    if len(ent) and len(vr):
        mid_v = vr.iloc[len(vr) // 2]
        e = ent[np.isclose(ent["reliability"], mid_v["reliability"])].set_index("row")
        models = [x for x in r.rows if x in variants and x in e.index]
        lines.append(
            f"At reliability {mid_v['reliability']:.2f} the mean normalised entropy of the predictions is "
            + ", ".join(f"{r.rows[x]} {e.loc[x, 'mean']:.3f}" for x in models)
            + f"; of the votes {mid_v['entropy_votes_mean']:.3f}, of the truth {mid_v['entropy_truth_mean']:.3f}."
        )
        lines.append("")
    dd = r.differences[
        r.differences["row"].isin(dist) & r.differences["metric"].isin(["jsd_true", "jsd_primary"])
    ]
    if len(dd):
        width = (dd["ci_high"] - dd["ci_low"]).to_numpy()
        size = dd["diff"].abs().to_numpy()
        excl = int(((dd["ci_low"] > 0) | (dd["ci_high"] < 0)).sum())
        lines.append(
            f"**Resolution.** Over all {len(dd)} distributional-minus-{base} JSD differences (to the truth and to the "
            f"votes, every setting), the median 95% CI width is {np.median(width):.4f} against a median |difference| "
            f"of {np.median(size):.4f}; {excl} of the {len(dd)} CIs exclude zero."
        )
    return "\n".join(lines).rstrip() + "\n"


# ================================================================================== stage


def run(
    inputs: Mapping[str, Any],
    outputs: Sequence[PathLike],
    *,
    settings: Sequence[Mapping[str, Any]],
    variants: Mapping[str, Mapping[str, Any]],
    baseline: str,
    evaluation: Mapping[str, Any],
    root: PathLike,
) -> StudyResults:
    """Write every file of :func:`output_files` under ``root``.

    ``inputs``: see :func:`sertools.study.collect.collect`; ``settings``: the
    setting records (:meth:`sertools.study.grid.Setting.describe`), in report
    order; ``variants``: name -> ``paper_row``, ``targets``.
    """
    root = Path(root)
    expected = {str(root / f) for f in output_files()}
    if {str(p) for p in outputs} != expected:
        raise ValueError(f"study_report: the outputs must be {sorted(expected)}")
    results = collect_mod.collect(inputs, settings, variants, baseline, evaluation)
    tables = root / "tables"
    cis = _cis(evaluation)
    _scores_table(results, tables, cis)
    _differences_table(results, tables)
    _other_table(results, tables, cis)
    _votes_table(results, tables, cis)
    plot_all(results, root / "figures")
    write_text(root / FINDINGS, _findings(results, variants, baseline))
    return results

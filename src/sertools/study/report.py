"""The ``study_report`` stage: every setting's evaluation -> the study's tables, figures and findings.

Writes under ``results/study/`` (:func:`output_files`):

* ``tables/scores``: per setting and row (models and the oracle and prior
  references), JSD and KLD to the latent truth, to the raters' mixture and to
  the primary votes, macro-F1 against the consensus, the mean predicted
  normalised entropy and Other probability, with CIs over utterances and
  training seeds (:mod:`sertools.study.scores`);
* ``tables/differences``: each compared variant minus the hard baseline, the
  paired CI, p and the Holm-adjusted p over the comparison's family
  (:mod:`sertools.study.families`, :mod:`sertools.study.collect`);
* ``tables/other_class``: per entropy stratum, the humans' Other vote share
  and each row's argmax-Other share (negative and positive control);
* ``tables/votes``: per setting, the votes against the latent truth and the
  raters' mixture;
* ``figures/``: :data:`sertools.study.plots.FIGURES`;
* ``tables/findings.md``: sentences written from these numbers (the README's
  "What the simulation shows" is copied from it by ``make readme``).

What needs an Other class (the Other-class table and figure, the Other
probability columns, the Other sentences of the findings) is left out for a
corpus without one (CREMA-D's six classes) by the rule of
:mod:`sertools.report.shown` (:data:`NEEDS`).

Each table is CSV (every number, CI bounds in their own columns), Markdown
and LaTeX (``mean [low, high]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sertools.classes import MSP_PODCAST, ClassSet, class_set
from sertools.evaluation.reference import PRIOR
from sertools.evaluation.settings import ci_phrase
from sertools.io import write_text
from sertools.report.render import WideTable, csv_text, fmt_float, interval
from sertools.report.shown import shown
from sertools.study import collect as collect_mod
from sertools.study.collect import DIFF_METRICS, METRICS, StudyResults
from sertools.study.families import ALPHA, MARGIN
from sertools.study.plots import FIGURES, plot_all

__all__ = ["FINDINGS", "TABLES", "output_files", "run"]

PathLike = str | Path

TABLES: tuple[str, ...] = ("scores", "differences", "other_class", "votes")
FINDINGS = "tables/findings.md"
_FORMATS = ("csv", "md", "tex")
#: table or figure -> what it needs of the corpus (:data:`sertools.report.shown.NEEDS`)
NEEDS: dict[str, frozenset[str]] = {"other_class": frozenset({"other"})}


def output_files(classes: ClassSet = MSP_PODCAST) -> list[str]:
    """Every file the stage writes for a corpus of ``classes``, relative to ``results/study/``."""
    tables = [f"tables/{t}.{ext}" for t in TABLES if shown(NEEDS.get(t, ()), classes) for ext in _FORMATS]
    figures = [
        f"figures/{f}.{ext}" for f in FIGURES if shown(NEEDS.get(f, ()), classes) for ext in ("png", "pdf")
    ]
    return [*tables, *figures, FINDINGS]


# ================================================================================== tables


def _setting_stub(line: Mapping[str, Any] | pd.Series) -> list[str]:
    n = line["annotators"]
    return [
        str(line["setting"]),
        f"{float(line['reliability']):.2f}",
        f"{float(line['other_when_unsure']):g}",
        "5+" if n is None or (isinstance(n, float) and np.isnan(n)) else str(int(n)),
    ]


_STUB = ["Setting", "Reliability", "Other prop.", "Annotators"]
_SCORE_EXTRA = ("ci_low_utterances", "ci_high_utterances", "seed_sd")
_DIFF_VALUES = (
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "p_holm",
    "p_value_utterances",
    "p_holm_utterances",
    "seed_pairs_min",
    "seed_pairs_max",
)


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


def _percent(level: float) -> str:
    """A confidence level as the captions write it (0.95 -> ``95%``)."""
    return f"{level * 100:g}%"


def _cis(evaluation: Mapping[str, Any]) -> str:
    """The captions' name of the intervals: level and method of the evaluation section the
    study_evaluate stage computed them with (``evaluation.ci_level``, ``evaluation.ci_method``)."""
    method = str(evaluation["ci_method"])
    return ci_phrase(method, float(evaluation["ci_level"])) + "s"


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
            "n_seeds": str(int(first["n_seeds"])),
        }
        cells = []
        for m in r.metrics:
            mean, lo, hi = (fmt_float(d.loc[m, k]) for k in ("mean", "ci_low", "ci_high"))
            rec.update({m: mean, f"{m}_ci_low": lo, f"{m}_ci_high": hi})
            rec.update({f"{m}_{k}": fmt_float(d.loc[m, k]) for k in _SCORE_EXTRA})
            cells.append(interval(mean, lo, hi))
        csv_rows.append(rec)
        wide_rows.append(([*_setting_stub(line), str(first["label"])], cells))
    columns = [
        *collect_mod.SETTING_COLUMNS,
        "row",
        "label",
        "n_seeds",
        *(
            f"{m}{s}"
            for m in r.metrics
            for s in ("", "_ci_low", "_ci_high", *(f"_{k}" for k in _SCORE_EXTRA))
        ),
    ]
    caption = (
        f"The rater simulation study on {r.split}: each row against the latent truth (p_true), the raters' mixture "
        "(what an unlimited panel of the setting's raters would vote) and the primary votes "
        "(JSD base 2; KLD(target ‖ model) in nats), macro-F1 against the consensus (X excluded), the mean normalised "
        f"entropy of its predictions{' and their mean Other probability' if r.has_other else ''}; mean over seeds with "
        f"{cis} over utterances and training seeds (both resampled; the CSV also holds the interval over "
        "utterances alone and the SD over seeds). Oracle (truth): the latent true "
        "distribution as the prediction (the ceiling); Prior (Train): the Train mean of the primary votes for every "
        "utterance (the floor). Reliability: the raters' mean reliability; Other prop.: the Other-when-unsure "
        "propensity (0 for a corpus without Other); Annotators: per utterance (5+: five plus a few extra on harder utterances)."
    )
    _write(
        out,
        "scores",
        columns,
        csv_rows,
        WideTable([*_STUB, "Row"], [("", list(r.metrics.values()))], wide_rows),
        caption,
    )


def _differences_table(r: StudyResults, out: Path, resamples: int, level: float) -> None:
    d = r.differences
    wide_rows, csv_rows = [], []
    for (_setting, row), e in d.groupby(["setting", "row"], sort=False):
        e = e.set_index("metric")
        first = e.iloc[0]
        rec = {c: "" if first[c] is None else str(first[c]) for c in collect_mod.SETTING_COLUMNS}
        rec.update({"row": str(row), "label": first["label"], "baseline": first["baseline"]})
        cells = []
        for m in DIFF_METRICS:
            vals = {k: fmt_float(e.loc[m, k]) for k in _DIFF_VALUES}
            rec.update({f"{m}_{k}": v for k, v in vals.items()})
            rec.update(
                {
                    f"{m}_family": str(e.loc[m, "family"]),
                    f"{m}_family_size": str(int(e["family_size"].loc[m])),
                }
            )
            text = interval(vals["diff"], vals["ci_low"], vals["ci_high"])
            if vals["diff"] != "" and not text.startswith("-"):
                text = f"+{text}"
            if vals["p_holm"] != "" and float(vals["p_holm"]) < ALPHA:
                text += " *"
            cells.append(text)
        csv_rows.append(rec)
        wide_rows.append(([*_setting_stub(first), str(first["label"])], cells))
    columns = [
        *collect_mod.SETTING_COLUMNS,
        "row",
        "label",
        "baseline",
        *(f"{m}_{k}" for m in DIFF_METRICS for k in (*_DIFF_VALUES, "family", "family_size")),
    ]
    base = r.rows.get(str(d["baseline"].iloc[0]), "baseline") if len(d) else "baseline"
    caption = (
        f"Each row minus {base} on {r.split}: the paired bootstrap difference (B = {resamples:,} resamples; both rows "
        "on the same resampled utterances, each row's training seeds resampled too, independently) with its "
        f"{_percent(level)} percentile-bootstrap CI; * marks a Holm-adjusted p below {ALPHA:g}. Holm runs over the comparison's family: "
        "for one metric, every distributional row at every setting of one axis and control (the reliability levels "
        "of one Other propensity, or the annotator counts of one rater perception); a hard row (H CB) is a family of "
        "its own over the same settings. The CSV holds the family, its size, p with seeds held fixed "
        "(p_value_utterances, and its Holm value) and the smallest and largest difference over (row seed, baseline "
        "seed) pairs. Negative JSD/KLD differences: closer to the truth, the raters' mixture or the votes than the "
        "hard baseline; positive macro-F1 differences: more accurate."
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
        rec.update({"stratum": str(stratum), "n_utterances": str(int(first["n_utterances"]))})
        hum = [fmt_float(first[f"human_{k}"]) for k in ("mean", "ci_low", "ci_high")]
        rec.update(dict(zip(("human_other_share", "human_ci_low", "human_ci_high"), hum, strict=True)))
        cells = [interval(hum[0], hum[1], hum[2])]
        for row in rows:
            vals = [fmt_float(e.loc[row, f"model_{k}"]) for k in ("mean", "ci_low", "ci_high")]
            rec.update(
                dict(zip((f"{row}_other_share", f"{row}_ci_low", f"{row}_ci_high"), vals, strict=True))
            )
            cells.append(interval(vals[0], vals[1], vals[2]))
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
        f"each row's share of utterances whose argmax is Other ({cis} over utterances and training seeds). Other "
        "propensity 0 is the "
        "negative control (no Other routing in the raters); a non-zero propensity plants routing to Other that "
        "grows with the entropy of the true distribution (positive control)."
    )
    groups = [("", ["Humans", *(r.rows[v] for v in rows)])]
    _write(out, "other_class", columns, csv_rows, WideTable([*_STUB, "Stratum"], groups, wide_rows), caption)


def _votes_table(r: StudyResults, out: Path, cis: str) -> None:
    v = r.votes
    wide_rows, csv_rows = [], []
    fields = collect_mod.VOTE_CI
    plain = (
        "fleiss_kappa",
        "annotators_mean",
        "x_share",
        "x_share_train",
        *(("other_votes", "other_truth", "other_raters") if r.has_other else ()),
    )
    for _, line in v.iterrows():
        rec = {c: "" if line[c] is None else str(line[c]) for c in collect_mod.SETTING_COLUMNS}
        rec.update({k: fmt_float(line[k]) for k in plain})
        cells = [
            f"{line['fleiss_kappa']:.3f}",
            f"{line['annotators_mean']:.2f}",
            f"{line['x_share']:.3f}",
            f"{line['x_share_train']:.3f}",
        ]
        if r.has_other:
            cells.append(
                f"{line['other_votes']:.3f} / {line['other_truth']:.3f} / {line['other_raters']:.3f}"
            )
        for f in fields:
            vals = [fmt_float(line[f"{f}_{k}"]) for k in ("mean", "ci_low", "ci_high")]
            rec.update(dict(zip((f, f"{f}_ci_low", f"{f}_ci_high"), vals, strict=True)))
            cells.append(interval(vals[0], vals[1], vals[2]))
        csv_rows.append(rec)
        wide_rows.append((_setting_stub(line), cells))
    columns = [
        *collect_mod.SETTING_COLUMNS,
        *plain,
        *(f"{f}{s}" for f in fields for s in ("", "_ci_low", "_ci_high")),
    ]
    caption = (
        f"The votes of each setting against the latent truth and the raters' mixture on {r.split}: Fleiss' kappa "
        f"of the primary votes (all splits), annotators per utterance, share of X (no plurality) on {r.split} and "
        "on Train (H CE trains on X relabelled Other), mean Other probability of votes / truth / mixture, mean "
        "normalised entropy of the primary-vote, the true and the mixture distributions, and the mean JSD between "
        f"them ({cis} over utterances). The raters' mixture is what an unlimited panel of the setting's raters "
        "would vote (rater_mixture.parquet): the votes converge to it, not to the truth."
    )
    heads = [
        "Fleiss' kappa",
        "Annotators (mean)",
        "X share",
        "X share Train",
        *(["Other votes / truth / mixture"] if r.has_other else []),
        "Entropy votes",
        "Entropy truth",
        "Entropy mixture",
        "JSD votes-truth",
        "JSD votes-mixture",
        "JSD mixture-truth",
    ]
    _write(out, "votes", columns, csv_rows, WideTable(_STUB, [("", heads)], wide_rows), caption)


# ================================================================================ findings


def _fmt_range(values: pd.Series, signed: bool = True) -> str:
    lo, hi = float(values.min()), float(values.max())
    f = "{:+.3f}" if signed else "{:.3f}"
    return f.format(lo) if np.isclose(lo, hi) else f"{f.format(lo)} to {f.format(hi)}"


def _sig(d: pd.DataFrame, col: str = "p_holm") -> tuple[int, int]:
    """How many differences are significantly negative / positive (``col`` below ALPHA)."""
    neg = int(((d["diff"] < 0) & (d[col] < ALPHA)).sum())
    pos = int(((d["diff"] > 0) & (d[col] < ALPHA)).sum())
    return neg, pos


def _tally(d: pd.DataFrame) -> str:
    """Significant counts with seeds and utterances resampled, with utterances alone, and the range."""
    neg, pos = _sig(d)
    neg_u, pos_u = _sig(d, "p_holm_utterances")
    return (
        f"{neg} of {len(d)} significantly lower, {pos} higher (utterances alone: {neg_u} lower, {pos_u} higher; "
        f"differences {_fmt_range(d['diff'])})"
    )


def _at(frame: pd.DataFrame, **eq: Any) -> pd.DataFrame:
    out = frame
    for k, v in eq.items():
        out = out[np.isclose(out[k], v)] if isinstance(v, float) else out[out[k] == v]
    return out


def _design(r: StudyResults, variants: Mapping[str, Mapping[str, Any]], baseline: str) -> list[str]:
    """Statements that follow from how the simulator is built, each with the numbers that show it."""
    v = r.votes
    lines = ["### What follows from the design", ""]
    vr = v[(v["axis"] == "reliability") & (v["other_when_unsure"] == 0)].sort_values("reliability")
    va = v[(v["axis"] == "annotators") & (v["perception"] == "raters")].sort_values("annotators")
    if len(vr):
        mid = vr.iloc[len(vr) // 2]
        lines.append(
            "- **The votes estimate the raters' mixture, not the truth.** A simulated rater does not draw from p_true: "
            "it mixes p_true with confusions between neighbouring classes and a guess prior that leans on Neutral "
            "(src/sertools/corpus/synthetic/labels.py, the vote draw), so the votes converge to the raters' mixture. "
            f"At reliability {mid['reliability']:.2f} the mixture's mean normalised entropy is "
            f"{mid['entropy_raters_mean']:.3f} against the truth's {mid['entropy_truth_mean']:.3f}, and it lies at "
            f"JSD {mid['jsd_raters_truth_mean']:.3f} from the truth; over the reliability levels that distance runs "
            f"from {vr['jsd_raters_truth_mean'].iloc[0]:.3f} ({vr['reliability'].iloc[0]:.2f}) to "
            f"{vr['jsd_raters_truth_mean'].iloc[-1]:.3f} ({vr['reliability'].iloc[-1]:.2f})."
        )
    if len(va):
        a, b = va.iloc[0], va.iloc[-1]
        lines.append(
            f"- **More annotators approach the mixture.** From {int(a['annotators'])} to {int(b['annotators'])} "
            f"annotators per utterance the votes' JSD to the mixture falls from {a['jsd_votes_raters_mean']:.3f} to "
            f"{b['jsd_votes_raters_mean']:.3f}, their JSD to the truth from {a['jsd_votes_truth_mean']:.3f} to "
            f"{b['jsd_votes_truth_mean']:.3f} (the mixture's own distance to the truth is "
            f"{b['jsd_raters_truth_mean']:.3f}: where the votes' distance to the truth tends as these raters grow in "
            "number), and their entropy "
            f"rises from {a['entropy_votes_mean']:.3f} to {b['entropy_votes_mean']:.3f} towards the mixture's "
            f"{b['entropy_raters_mean']:.3f}, past the truth's {b['entropy_truth_mean']:.3f}."
        )
    vt = v[(v["axis"] == "annotators") & (v["perception"] == "truth")].sort_values("annotators")
    if len(vt):
        a, b = vt.iloc[0], vt.iloc[-1]
        lines.append(
            f"- **The control without rater bias** ({', '.join(vt['setting'])}: every rater draws from p_true, no "
            "guess prior, no confusion; its mixture is the truth): from "
            f"{int(a['annotators'])} to {int(b['annotators'])} annotators the votes' JSD to the truth falls from "
            f"{a['jsd_votes_truth_mean']:.3f} to {b['jsd_votes_truth_mean']:.3f} and their entropy rises from "
            f"{a['entropy_votes_mean']:.3f} to {b['entropy_votes_mean']:.3f}, approaching the truth's "
            f"{b['entropy_truth_mean']:.3f} from below."
        )
    hard = variants.get(baseline, {}).get("hard_labels")
    if hard == "consensus_x_other" and len(va) and r.has_other:
        a, b = va.iloc[0], va.iloc[-1]
        xr = (
            f" (reliability axis, propensity 0: {_fmt_range(vr['x_share_train'], signed=False)})"
            if len(vr)
            else ""
        )
        lines.append(
            f"- **{r.rows[baseline]} learns Other from X.** It trains on the consensus with X (no plurality) relabelled "
            f"Other (hard_labels: consensus_x_other), so the share of its Train targets that are Other by relabelling "
            f"is the raters' X share: {a['x_share_train']:.3f} at {int(a['annotators'])} annotators, "
            f"{b['x_share_train']:.3f} at {int(b['annotators'])}{xr}. The truth's mean Other probability is "
            f"{a['other_truth']:.3f}."
        )
    o = (
        r.other[(r.other["axis"] == "reliability") & (r.other["stratum"] != "all")]
        if r.has_other
        else r.other
    )
    if len(o) and o["other_when_unsure"].nunique() > 1:
        top = list(dict.fromkeys(o["stratum"]))[-1]
        levels = sorted(o["reliability"].unique())
        mid_r = levels[len(levels) // 2]
        e = o[(o["stratum"] == top) & np.isclose(o["reliability"], mid_r)]
        hum = e.groupby("other_when_unsure")["human_mean"].first().dropna()
        lines.append(
            "- **Other routing is planted in the positive control.** In the highest-entropy stratum "
            f"{top} at reliability {mid_r:.2f} the humans' Other vote share is "
            + ", ".join(f"{val:.3f} at propensity {u:g}" for u, val in hum.items())
            + "."
        )
    lines.append("")
    return lines


def _seed_lines(r: StudyResults, models: Sequence[str], base: str) -> list[str]:
    """How much the training seeds move the scores of the trained rows and the comparisons."""
    s = r.scores[r.scores["row"].isin(models)]
    n_seeds = sorted(s["n_seeds"].astype(int).unique())
    d = r.differences
    f1 = d[d["metric"] == "macro_f1"]
    flips = f1[(f1["seed_pairs_min"] < 0) & (f1["seed_pairs_max"] > 0)]
    jt = d[d["metric"] == "jsd_true"]
    flips_j = jt[(jt["seed_pairs_min"] < 0) & (jt["seed_pairs_max"] > 0)]
    sig = d["p_holm"] < ALPHA
    sig_u = d["p_holm_utterances"] < ALPHA
    lost = d[sig_u & ~sig]
    example = ""
    if len(lost):
        e = lost.sort_values("p_holm").iloc[0]
        example = (
            f" (e.g. {e['setting']} {e['label']} {METRICS[e['metric']]}: Holm p {e['p_holm_utterances']:.3f} "
            f"with utterances alone, {e['p_holm']:.3f} with seeds)"
        )
    return [
        "**Seeds.** "
        + f"Seeds per row: {', '.join(str(n) for n in n_seeds)}. The SD over seeds of a row's JSD to the truth is "
        + f"median {s.loc[s['metric'] == 'jsd_true', 'seed_sd'].median():.4f} (max "
        + f"{s.loc[s['metric'] == 'jsd_true', 'seed_sd'].max():.4f}), of its macro-F1 median "
        + f"{s.loc[s['metric'] == 'macro_f1', 'seed_sd'].median():.4f} (max {s.loc[s['metric'] == 'macro_f1', 'seed_sd'].max():.4f}). "
        + f"{len(flips)} of {len(f1)} macro-F1 comparisons with {base} and {len(flips_j)} of {len(jt)} JSD-to-truth "
        + "comparisons change sign between (row seed, baseline seed) pairs. "
        + f"Of all {len(d)} comparisons, {int(sig_u.sum())} are significant after Holm when only utterances are "
        + f"resampled and {int(sig.sum())} when seeds are resampled too; {len(lost)} hold only with utterances{example}.",
        "",
    ]


@dataclass(frozen=True)
class _Findings:
    """What every paragraph of findings.md reads: the results, the variants, the baseline's
    key and label, the distributional rows and the confidence level of the intervals."""

    r: StudyResults
    variants: Mapping[str, Mapping[str, Any]]
    baseline: str
    level: float

    @cached_property
    def base(self) -> str:
        return self.r.rows[self.baseline]

    @cached_property
    def dist(self) -> list[str]:
        return [v for v in self.r.rows if v in self.variants and self.variants[v]["targets"] != "consensus"]

    @cached_property
    def levels(self) -> list[float]:
        votes = self.r.votes
        return sorted(votes.loc[votes["axis"] == "reliability", "reliability"].unique())

    @property
    def trains_x_as_other(self) -> bool:
        return self.variants.get(self.baseline, {}).get("hard_labels") == "consensus_x_other"


def _preamble(f: _Findings, resamples: int) -> list[str]:
    sizes = (
        f.r.differences.groupby("family")["family_size"].first()
        if len(f.r.differences)
        else pd.Series(dtype=int)
    )
    return [
        "# What the simulation shows",
        "",
        "Every row is scored against two perceptions. The **latent truth** p_true is the perception the simulation "
        "starts from, what a listener hears in the utterance: the paper's premise (a model trained on vote "
        "distributions perceives more like the listeners) is about it. The **raters' mixture** is what an unlimited "
        "panel of the setting's raters would vote, computed from the generator's own rater parameters and saved "
        "with the votes (rater_mixture.parquet): it is what the votes estimate. "
        f"Intervals and tests resample utterances and each row's training seeds (B = {resamples:,}); a comparison "
        f"is called significant when its Holm-adjusted p is below {ALPHA:g}, Holm running over the family its claim "
        "names. B is the smallest multiple of 1,000 at which the largest family"
        + (f" (m = {int(sizes.max())})" if len(sizes) else "")
        + f" can reach a Holm-adjusted p of {ALPHA / MARGIN:g}.",
        "",
    ]


def _reliability_paragraph(f: _Findings) -> list[str]:
    diffs, dist, levels = f.r.differences, f.dist, f.levels
    rel_d = diffs[(diffs["axis"] == "reliability") & diffs["row"].isin(dist)]
    if not (len(rel_d) and levels):
        return []
    lines = [
        f"**Distributional rows against {f.base}.** Paired differences of the distributional rows "
        f"({', '.join(f.r.rows[v] for v in dist)}) minus {f.base} on {f.r.split}, over {len(levels)} "
        f"rater-reliability levels (mean reliability {levels[0]:.2f} to {levels[-1]:.2f}); family: every "
        f"distributional row at every level of one control, one metric (m = {len(dist) * len(levels)}):"
    ]
    for u in sorted(rel_d["other_when_unsure"].unique()):
        du = rel_d[rel_d["other_when_unsure"] == u]
        control = "negative control" if u == 0 else "positive control"
        parts = [
            f"JSD to the {what} {_tally(du[du['metric'] == m])}"
            for m, what in (
                ("jsd_true", "latent truth"),
                ("jsd_raters", "raters' mixture"),
                ("jsd_primary", "votes"),
            )
        ]
        # without an Other class there is one control and no propensity to name
        head = f"Other propensity {u:g} ({control})" if f.r.has_other else "Every reliability level"
        lines.append(
            f"- {head}: " + "; ".join(parts) + f"; macro-F1 {_tally(du[du['metric'] == 'macro_f1'])}."
        )
    return [*lines, ""]


def _annotator_trend(f: _Findings) -> list[str]:
    """How the first distributional row and the baseline move with the annotator count (today's raters),
    and the X -> Other relabelling beside the baseline's move."""
    r, dist = f.r, f.dist
    sa = r.scores[(r.scores["axis"] == "annotators") & (r.scores["perception"] == "raters")]
    if not (len(sa) and dist):
        return []
    first = dist[0]

    def series(row: str, metric: str) -> pd.Series:
        return sa[(sa["row"] == row) & (sa["metric"] == metric)].sort_values("annotators")["mean"]

    def fmt(x: pd.Series) -> str:
        return ", ".join(f"{v:.4f}" for v in x)

    va = r.votes[(r.votes["axis"] == "annotators") & (r.votes["perception"] == "raters")].sort_values(
        "annotators"
    )
    counts = ", ".join(str(int(n)) for n in va["annotators"])
    d_row, d_base = series(first, "jsd_true"), series(f.baseline, "jsd_true")
    other, x_train = series(f.baseline, "other_mass"), va["x_share_train"]
    moved_d = float(d_row.iloc[-1] - d_row.iloc[0])
    moved_b = float(d_base.iloc[-1] - d_base.iloc[0])
    text = (
        f"- With today's raters, from {counts} annotators: {r.rows[first]}'s JSD to the truth "
        f"{fmt(d_row)} (change {moved_d:+.4f}), {f.base}'s {fmt(d_base)} (change {moved_b:+.4f})"
    )
    if abs(moved_d) < 0.25 * abs(moved_b):
        text += (
            f": the comparison moves with {f.base}, not with the distributional row, whose targets "
            "estimate the raters' mixture at every count"
        )
    if f.trains_x_as_other:
        text += (
            f". {f.base}'s mean Other probability is {fmt(other)} (the truth's {va['other_truth'].iloc[-1]:.3f}) "
            f"while the X share of Train, which {f.base} trains as Other (the X -> Other relabelling), is "
            f"{', '.join(f'{x:.3f}' for x in x_train)}"
        )
        if other.is_monotonic_decreasing and x_train.is_monotonic_decreasing and moved_b < 0:
            text += (
                f": {f.base} comes closer to the truth as fewer of its targets are X relabelled Other, and its "
                "Other probability falls towards the truth's"
            )
    return [text + "."]


def _reversal_control(f: _Findings, ad: pd.DataFrame) -> list[str]:
    """Whether the annotator-axis reversal survives with raters drawing from p_true."""
    dt = ad[(ad["perception"] == "truth") & (ad["metric"] == "jsd_true")]
    dr = ad[(ad["perception"] == "raters") & (ad["metric"] == "jsd_true")]
    if not (len(dt) and len(dr)):
        return []
    n_max = int(dt["annotators"].max())
    neg_t, pos_t = _sig(dt[dt["annotators"] == n_max])
    _, pos_r = _sig(dr[dr["annotators"] == n_max])
    if pos_r == 0:
        verdict = "with today's raters there is no reversal at this count to test"
    elif pos_t > 0:
        verdict = "the reversal survives without rater bias"
    else:
        verdict = "the reversal does not survive without rater bias"
    return [
        f"- At {n_max} annotators, {pos_r} of {len(f.dist)} distributional rows are significantly farther from "
        f"the truth than {f.base} with today's raters and {pos_t} with raters drawing from p_true "
        f"({neg_t} significantly closer): {verdict}."
    ]


def _annotator_paragraph(f: _Findings) -> list[str]:
    diffs, dist = f.r.differences, f.dist
    ad = diffs[(diffs["axis"] == "annotators") & diffs["row"].isin(dist)]
    if not len(ad):
        return []
    lines = [
        f"**Annotators per utterance.** Distributional rows minus {f.base} per annotator count (family: every "
        f"distributional row at every count of one rater perception, one metric; m = "
        f"{len(dist) * ad['annotators'].nunique()}; in brackets, how many of the {len(dist)} rows are significantly "
        "lower or higher):"
    ]
    for perception in dict.fromkeys(ad["perception"]):
        dp = ad[ad["perception"] == perception]
        who = "raters as today" if perception == "raters" else "raters drawing from p_true (the control)"
        parts = []
        for m, what in (("jsd_true", "truth"), ("jsd_raters", "mixture")):
            per_n = []
            for n, g in dp[dp["metric"] == m].groupby(dp["annotators"].astype(int), sort=True):
                neg, pos = _sig(g)
                per_n.append(f"{n}: {_fmt_range(g['diff'])} ({neg} lower, {pos} higher)")
            parts.append(f"JSD to the {what}: " + "; ".join(per_n))
        lines.append(f"- {who}: " + ". ".join(parts) + ".")
    return [*lines, *_annotator_trend(f), *_reversal_control(f, ad), ""]


def _other_paragraph(f: _Findings) -> list[str]:
    r, levels = f.r, f.levels
    if not r.has_other:
        return []
    o = r.other[(r.other["axis"] == "reliability") & (r.other["stratum"] != "all")]
    if not len(o):
        return []
    top = list(dict.fromkeys(o["stratum"]))[-1]
    mid = levels[len(levels) // 2]
    parts = []
    for u in sorted(o["other_when_unsure"].unique()):
        e = o[(o["other_when_unsure"] == u) & (o["stratum"] == top) & np.isclose(o["reliability"], mid)]
        e = e.set_index("row")
        if not len(e):
            continue
        rows = ", ".join(
            f"{r.rows[x]} {e.loc[x, 'model_mean']:.3f}" for x in r.rows if x in f.variants and x in e.index
        )
        parts.append(f"propensity {u:g}: humans {e['human_mean'].iloc[0]:.3f}; {rows}")
    vx = _at(r.votes, axis="reliability", other_when_unsure=0.0, reliability=float(mid))
    e0 = o[(o["other_when_unsure"] == 0) & (o["stratum"] == top) & np.isclose(o["reliability"], mid)]
    e0 = e0.set_index("row")
    why = ""
    if (
        len(vx)
        and f.baseline in e0.index
        and f.trains_x_as_other
        and e0.loc[f.baseline, "model_mean"] > e0.loc[f.baseline, "human_mean"]
    ):
        why = (
            f" In the negative control {f.base}'s share ({e0.loc[f.baseline, 'model_mean']:.3f}) exceeds the "
            f"humans' ({e0.loc[f.baseline, 'human_mean']:.3f}) although no rater routes to Other: {f.base} trains "
            f"on X relabelled Other, {vx['x_share_train'].iloc[0]:.3f} of Train at this level."
        )
    return [
        f"**Other class.** In the highest-entropy stratum {top} at reliability {mid:.2f}, the humans' Other vote "
        "share and each row's share of argmax-Other predictions: " + "; ".join(parts) + "." + why,
        "",
    ]


def _accuracy_paragraph(f: _Findings) -> list[str]:
    r = f.r
    lines = []
    s = r.scores[(r.scores["axis"] == "reliability") & (r.scores["other_when_unsure"] == 0)]
    f1 = s[s["metric"] == "macro_f1"]
    if len(f1):
        rng = f1.groupby("row")["mean"]
        models = [x for x in r.rows if x in rng.groups]
        lines.append(
            "**Accuracy and entropy.** Macro-F1 against the consensus "
            + (
                "(propensity 0, range over the reliability levels): "
                if r.has_other
                else "(range over the reliability levels): "
            )
            + "; ".join(f"{r.rows[x]} {_fmt_range(rng.get_group(x), signed=False)}" for x in models)
            + "."
        )
    vr = r.votes[(r.votes["axis"] == "reliability") & (r.votes["other_when_unsure"] == 0)].sort_values(
        "reliability"
    )
    ent = s[s["metric"] == "entropy_pred"]
    if len(ent) and len(vr):
        mid_v = vr.iloc[len(vr) // 2]
        e = ent[np.isclose(ent["reliability"], mid_v["reliability"])].set_index("row")
        models = [x for x in r.rows if x in f.variants and x in e.index]
        lines.append(
            f"At reliability {mid_v['reliability']:.2f} the mean normalised entropy of the predictions is "
            + ", ".join(f"{r.rows[x]} {e['mean'].loc[x]:.3f}" for x in models)
            + f"; of the votes {mid_v['entropy_votes_mean']:.3f}, of the raters' mixture "
            f"{mid_v['entropy_raters_mean']:.3f}, of the truth {mid_v['entropy_truth_mean']:.3f}."
        )
        lines.append("")
    return lines


def _resolution_paragraph(f: _Findings) -> list[str]:
    diffs = f.r.differences
    dd = diffs[diffs["row"].isin(f.dist) & diffs["metric"].isin(["jsd_true", "jsd_raters", "jsd_primary"])]
    if not len(dd):
        return []
    width = (dd["ci_high"] - dd["ci_low"]).to_numpy()
    size = dd["diff"].abs().to_numpy()
    excl = int(((dd["ci_low"] > 0) | (dd["ci_high"] < 0)).sum())
    return [
        f"**Resolution.** Over all {len(dd)} distributional-minus-{f.base} JSD differences (to the truth, the "
        f"mixture and the votes, every setting), the median {_percent(f.level)} CI width (seeds and utterances "
        f"resampled) is {np.median(width):.4f} against a median |difference| of {np.median(size):.4f}; {excl} of "
        f"the {len(dd)} CIs exclude zero."
    ]


def _findings(
    r: StudyResults, variants: Mapping[str, Mapping[str, Any]], baseline: str, resamples: int, level: float
) -> str:
    """The study's answer in a few paragraphs, every number computed from ``r``; ``level``: the
    confidence level of the intervals (``evaluation.ci_level``)."""
    f = _Findings(r, variants, baseline, level)
    lines = [
        *_preamble(f, resamples),
        *_design(r, variants, baseline),
        "### What the study finds",
        "",
        *_reliability_paragraph(f),
        *_annotator_paragraph(f),
        *_other_paragraph(f),
        *_accuracy_paragraph(f),
    ]
    if len(r.differences):
        lines += _seed_lines(r, [x for x in r.rows if x in variants], f.base)
    lines += _resolution_paragraph(f)
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
    resamples: int,
    root: PathLike,
    classes: str = "msp_podcast",
) -> StudyResults:
    """Write every file of :func:`output_files` under ``root``.

    ``inputs``: see :func:`sertools.study.collect.collect`; ``settings``: the
    setting records (:meth:`sertools.study.grid.Setting.describe`), in report
    order; ``variants``: name -> ``paper_row``, ``targets``, ``hard_labels``;
    ``resamples``: the B of the scores (:func:`sertools.study.families.resamples`);
    ``classes``: the corpus's class set (``synthetic.classes``).
    """
    root = Path(root)
    class_set_ = class_set(classes)
    expected = {str(root / f) for f in output_files(class_set_)}
    if {str(p) for p in outputs} != expected:
        raise ValueError(f"study_report: the outputs must be {sorted(expected)}")
    results = collect_mod.collect(inputs, settings, variants, baseline, evaluation, class_set_)
    tables = root / "tables"
    cis = _cis(evaluation)
    level = float(evaluation["ci_level"])
    _scores_table(results, tables, cis)
    _differences_table(results, tables, resamples, level)
    if shown(NEEDS["other_class"], class_set_):
        _other_table(results, tables, cis)
    _votes_table(results, tables, cis)
    plot_all(results, root / "figures")
    write_text(root / FINDINGS, _findings(results, variants, baseline, resamples, level))
    return results

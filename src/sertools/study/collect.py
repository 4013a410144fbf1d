"""The study's results as tidy tables, read from each setting's evaluation documents.

:func:`collect` turns the ``study_evaluate`` outputs of every setting (metrics
and significance documents, ``summary.json``) into four DataFrames that the
tables, figures and findings of :mod:`sertools.study.report` are drawn from:

* ``scores``: one line per (setting, row, metric): ``mean, ci_low, ci_high``;
* ``differences``: one line per (setting, compared variant, metric): the paired
  difference against the baseline with its CI, p and Holm-adjusted p (Holm
  over the compared variants of one setting and metric, as the workflow's
  significance table corrects over the variants of one metric: a correction
  over all settings at once would need far more than B = 1,000 resamples,
  whose smallest p-value is about 2 / B);
* ``other``: one line per (setting, stratum, row): the row's argmax-Other
  share and the humans' Other vote share;
* ``votes``: one line per setting: its votes against the latent truth.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sertools.evaluation import metrics_doc, significance_doc
from sertools.evaluation.reference import ORACLE, PRIOR, REFERENCES
from sertools.evaluation.significance import holm
from sertools.splits import HEADLINE

__all__ = ["DIFF_METRICS", "METRICS", "SETTING_COLUMNS", "StudyResults", "collect", "row_labels"]

#: metric -> its label, in table order (``entropy_pred`` comes from summary.json)
METRICS: dict[str, str] = {
    "jsd_true": "JSD truth",
    "kld_true": "KLD truth",
    "jsd_primary": "JSD votes",
    "kld_primary": "KLD votes",
    "macro_f1": "Macro-F1",
    "entropy_pred": "Pred. entropy",
}
#: metrics of the paired comparisons against the baseline
DIFF_METRICS: tuple[str, ...] = ("jsd_true", "kld_true", "jsd_primary", "kld_primary", "macro_f1")
SETTING_COLUMNS: tuple[str, ...] = (
    "setting",
    "axis",
    "level",
    "reliability",
    "other_when_unsure",
    "annotators",
)
_REFERENCE_LABELS = {ORACLE: "Oracle (truth)", PRIOR: "Prior (Train)"}


@dataclass(frozen=True)
class StudyResults:
    scores: pd.DataFrame
    differences: pd.DataFrame
    other: pd.DataFrame
    votes: pd.DataFrame
    rows: dict[str, str]  # row name -> label, in report order (models, then references)
    split: str


def row_labels(variants: Mapping[str, Mapping[str, Any]], baseline: str) -> dict[str, str]:
    """Row name -> label, in report order: the baseline, the other hard rows, the distributional
    rows (each group by name), then the reference rows. A variant's label is its paper row (or name)."""
    order = sorted(variants, key=lambda v: (v != baseline, variants[v]["targets"] != "consensus", v))
    out = {v: str(variants[v].get("paper_row") or v) for v in order}
    out.update({r: _REFERENCE_LABELS[r] for r in REFERENCES})
    return out


def _split_of(evaluation: Mapping[str, Any]) -> str:
    splits = list(evaluation["splits"])
    return HEADLINE if HEADLINE in splits else splits[0]


def _setting_fields(setting: Mapping[str, Any]) -> dict[str, Any]:
    return {k: setting[k] for k in SETTING_COLUMNS}


def _entry(e: Mapping[str, Any] | None) -> dict[str, float]:
    e = e or {}
    return {k: np.nan if e.get(k) is None else float(e[k]) for k in ("mean", "ci_low", "ci_high")}


def collect(
    inputs: Mapping[str, Any],
    settings: Sequence[Mapping[str, Any]],
    variants: Mapping[str, Mapping[str, Any]],
    baseline: str,
    evaluation: Mapping[str, Any],
) -> StudyResults:
    """Read every setting's documents (``inputs`` keys: ``summary.<setting>``,
    ``metrics.<row>.<setting>``, ``significance.<variant>.<setting>``)."""
    split = _split_of(evaluation)
    labels = row_labels(variants, baseline)
    scores, diffs, other, votes = [], [], [], []
    for setting in settings:
        name = setting["setting"]
        fields = _setting_fields(setting)
        summary = json.loads(Path(inputs[f"summary.{name}"]).read_text())
        v = summary["votes"][split]
        votes.append(
            {
                **fields,
                "fleiss_kappa": summary["fleiss_kappa_primary"],
                "annotators_mean": v["annotators_mean"],
                "x_share": v["x_share"],
                **{
                    f"{k}_{s}": _entry(v[k])[s]
                    for k in ("entropy_votes", "entropy_truth", "jsd_votes_truth")
                    for s in ("mean", "ci_low", "ci_high")
                },
            }
        )
        for row in labels:
            doc = metrics_doc.read(inputs[f"metrics.{row}.{name}"])
            block = doc["splits"][split]["metrics"]
            for m in METRICS:
                e = summary["predicted_entropy"][row][split] if m == "entropy_pred" else block.get(m)
                scores.append({**fields, "row": row, "label": labels[row], "metric": m, **_entry(e)})
            for stratum, o in doc["splits"][split]["other_class"].items():
                other.append(
                    {
                        **fields,
                        "row": row,
                        "label": labels[row],
                        "stratum": stratum,
                        "n_utterances": o["n_utterances"],
                        **{f"model_{k}": val for k, val in _entry(o["other_pred_share"]).items()},
                        **{f"human_{k}": val for k, val in _entry(o["human_other_share"]).items()},
                    }
                )
        for row in variants:
            if row == baseline:
                continue
            doc = significance_doc.read(inputs[f"significance.{row}.{name}"])
            comp = significance_doc.comparisons(doc, split, "all")
            for m in DIFF_METRICS:
                c = comp.get(m) or {}
                diffs.append(
                    {
                        **fields,
                        "row": row,
                        "label": labels[row],
                        "baseline": baseline,
                        "metric": m,
                        **{
                            k: np.nan if c.get(k) is None else float(c[k])
                            for k in ("diff", "ci_low", "ci_high", "p_value")
                        },
                    }
                )
    differences = pd.DataFrame(diffs)
    if len(differences):
        differences["p_holm"] = np.nan
        for _, idx in differences.groupby(["setting", "metric"], sort=False).groups.items():
            differences.loc[idx, "p_holm"] = holm(differences.loc[idx, "p_value"].to_numpy())
    return StudyResults(
        pd.DataFrame(scores), differences, pd.DataFrame(other), pd.DataFrame(votes), labels, split
    )

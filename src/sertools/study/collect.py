"""The study's results as tidy tables, read from each setting's evaluation documents.

:func:`collect` turns the ``study_evaluate`` outputs of every setting
(``scores.json``, ``summary.json``) into four
DataFrames that the tables, figures and findings of
:mod:`sertools.study.report` are drawn from:

* ``scores``: one line per (setting, row, metric): ``mean, ci_low, ci_high``
  (utterances and seeds resampled, :mod:`sertools.study.scores`), the
  utterance-only interval and the SD over seeds;
* ``differences``: one line per (setting, compared variant, metric): the paired
  difference against the baseline with its CI, p (utterances and seeds
  resampled), the utterance-only p, the range over (row seed, baseline seed)
  pairs, its family (:func:`sertools.study.families.family`) and the
  Holm-adjusted p over that family;
* ``other``: one line per (setting, stratum, row): the row's argmax-Other
  share and the humans' Other vote share (``scores.json``, seeds resampled too);
* ``votes``: one line per setting: its votes against the latent truth and the
  raters' mixture.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sertools.classes import MSP_PODCAST, ClassSet
from sertools.evaluation.reference import ORACLE, PRIOR, REFERENCES
from sertools.evaluation.significance import holm
from sertools.splits import HEADLINE
from sertools.study.families import family

__all__ = ["DIFF_METRICS", "METRICS", "SETTING_COLUMNS", "StudyResults", "collect", "row_labels"]

#: metric -> its label, in table order
METRICS: dict[str, str] = {
    "jsd_true": "JSD truth",
    "jsd_raters": "JSD mixture",
    "jsd_primary": "JSD votes",
    "kld_true": "KLD truth",
    "kld_raters": "KLD mixture",
    "kld_primary": "KLD votes",
    "macro_f1": "Macro-F1",
    "entropy_pred": "Pred. entropy",
    "other_mass": "Other prob.",
}
#: metrics of the paired comparisons against the baseline
DIFF_METRICS: tuple[str, ...] = (
    "jsd_true",
    "jsd_raters",
    "jsd_primary",
    "kld_true",
    "kld_raters",
    "kld_primary",
    "macro_f1",
)
SETTING_COLUMNS: tuple[str, ...] = (
    "setting",
    "axis",
    "level",
    "reliability",
    "other_when_unsure",
    "annotators",
    "perception",
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
    #: the corpus's class set: without Other the Other-class records and columns are absent
    classes: ClassSet = MSP_PODCAST

    @property
    def metrics(self) -> dict[str, str]:
        """:data:`METRICS` of this class set (no ``other_mass`` without Other)."""
        return {m: label for m, label in METRICS.items() if m != "other_mass" or self.has_other}

    @property
    def has_other(self) -> bool:
        return self.classes.other is not None


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


def _entry(
    e: Mapping[str, Any] | None, keys: Sequence[str] = ("mean", "ci_low", "ci_high")
) -> dict[str, float]:
    e = e or {}
    return {k: np.nan if e.get(k) is None else float(e[k]) for k in keys}


_SCORE_KEYS = ("mean", "ci_low", "ci_high", "ci_low_utterances", "ci_high_utterances", "seed_sd")
_DIFF_KEYS = (
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "p_value_utterances",
    "seed_pairs_min",
    "seed_pairs_max",
)
#: vote-distribution statistics with an interval (the study's votes table shows them too)
VOTE_CI = (
    "entropy_votes",
    "entropy_truth",
    "entropy_raters",
    "jsd_votes_truth",
    "jsd_votes_raters",
    "jsd_raters_truth",
)
_VOTE_PLAIN = ("other_votes", "other_truth", "other_raters", "x_share", "x_share_train")


def _vote_record(
    fields: Mapping[str, Any], summary: Mapping[str, Any], split: str, classes: ClassSet = MSP_PODCAST
) -> dict[str, Any]:
    """A setting's vote statistics on ``split`` (its labels' summary.json)."""
    v = summary["votes"][split]
    plain = [k for k in _VOTE_PLAIN if classes.other is not None or not k.startswith("other_")]
    return {
        **fields,
        "fleiss_kappa": summary["fleiss_kappa_primary"],
        "annotators_mean": v["annotators_mean"],
        **{k: np.nan if v.get(k) is None else float(v[k]) for k in plain},
        **{f"{k}_{s}": _entry(v[k])[s] for k in VOTE_CI for s in ("mean", "ci_low", "ci_high")},
    }


def _row_records(
    fields: Mapping[str, Any], block: Mapping[str, Any], row: str, label: str, metrics: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One row's score records (one per metric) and Other-class records (one per stratum)."""
    scores = [
        {
            **fields,
            "row": row,
            "label": label,
            "metric": m,
            "n_seeds": block["n_seeds"],
            **_entry(block["metrics"].get(m), _SCORE_KEYS),
        }
        for m in metrics
    ]
    other = [
        {
            **fields,
            "row": row,
            "label": label,
            "stratum": stratum,
            "n_utterances": o["n_utterances"],
            **{f"model_{k}": val for k, val in _entry(o["model"]).items()},
            **{f"human_{k}": val for k, val in _entry(o["human"]).items()},
        }
        for stratum, o in block.get("other_class", {}).items()
    ]
    return scores, other


def _difference_records(
    setting: Mapping[str, Any],
    fields: Mapping[str, Any],
    comparisons: Mapping[str, Any],
    variants: Mapping[str, Mapping[str, Any]],
    baseline: str,
    labels: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Each compared row minus ``baseline`` in one setting, one record per metric, with its Holm family."""
    out = []
    for row in variants:
        if row == baseline:
            continue
        dist = variants[row]["targets"] != "consensus"
        for m in DIFF_METRICS:
            claim = family(
                setting["axis"], setting["other_when_unsure"], setting["perception"], labels[row], dist, m
            )
            out.append(
                {
                    **fields,
                    "row": row,
                    "label": labels[row],
                    "baseline": baseline,
                    "metric": m,
                    "family": claim,
                    **_entry(comparisons[row].get(m), _DIFF_KEYS),
                }
            )
    return out


def _with_holm(diffs: list[dict[str, Any]]) -> pd.DataFrame:
    """The differences with Holm-adjusted p (seeds resampled, and held fixed) within each family."""
    differences = pd.DataFrame(diffs)
    if len(differences):
        differences["p_holm"] = np.nan
        differences["p_holm_utterances"] = np.nan
        differences["family_size"] = 0
        for _, idx in differences.groupby("family", sort=False).groups.items():
            differences.loc[idx, "p_holm"] = holm(differences.loc[idx, "p_value"].to_numpy())
            differences.loc[idx, "p_holm_utterances"] = holm(
                differences.loc[idx, "p_value_utterances"].to_numpy()
            )
            differences.loc[idx, "family_size"] = len(idx)
    return differences


def collect(
    inputs: Mapping[str, Any],
    settings: Sequence[Mapping[str, Any]],
    variants: Mapping[str, Mapping[str, Any]],
    baseline: str,
    evaluation: Mapping[str, Any],
    classes: ClassSet = MSP_PODCAST,
) -> StudyResults:
    """Read every setting's documents (``inputs`` keys: ``summary.<setting>``,
    ``scores.<setting>``); ``classes``: the corpus's class set."""
    split = _split_of(evaluation)
    metrics = [m for m in METRICS if m != "other_mass" or classes.other is not None]
    labels = row_labels(variants, baseline)
    scores, diffs, other, votes = [], [], [], []
    for setting in settings:
        name = setting["setting"]
        fields = _setting_fields(setting)
        summary = json.loads(Path(inputs[f"summary.{name}"]).read_text())
        votes.append(_vote_record(fields, summary, split, classes))
        sc = json.loads(Path(inputs[f"scores.{name}"]).read_text())["splits"][split]
        for row in labels:
            row_scores, row_other = _row_records(fields, sc["rows"][row], row, labels[row], metrics)
            scores += row_scores
            other += row_other
        diffs += _difference_records(setting, fields, sc["comparisons"], variants, baseline, labels)
    return StudyResults(
        pd.DataFrame(scores),
        _with_holm(diffs),
        pd.DataFrame(other),
        pd.DataFrame(votes),
        labels,
        split,
        classes,
    )

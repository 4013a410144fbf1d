"""The ``study_evaluate`` stage: one setting's prediction dumps -> its scores, comparisons and summary.

For one setting of :mod:`sertools.study.grid` this stage writes

* the reference rows' dumps (:mod:`sertools.evaluation.reference`: the latent
  truth and the Train prior of the setting's votes);
* ``scores.json`` (:mod:`sertools.study.scores`): every row against the latent
  truth, the raters' mixture and the votes, its macro-F1, predicted entropy
  and Other probability, its argmax-Other share per entropy stratum next to
  the humans', and each variant minus the baseline, with B
  (``resamples``, :func:`sertools.study.families.resamples`) resamples of
  utterances *and* training seeds; uncorrected p-values (Holm's correction
  runs over each claim's family in :mod:`sertools.study.collect`);
* ``summary.json``: the setting and its votes against the latent truth and the
  raters' mixture (mean normalised entropy of votes, truth and mixture, the
  JSDs between them, their mean Other probabilities, Fleiss' kappa,
  annotators per utterance, the X share of Test and Train).

The label table may be either corpus's (:mod:`sertools.labels.view`): the study on a synthetic
corpus of CREMA-D's six classes reads the CREMA-D label table, and without an Other class the
Other columns of the summary and the scores are absent, not zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sertools.arrays import stack_lists
from sertools.classes import MSP_PODCAST, ClassSet
from sertools.evaluation import (
    evaldata,
    metrics_doc,
    predictions,
    reference,
    schemes,
    settings,
)
from sertools.evaluation.bootstrap import ci_interval, resample_indices
from sertools.evaluation.evaldata import seed_files
from sertools.io import write_json
from sertools.labels import table as label_table
from sertools.measures import jsd, normalised_entropy
from sertools.splits import TRAIN
from sertools.study import scores as scores_mod

__all__ = ["SUMMARY_SCHEMA", "mean_with_ci", "run"]

SUMMARY_SCHEMA = "sertools.study.summary/2"
PathLike = str | Path


def mean_with_ci(values: np.ndarray, s: Mapping[str, Any]) -> dict[str, float | None]:
    """Mean of per-utterance ``values`` with a bootstrap CI (the evaluation settings' B, seed, level, method)."""
    values = np.asarray(values, dtype=np.float64)
    if not len(values):
        return {"mean": None, "ci_low": None, "ci_high": None}
    idx = resample_indices(len(values), s["bootstrap_resamples"], s["bootstrap_seed"])
    mean = float(values.mean())
    lo, hi = ci_interval(values[idx].mean(axis=1), mean, s["ci_level"], s["ci_method"])
    num = metrics_doc.number
    return {"mean": num(mean), "ci_low": num(lo), "ci_high": num(hi)}


def _rows_of(frame: pd.DataFrame, column: str, file_ids: pd.Series, what: str, k: int) -> np.ndarray:
    """``column`` (a list column) of ``file_ids``, in that order, as an (n, k) matrix."""
    return stack_lists(frame.set_index("file_id").loc[file_ids][column], f"{what}: {column}", k).astype(
        np.float64
    )


def _vote_summary(
    labels: pd.DataFrame,
    truth: pd.DataFrame,
    mixture: pd.DataFrame,
    split: str,
    s: Mapping[str, Any],
    classes: ClassSet = MSP_PODCAST,
) -> dict[str, Any]:
    """How the setting's votes on ``split`` relate to the latent truth and to the raters' mixture."""
    rows = labels[labels["split"] == split].sort_values("file_id", kind="stable")
    annotators = "n_annotators" if "n_annotators" in rows.columns else "n_responses"  # CREMA-D's name
    p_true = _rows_of(truth, "p_true", rows["file_id"], "latent truth", classes.k)
    p_raters = _rows_of(mixture, "p_raters", rows["file_id"], "rater mixture", classes.k)
    p_votes = stack_lists(rows["p_primary"], "label table: p_primary", classes.k).astype(np.float64)
    train = labels[labels["split"] == TRAIN]
    other = (
        {
            "other_votes": float(p_votes[:, classes.other].mean()),
            "other_truth": float(p_true[:, classes.other].mean()),
            "other_raters": float(p_raters[:, classes.other].mean()),
        }
        if classes.other is not None
        else {}
    )
    return {
        "n_utterances": len(rows),
        "annotators_mean": float(rows[annotators].mean()),
        "entropy_votes": mean_with_ci(normalised_entropy(p_votes), s),
        "entropy_truth": mean_with_ci(normalised_entropy(p_true), s),
        "entropy_raters": mean_with_ci(normalised_entropy(p_raters), s),
        "jsd_votes_truth": mean_with_ci(jsd(p_true, p_votes), s),
        "jsd_votes_raters": mean_with_ci(jsd(p_raters, p_votes), s),
        "jsd_raters_truth": mean_with_ci(jsd(p_true, p_raters), s),
        **other,
        "x_share": float((rows["consensus"] == "X").mean()),
        "x_share_train": float((train["consensus"] == "X").mean()) if len(train) else None,
    }


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    setting: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    variants: Mapping[str, Mapping[str, Any]],
    baseline: str,
    seeds: Sequence[int],
    resamples: int,
) -> dict[str, Any]:
    """Evaluate one setting.

    ``inputs``: ``labels`` (the setting's label table), ``label_summary``,
    ``truth``, ``mixture`` (the setting's ``rater_mixture.parquet``) and, per
    variant and split, ``<variant>.<split>`` (one dump per seed, in ``seeds``
    order). ``outputs``: the keys of :func:`sertools.study.layout.evaluation_outputs`.
    ``setting``: the setting's record (:meth:`sertools.study.grid.Setting.describe`);
    ``variants``: name -> the variant's section (``targets``, ``hard_labels``);
    ``resamples``: B of the scores and comparisons.
    """
    splits = list(evaluation["splits"])
    s = settings.resolve(evaluation)
    view = evaldata.read_label_view(inputs["labels"])
    classes = view.classes
    labels = label_table.read(inputs["labels"]) if classes == MSP_PODCAST else view.table
    truth = pd.read_parquet(inputs["truth"])
    mixture = pd.read_parquet(inputs["mixture"])
    for ref in reference.REFERENCES:
        for split, tab in reference.tables(ref, labels, splits, truth, classes.k).items():
            predictions.write(outputs[f"reference.{ref}.{split}"], tab)

    def paths(row: str) -> dict[str, list[str]]:
        if row in reference.REFERENCES:
            return {sp: [str(outputs[f"reference.{row}.{sp}"])] for sp in splits}
        return {
            sp: [str(p) for p in seed_files(inputs[f"{row}.{sp}"], seeds, f"{row} {sp}")] for sp in splits
        }

    rows = [*variants, *reference.REFERENCES]
    write_json(
        outputs["scores"],
        {
            "schema": scores_mod.SCHEMA,
            "setting": dict(setting),
            "splits": {
                split: _scores(
                    paths,
                    rows,
                    split,
                    inputs["labels"],
                    truth,
                    mixture,
                    evaluation,
                    baseline,
                    variants,
                    resamples,
                    classes,
                )
                for split in splits
            },
        },
    )
    label_summary = json.loads(Path(inputs["label_summary"]).read_text())
    summary = {
        "schema": SUMMARY_SCHEMA,
        "setting": dict(setting),
        "seeds": list(seeds),
        "fleiss_kappa_primary": _fleiss_kappa(label_summary),
        "votes": {split: _vote_summary(labels, truth, mixture, split, s, classes) for split in splits},
    }
    write_json(outputs["summary"], summary)
    return summary


def _fleiss_kappa(label_summary: Mapping[str, Any]) -> float | None:
    """Fleiss' kappa of the primary votes from either label stage's summary (CREMA-D's: per modality)."""
    if "reliability" in label_summary:
        return label_summary["reliability"]["fleiss_kappa_primary"].get("all")
    return label_summary["statistics"][label_summary["modality"]]["fleiss_kappa"]["kappa"]


def _scores(
    paths: Any,
    rows: Sequence[str],
    split: str,
    labels_path: PathLike,
    truth: pd.DataFrame,
    mixture: pd.DataFrame,
    evaluation: Mapping[str, Any],
    baseline: str,
    variants: Mapping[str, Any],
    resamples: int,
    classes: ClassSet,
) -> dict[str, Any]:
    """:func:`sertools.study.scores.score_rows` of every row on ``split`` (hard labels: the common scheme)."""
    common = schemes.resolve(evaluation)
    table = evaldata.read_label_view(labels_path).table
    lab, columns = schemes.label_columns(table, common, reference=False)
    p_true = truth[["file_id", "p_true"]]
    data = {
        row: evaldata.load_split(paths(row)[split], lab, split, p_true, classes=classes, **columns)[0]
        for row in rows
    }
    fids = pd.Series(data[rows[0]][0].file_ids)
    p_raters = _rows_of(mixture, "p_raters", fids, "rater mixture", classes.k)
    return scores_mod.score_rows(
        data,
        p_raters,
        baseline,
        [v for v in variants if v != baseline],
        settings.resolve(evaluation),
        resamples,
    )

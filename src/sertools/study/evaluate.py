"""The ``study_evaluate`` stage: one setting's prediction dumps -> its metrics, comparisons and summary.

For one setting of :mod:`sertools.study.grid` this stage writes

* the reference rows' dumps (:mod:`sertools.evaluation.reference`: the latent
  truth and the Train prior of the setting's votes);
* one metrics document per variant and reference, the same documents as the
  workflow's ``metrics`` rule (:func:`sertools.evaluation.metrics.variant_metrics`:
  JSD/KLD to the votes and to the latent truth, macro-F1 against the
  consensus, the Other-class rows per entropy stratum, all with bootstrap CIs
  over utterances, seeds averaged inside each resample);
* one significance document per compared variant against the hard baseline
  (:func:`sertools.evaluation.significance.compare`: the paired difference
  with its CI and uncorrected p; Holm's correction is applied over the whole
  study by :mod:`sertools.study.report`);
* ``summary.json``: the setting, its votes against the latent truth (mean
  normalised entropy of votes and truth, JSD of the votes to the truth,
  Fleiss' kappa, annotators per utterance) and each row's mean predicted
  normalised entropy with a bootstrap CI (``evaluation.ci_method``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sertools.arrays import stack_lists
from sertools.evaluation import (
    metrics,
    metrics_doc,
    predictions,
    reference,
    settings,
    significance,
    significance_doc,
)
from sertools.evaluation.bootstrap import ci_interval, resample_indices
from sertools.evaluation.evaldata import seed_files
from sertools.io import write_json
from sertools.labels import table as label_table
from sertools.measures import jsd, normalised_entropy

__all__ = ["SUMMARY_SCHEMA", "mean_with_ci", "run"]

SUMMARY_SCHEMA = "sertools.study.summary/1"
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


def _predicted_entropy(paths: Sequence[PathLike], file_ids: np.ndarray) -> np.ndarray:
    """Per utterance (in ``file_ids`` order), the normalised entropy of each seed's prediction, averaged over seeds."""
    per_seed = []
    for p in paths:
        df = predictions.read(p).set_index("file_id").loc[file_ids]
        per_seed.append(normalised_entropy(stack_lists(df["probs"], f"{p}: probs").astype(np.float64)))
    return np.mean(per_seed, axis=0)


def _vote_summary(
    labels: pd.DataFrame, truth: pd.DataFrame, split: str, s: Mapping[str, Any]
) -> dict[str, Any]:
    """How the setting's votes on ``split`` relate to the latent truth."""
    rows = labels[labels["split"] == split].sort_values("file_id", kind="stable")
    t = truth.set_index("file_id").loc[rows["file_id"]]
    p_true = stack_lists(t["p_true"], "latent truth: p_true").astype(np.float64)
    p_votes = label_table.matrix(rows, "p_primary").astype(np.float64)
    return {
        "n_utterances": len(rows),
        "annotators_mean": float(rows["n_annotators"].mean()),
        "entropy_votes": mean_with_ci(normalised_entropy(p_votes), s),
        "entropy_truth": mean_with_ci(normalised_entropy(p_true), s),
        "jsd_votes_truth": mean_with_ci(jsd(p_true, p_votes), s),
        "x_share": float((rows["consensus"] == "X").mean()),
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
) -> dict[str, Any]:
    """Evaluate one setting.

    ``inputs``: ``labels`` (the setting's label table), ``label_summary``,
    ``truth`` and, per variant and split, ``<variant>.<split>`` (one dump per
    seed, in ``seeds`` order). ``outputs``: the keys of
    :func:`sertools.study.layout.evaluation_outputs` plus
    ``reference.<row>.<split>`` for the reference dumps. ``setting``: the
    setting's record (:meth:`sertools.study.grid.Setting.describe`);
    ``variants``: name -> the variant's section (``targets``, ``hard_labels``).
    """
    splits = list(evaluation["splits"])
    s = settings.resolve(evaluation)
    labels = label_table.read(inputs["labels"])
    truth = pd.read_parquet(inputs["truth"])
    for ref in reference.REFERENCES:
        for split, tab in reference.tables(ref, labels, splits, truth).items():
            predictions.write(outputs[f"reference.{ref}.{split}"], tab)

    def paths(row: str) -> dict[str, list[str]]:
        if row in reference.REFERENCES:
            return {sp: [str(outputs[f"reference.{row}.{sp}"])] for sp in splits}
        return {
            sp: [str(p) for p in seed_files(inputs[f"{row}.{sp}"], seeds, f"{row} {sp}")] for sp in splits
        }

    rows = [*variants, *reference.REFERENCES]
    entropy: dict[str, dict[str, Any]] = {}
    for row in rows:
        cfg = dict(variants[row]) if row in variants else None
        doc = metrics.variant_metrics(
            paths(row), inputs["labels"], evaluation, inputs["truth"], variant=row, variant_cfg=cfg
        )
        metrics_doc.write(outputs[f"metrics.{row}"], doc)
        entropy[row] = {}
        for split in splits:
            fids = labels.loc[labels["split"] == split, "file_id"].sort_values(kind="stable").to_numpy()
            entropy[row][split] = mean_with_ci(_predicted_entropy(paths(row)[split], fids), s)
    for row in variants:
        if row == baseline:
            continue
        doc = significance.compare(
            paths(row),
            paths(baseline),
            inputs["labels"],
            evaluation,
            inputs["truth"],
            variant=row,
            baseline=baseline,
        )
        significance_doc.write(outputs[f"significance.{row}"], doc)
    label_summary = json.loads(Path(inputs["label_summary"]).read_text())
    summary = {
        "schema": SUMMARY_SCHEMA,
        "setting": dict(setting),
        "seeds": list(seeds),
        "fleiss_kappa_primary": label_summary["reliability"]["fleiss_kappa_primary"].get("all"),
        "votes": {split: _vote_summary(labels, truth, split, s) for split in splits},
        "predicted_entropy": entropy,
    }
    write_json(outputs["summary"], summary)
    return summary

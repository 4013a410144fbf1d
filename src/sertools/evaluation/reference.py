"""The reference rows: prediction dumps that bracket every model on the synthetic corpus.

* ``oracle_truth`` predicts each utterance's latent true distribution
  (``latent_truth.parquet``): the ceiling a model could reach if it perceived
  exactly as the simulated listeners do. Its A/V/D are the latent true ratings.
* ``prior`` predicts one constant distribution for every utterance: the mean
  of the Train split's primary-vote distributions (the Train class prior of
  the votes), with the Train means of the A/V/D ratings: the floor of a model
  that learnt nothing from the audio.

Both are deterministic (no seed) and are written in the format of
:mod:`sertools.evaluation.predictions`, so the metrics and table stages treat
them like any model's dumps. The workflow stores them as seed 0 of their
variant (``results/predictions/<reference>/seed0/``). Given the audio
manifest, both cover exactly the utterances the models see (the labelled
utterances the manifest kept) and the prior is taken over the manifest's
Train rows; without it, every labelled utterance.

Nothing here imports torch: a reference costs a few table reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sertools import arrays
from sertools.arrays import stack_lists
from sertools.classes import DIMENSIONS, K
from sertools.data import manifest_table
from sertools.evaluation import predictions
from sertools.evaluation.evaldata import EvaluationError
from sertools.labels import view as label_view
from sertools.splits import TRAIN

__all__ = [
    "MODEL",
    "ORACLE",
    "PRIOR",
    "REFERENCES",
    "SEED",
    "available",
    "kept_rows",
    "oracle_table",
    "prior_table",
    "run",
    "tables",
    "train_prior",
]

PathLike = str | Path

ORACLE = "oracle_truth"
PRIOR = "prior"
#: every reference row, in table order (floor last)
REFERENCES: tuple[str, ...] = (ORACLE, PRIOR)
#: the model label of a reference in its metrics document and the tables' Model column
MODEL = "reference"
#: the seed a reference's dumps are stored as (it has no seed: one deterministic run)
SEED = 0
_TRUTH_DIMS = tuple(f"{d}_true" for d in DIMENSIONS)
#: the label-table columns a reference reads (with the class set's A/V/D when it has them)
_LABEL_COLUMNS = ("file_id", "split", "p_primary")


def available(has_truth: bool) -> list[str]:
    """The references a corpus allows: the oracle needs a latent truth (the synthetic corpus)."""
    return [r for r in REFERENCES if has_truth or r != ORACLE]


def kept_rows(labels: pd.DataFrame, manifest: pd.DataFrame | None) -> pd.DataFrame:
    """The labelled utterances the models see: those the manifest kept (all of them without one)."""
    if manifest is None:
        return labels
    return labels[arrays.isin(labels["file_id"], manifest["file_id"])]


def _split_rows(labels: pd.DataFrame, split: str) -> pd.DataFrame:
    return labels[labels["split"] == split].sort_values("file_id", kind="stable")


def _renormalised(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, None)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def oracle_table(labels: pd.DataFrame, truth: pd.DataFrame, split: str) -> pa.Table:
    """The latent truth of every labelled utterance of ``split`` as a prediction table."""
    rows = _split_rows(labels, split)
    need = {"file_id", "p_true", *_TRUTH_DIMS}
    missing = sorted(need - set(truth.columns))
    if missing:
        raise EvaluationError(f"latent truth lacks column(s) {missing}")
    t = truth.set_index("file_id")
    absent = ~rows["file_id"].isin(t.index)
    if absent.any():
        raise EvaluationError(
            f"latent truth lacks {int(absent.sum())} labelled {split} utterance(s), "
            f"e.g. {rows['file_id'][absent].iloc[0]!r}"
        )
    t = t.loc[rows["file_id"]]
    n = len(rows)
    k = len(rows["p_primary"].iloc[0]) if n else 0
    probs = _renormalised(stack_lists(t["p_true"], "latent truth: p_true", k)) if n else np.zeros((0, k))
    dims = t[list(_TRUTH_DIMS)].to_numpy(dtype=np.float32) if n else np.zeros((0, len(DIMENSIONS)))
    return predictions.build(rows["file_id"].tolist(), split, probs, dims)


def train_prior(labels: pd.DataFrame, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """The mean Train primary-vote distribution and the Train mean A/V/D ratings (an empty
    vector for a label table without A/V/D, such as CREMA-D's)."""
    train = labels[labels["split"] == TRAIN]
    if not len(train):
        raise EvaluationError("the label table has no Train utterances: the prior is undefined")
    p = stack_lists(train["p_primary"], "label table: p_primary", width=k).mean(axis=0, keepdims=True)
    present = [d for d in DIMENSIONS if d in train.columns]
    if not present:
        return _renormalised(p)[0], np.zeros(0, dtype=np.float32)
    dims = train[present].to_numpy(dtype=np.float64)
    return _renormalised(p)[0], np.nanmean(dims, axis=0).astype(np.float32)


def prior_table(labels: pd.DataFrame, split: str, k: int = K) -> pa.Table:
    """The Train prior as one constant prediction for every labelled utterance of ``split``
    (``k``: the classes of the label table)."""
    rows = _split_rows(labels, split)
    prior, dims = train_prior(labels, k)
    n = len(rows)
    return predictions.build(rows["file_id"].tolist(), split, np.tile(prior, (n, 1)), np.tile(dims, (n, 1)))


def tables(
    reference: str,
    labels: pd.DataFrame,
    splits: Sequence[str],
    truth: pd.DataFrame | None = None,
    k: int = K,
) -> dict[str, pa.Table]:
    """The prediction table of ``reference`` for each split."""
    if reference == ORACLE:
        if truth is None:
            raise EvaluationError(f"{ORACLE} needs the latent truth of a synthetic corpus")
        return {s: oracle_table(labels, truth, s) for s in splits}
    if reference == PRIOR:
        return {s: prior_table(labels, s, k) for s in splits}
    raise EvaluationError(f"unknown reference {reference!r}; known: {list(REFERENCES)}")


def run(
    inputs: Mapping[str, Any],
    outputs: Sequence[PathLike],
    *,
    reference: str,
    splits: Sequence[str],
) -> dict[str, int]:
    """The ``reference`` rule: write one prediction dump per split (``outputs[i]`` for ``splits[i]``).

    ``inputs``: ``labels`` (the label table), optionally ``manifest`` (the
    audio manifest: only the utterances it kept, as for the models) and, for
    ``oracle_truth``, ``truth`` (the latent truth). Returns the rows written
    per split.
    """
    outputs = list(outputs)
    if reference not in REFERENCES:
        raise EvaluationError(f"unknown reference {reference!r}; known: {list(REFERENCES)}")
    if len(outputs) != len(splits):
        raise EvaluationError(f"{len(outputs)} output file(s) for {len(splits)} split(s)")
    classes = label_view.table_class_set(inputs["labels"])
    labels = label_view.read_columns(inputs["labels"], [*_LABEL_COLUMNS, *classes.dimensions]).table
    if inputs.get("manifest"):
        manifest = manifest_table.read(inputs["manifest"], columns=["file_id", "split"])
        labels = kept_rows(labels, manifest)
    truth = None
    if reference == ORACLE:
        if not inputs.get("truth"):
            raise EvaluationError(f"{ORACLE} needs the latent truth of a synthetic corpus (input 'truth')")
        truth = pd.read_parquet(inputs["truth"])
    written: dict[str, int] = {}
    for (split, tab), path in zip(
        tables(reference, labels, splits, truth, classes.k).items(), outputs, strict=True
    ):
        predictions.write(path, tab)
        written[split] = tab.num_rows
    return written

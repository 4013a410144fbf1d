"""What a variant trains on: a split's rows -> class indices or distributions, hard labels, A/V/D.

:func:`build_targets` turns a split's rows into the arrays a variant trains on
(unsmoothed; label smoothing is the loss's job): ``consensus`` targets are
class indices (X rows excluded); any other ``targets`` names a distribution
column ``p_<targets>`` of the label table (``primary``, ``merged``,
``release_MH``, ...; X rows only with ``include_no_agreement``). Losses other
than ce/cbce see distributions (one-hot for consensus). Dimensional targets are
on the model's ``dim_scale`` (NaN when a rating is missing).

The variant's ``hard_labels`` scheme (:func:`scheme_hard_labels`, names from
:mod:`sertools.labels.schemes`) gives each utterance its hard label:
``consensus`` (the consensus class, X none), ``consensus_x_other`` (X as Other,
so X utterances are trained on: the release's hard rows) or ``guarded_argmax``
(the release's neutral-guarded argmax of the variant's own target
distribution). Hard losses train on it; every variant reports it as ``hard``
(and, unless the scheme is ``consensus``, as ``classes``) for validation
macro-F1 and the curriculum.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sertools.arrays import stack_lists
from sertools.classes import DIMENSIONS, MSP_PODCAST, NO_AGREEMENT, ClassSet
from sertools.data import dim_scale
from sertools.data.errors import DataError
from sertools.labels import schemes as names

log = logging.getLogger(__name__)

DIFFICULTIES = {"entropy_primary": "entropy_primary", "entropy_merged": "entropy_merged"}
HARD_LOSSES = ("ce", "cbce")


def stack(column: pd.Series, name: str = "") -> np.ndarray:
    """(N, width) float64 array from a list column (width: the class set's K, 9 by default):
    :func:`sertools.arrays.stack_lists`, raising DataError."""
    return stack_width(column, MSP_PODCAST.k, name)


def stack_width(column: pd.Series, width: int, name: str = "") -> np.ndarray:
    """(N, ``width``) float64 array from a list column, raising DataError."""
    try:
        return stack_lists(column, name or str(column.name), width=width)
    except ValueError as e:
        raise DataError(str(e)) from None


def hard_labels(df: pd.DataFrame) -> np.ndarray:
    """Consensus class index per row, -1 for X (no agreement)."""
    return df["hard_label"].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)


def dimension_targets(
    df: pd.DataFrame, scale: str = "unit", dimensions: tuple[str, ...] = DIMENSIONS
) -> np.ndarray:
    """(N, len(dimensions)) float32 ratings of ``dimensions`` in the model's ``scale``; NaN if missing.

    ``scale``: ``model.dim_scale`` (:mod:`sertools.data.dim_scale`); ``unit`` is
    u = (x - 1) / 6. A class set without A/V/D has no dimensions: (N, 0).
    """
    x = df[list(dimensions)].to_numpy(dtype=np.float64, na_value=np.nan).reshape(len(df), len(dimensions))
    return np.asarray(dim_scale.to_model_scale(x, scale), dtype=np.float32)


def difficulty_scores(df: pd.DataFrame, kind: str) -> np.ndarray:
    """Curriculum difficulty per row: normalised entropy, or disagreement = 1 - agreement."""
    if kind in DIFFICULTIES:
        return df[DIFFICULTIES[kind]].to_numpy(dtype=np.float64)
    if kind == "disagreement":
        return 1.0 - df["agreement"].to_numpy(dtype=np.float64)
    raise ValueError(
        f"unknown curriculum difficulty {kind!r} (allowed: entropy_primary, entropy_merged, disagreement)"
    )


@dataclass(frozen=True)
class Targets:
    """What one split trains (or is validated) on.

    ``rows``: positions into the split's table; ``cat``: int64 class indices
    (ce/cbce) or float32 (N, K) distributions; ``dims``: float32 (N, 3), or
    (N, 0) for a class set without A/V/D;
    ``classes``: class of each target (curriculum balance): the hard label, or
    for a distribution under the ``consensus`` scheme its argmax; ``hard``: the
    scheme's hard label or -1.
    """

    rows: np.ndarray
    cat: np.ndarray
    dims: np.ndarray
    classes: np.ndarray
    hard: np.ndarray
    is_index: bool


def _who(variant: Mapping[str, Any], name: str | None) -> str:
    if name is not None:
        return f"variant {name!r}"
    return f"variant (targets {variant['targets']}, hard_labels {variant.get('hard_labels', 'consensus')})"


def _column(df: pd.DataFrame, column: str, why: str) -> pd.Series:
    if column not in df.columns:
        raise DataError(
            f"the label table has no column {column!r} ({why}); columns present: {', '.join(map(str, df.columns))}"
        )
    return df[column]


def scheme_hard_labels(df: pd.DataFrame, variant: Mapping[str, Any], name: str | None = None) -> np.ndarray:
    """Hard label of every row of ``df`` under ``variant``'s ``hard_labels`` scheme; -1 where none.

    ``consensus`` is :func:`hard_labels` (X has none); ``consensus_x_other`` the
    column ``hard_consensus_x_other``; ``guarded_argmax`` the column
    ``hard_guarded_<targets>``, which needs a distribution target. ``name`` (the
    variant's name) is used in error messages.
    """
    scheme, targets = variant["hard_labels"], variant["targets"]
    if scheme == names.CONSENSUS:
        return hard_labels(df)
    if scheme == names.GUARDED:
        if targets == names.CONSENSUS or targets == "release_secondary":
            raise DataError(
                f"{_who(variant, name)}: hard_labels guarded_argmax is the argmax of the variant's own target "
                f"distribution, so it needs distribution targets (primary, merged, release_primary, "
                f"release_<name>), not {targets!r}"
            )
    elif scheme not in names.HARD_LABELS:
        raise DataError(
            f"{_who(variant, name)}: unknown hard_labels {scheme!r} (allowed: {', '.join(names.HARD_LABELS)})"
        )
    column = names.hard_column(names.variant_scheme(scheme, targets))
    values = _column(df, column, f"hard_labels {scheme} of {_who(variant, name)}")
    return values.to_numpy(dtype=np.int64)


def build_targets(
    df: pd.DataFrame,
    variant: Mapping[str, Any],
    name: str | None = None,
    dim_scale: str = "unit",
    classes: ClassSet = MSP_PODCAST,
) -> Targets:
    """Targets of ``variant`` (its ``targets``, ``loss``, ``hard_labels``, ``include_no_agreement``)
    for the rows of ``df``; ``name`` (the variant's name) is used in error messages.

    Which rows: consensus targets keep the rows with a hard label under the
    scheme (X only under ``consensus_x_other``); distribution targets keep every
    non-X row, or every row with ``include_no_agreement``, minus rows without a
    hard label when the loss is hard, and minus all-zero rows (``release_secondary``
    where nobody gave a secondary label). Targets are unsmoothed;
    ``train.label_smoothing`` is applied by the loss. Dimension targets are on
    the model's ``dim_scale`` (:mod:`sertools.data.dim_scale`). ``classes``: the label table's
    class set (its K and its dimensions).
    """
    targets, loss = variant["targets"], variant["loss"]
    scheme = variant["hard_labels"]
    include_x = bool(variant["include_no_agreement"])
    if not names.is_targets(targets):
        raise DataError(
            f"{_who(variant, name)}: unknown targets {targets!r} "
            "(allowed: consensus, primary, merged, release_primary, release_secondary, release_<name>)"
        )
    is_index = loss in HARD_LOSSES
    hard = hard_labels(df)
    is_x = (df["consensus"].astype(str) == NO_AGREEMENT).to_numpy()
    labels = scheme_hard_labels(df, variant, name)
    if targets == "consensus":
        if include_x and scheme == "consensus":
            raise DataError("include_no_agreement needs distributional targets (primary or merged)")
        if ((hard < 0) & ~is_x).any():
            bad = df["file_id"][(hard < 0) & ~is_x].iloc[:3].tolist()
            raise DataError(f"utterances with a consensus class but no hard_label: {bad}")
        keep = labels >= 0
        full = None
    else:
        column = names.distribution_column(targets)
        full = stack_width(
            _column(df, column, f"targets {targets} of {_who(variant, name)}"), classes.k, column
        )
        if is_index and scheme == "consensus":
            raise DataError(
                f"loss {loss!r} needs consensus targets (or hard_labels consensus_x_other / guarded_argmax, "
                f"whose labels it then trains on)"
            )
        keep = np.ones(len(df), dtype=bool) if include_x else ~is_x
        if is_index:
            keep &= labels >= 0
        empty = full.sum(axis=1) == 0
        if targets == "release_secondary" and (keep & empty).any():
            log.info(
                "%s: %d utterance(s) without any secondary label have no release_secondary target and are left out",
                _who(variant, name),
                int((keep & empty).sum()),
            )
            keep &= ~empty
    rows = np.flatnonzero(keep)
    sub = df.iloc[rows]
    if full is None:
        idx = labels[rows]
        dist = np.eye(classes.k)[idx] if len(idx) else np.zeros((0, classes.k))
    else:
        dist = full[rows]
        sums = dist.sum(axis=1)
        bad = ~np.isclose(sums, 1.0, atol=1e-4) | (dist < 0).any(axis=1)
        if bad.any():
            raise DataError(
                f"p_{targets} of {sub['file_id'].iloc[int(np.flatnonzero(bad)[0])]} is not a distribution"
            )
        argmax = dist.argmax(axis=1) if len(dist) else np.zeros(0, dtype=np.int64)
        idx = argmax if scheme == "consensus" else labels[rows]
    cat = labels[rows].astype(np.int64) if is_index else dist.astype(np.float32)
    return Targets(
        rows=rows,
        cat=cat,
        dims=dimension_targets(sub, dim_scale, classes.dimensions),
        classes=idx.astype(np.int64),
        hard=labels[rows],
        is_index=is_index,
    )

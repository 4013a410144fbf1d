"""Hard-label schemes and annotation distributions: which label-table column each name means.

The evaluation scores every variant twice on the hard-label metrics: against
the common scheme ``evaluation.common_hard_labels`` (the same labels for every
row, so rows compare like for like) and against the variant's own
``hard_labels`` (the labels the paper release scored that row against). A
scheme is named as in the config: ``consensus`` (the consensus class, X
excluded), ``consensus_x_other`` (X relabelled Other) or
``guarded_argmax:<distribution>`` (the release's neutral-guarded argmax of a
distribution). Distributions are named ``primary``, ``merged`` or
``release_<name>`` and live in the column ``p_<name>`` (``docs/metrics.md``,
"Two hard-label schemes" and "Entropy strata").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sertools.arrays import stack_lists
from sertools.evaluation.evaldata import EvaluationError, JoinColumns
from sertools.labels import schemes as names
from sertools.labels.schemes import GUARDED
from sertools.measures import normalised_entropy

__all__ = [
    "COMMON_DEFAULTS",
    "GUARDED",
    "check_distribution",
    "check_scheme",
    "distribution_column",
    "hard_column",
    "label_columns",
    "own_distribution",
    "own_scheme",
    "resolve",
    "strata_entropy",
]

#: the scheme keys of the ``evaluation`` section and their defaults (as in the config schema)
COMMON_DEFAULTS: dict[str, str] = {
    "common_hard_labels": "consensus",
    "strata_distribution": "primary",
    "paper_reference": "release_MH",
}


def check_distribution(name: str, what: str = "distribution") -> str:
    """``name`` if it names a distribution (``primary``, ``merged``, ``release_<name>``), else raise."""
    if not names.is_distribution(name):
        raise EvaluationError(f"{what} {name!r} is not primary, merged or release_<name>")
    return name


def check_scheme(name: str, what: str = "hard-label scheme") -> str:
    """``name`` if it names a hard-label scheme, else raise."""
    if not names.is_scheme(name):
        raise EvaluationError(
            f"{what} {name!r} is not consensus, consensus_x_other or {GUARDED}:<distribution>"
        )
    return name


def resolve(evaluation: Mapping[str, Any]) -> dict[str, str]:
    """The scheme keys of the ``evaluation`` section (defaults for absent keys), checked."""
    s = {k: str(evaluation.get(k, v)) for k, v in COMMON_DEFAULTS.items()}
    check_scheme(s["common_hard_labels"], "evaluation.common_hard_labels")
    check_distribution(s["strata_distribution"], "evaluation.strata_distribution")
    check_distribution(s["paper_reference"], "evaluation.paper_reference")
    return s


def distribution_column(name: str) -> str:
    """The label-table column of a distribution: ``p_<name>``."""
    return names.distribution_column(check_distribution(name))


def hard_column(scheme: str) -> str:
    """The label-table column holding the hard labels of ``scheme``."""
    return names.hard_column(check_scheme(scheme))


def own_distribution(variant_cfg: Mapping[str, Any] | None) -> str | None:
    """The variant's own target distribution, or None for hard (``consensus``) targets."""
    targets = (variant_cfg or {}).get("targets", "consensus")
    return None if targets == "consensus" else check_distribution(targets, "variant targets")


def own_scheme(variant_cfg: Mapping[str, Any] | None) -> str:
    """The scheme name of the variant's ``hard_labels`` (``guarded_argmax`` names its targets).

    Without a variant config the own scheme is ``consensus`` (the schema default).
    """
    kind = (variant_cfg or {}).get("hard_labels", names.CONSENSUS)
    if kind not in names.HARD_LABELS:
        raise EvaluationError(
            f"variant hard_labels {kind!r} is not consensus, consensus_x_other or {GUARDED}"
        )
    if kind != GUARDED:
        return kind
    dist = own_distribution(variant_cfg)
    if dist is None:
        raise EvaluationError(
            f"hard_labels {GUARDED} needs distributional targets, the variant has consensus"
        )
    return names.variant_scheme(kind, dist)


def strata_entropy(labels: pd.DataFrame, distribution: str) -> np.ndarray:
    """Per row of ``labels``, the normalised entropy (ln / ln 9, in [0, 1]) of ``distribution``.

    ``primary`` reads the label table's ``entropy_primary`` when present (the
    same values, so the default strata do not move); every other distribution
    is computed from its ``p_<name>`` column.
    """
    if distribution == "primary" and "entropy_primary" in labels.columns:
        return labels["entropy_primary"].to_numpy(dtype=np.float64)
    column = distribution_column(distribution)
    if column not in labels.columns:
        raise EvaluationError(f"label table lacks column {column!r} (distribution {distribution!r})")
    return normalised_entropy(stack_lists(labels[column].to_numpy(), f"labels.{column}"))


def _require(labels: pd.DataFrame, column: str, why: str) -> None:
    if column not in labels.columns:
        raise EvaluationError(f"label table lacks column {column!r} ({why})")


def label_columns(
    labels: pd.DataFrame, schemes: Mapping[str, str], *, reference: bool
) -> tuple[pd.DataFrame, JoinColumns]:
    """The label table prepared for the common scheme, and the columns the join reads.

    Returns ``labels`` (with a column ``entropy_strata`` added when the strata
    distribution is not ``primary``) and the keyword arguments ``hard_column,
    entropy_column, reference_column`` of
    :func:`sertools.evaluation.evaldata.load_split` (``reference_column`` only
    with ``reference``).
    """
    hard = hard_column(schemes["common_hard_labels"])
    _require(labels, hard, f"evaluation.common_hard_labels = {schemes['common_hard_labels']}")
    dist = schemes["strata_distribution"]
    entropy = "entropy_primary"
    if dist != "primary":
        labels = labels.assign(entropy_strata=strata_entropy(labels, dist))
        entropy = "entropy_strata"
    ref = None
    if reference:
        ref = distribution_column(schemes["paper_reference"])
        _require(labels, ref, f"evaluation.paper_reference = {schemes['paper_reference']}")
    return labels, {"hard_column": hard, "entropy_column": entropy, "reference_column": ref}

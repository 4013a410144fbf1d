"""The names a config gives to label-table columns: target distributions and hard-label schemes.

One grammar, read by the training targets (:mod:`sertools.data.targets`), the
evaluation (:mod:`sertools.evaluation.schemes`) and written as patterns in
``config.schema.yaml`` (``tests/labels/test_schemes.py`` holds the schema's
patterns equal to these):

- a **distribution** is ``primary``, ``merged`` or ``release_<name>``; its
  column is ``p_<name>``;
- a variant's **targets** are ``consensus`` or a distribution;
- a **hard-label scheme** is ``consensus`` (column ``hard_label``, X has
  none), ``consensus_x_other`` (``hard_consensus_x_other``: X relabelled
  Other) or ``guarded_argmax:<distribution>`` (``hard_guarded_<distribution>``:
  the release's neutral-guarded argmax); a variant's ``hard_labels`` names the
  scheme without the distribution, which is then its own targets.
"""

from __future__ import annotations

import re

__all__ = [
    "CONSENSUS",
    "DISTRIBUTION_PATTERN",
    "GUARDED",
    "HARD_LABELS",
    "SCHEME_PATTERN",
    "TARGETS_PATTERN",
    "X_OTHER",
    "distribution_column",
    "hard_column",
    "is_distribution",
    "is_scheme",
    "is_targets",
    "variant_scheme",
]

CONSENSUS = "consensus"
X_OTHER = "consensus_x_other"
GUARDED = "guarded_argmax"
#: the values of a variant's ``hard_labels``
HARD_LABELS: tuple[str, ...] = (CONSENSUS, X_OTHER, GUARDED)

_DISTRIBUTION = r"primary|merged|release_[A-Za-z0-9]+"
DISTRIBUTION_PATTERN = rf"^({_DISTRIBUTION})$"
TARGETS_PATTERN = rf"^({CONSENSUS}|{_DISTRIBUTION})$"
SCHEME_PATTERN = rf"^({CONSENSUS}|{X_OTHER}|{GUARDED}:({_DISTRIBUTION}))$"


def _matches(pattern: str, name: object) -> bool:
    return isinstance(name, str) and re.match(pattern, name) is not None


def is_distribution(name: object) -> bool:
    """``primary``, ``merged`` or ``release_<name>``."""
    return _matches(DISTRIBUTION_PATTERN, name)


def is_targets(name: object) -> bool:
    """``consensus`` or a distribution."""
    return _matches(TARGETS_PATTERN, name)


def is_scheme(name: object) -> bool:
    """``consensus``, ``consensus_x_other`` or ``guarded_argmax:<distribution>``."""
    return _matches(SCHEME_PATTERN, name)


def distribution_column(name: str) -> str:
    """The label-table column of a distribution (the caller has checked :func:`is_distribution`)."""
    return f"p_{name}"


def hard_column(scheme: str) -> str:
    """The label-table column holding the hard labels of a scheme (checked by the caller with
    :func:`is_scheme`)."""
    if scheme == CONSENSUS:
        return "hard_label"
    if scheme == X_OTHER:
        return "hard_consensus_x_other"
    return f"hard_guarded_{scheme.split(':', 1)[1]}"


def variant_scheme(hard_labels: str, targets: str) -> str:
    """The scheme of a variant's ``hard_labels`` (``guarded_argmax`` is that of its own ``targets``)."""
    return f"{GUARDED}:{targets}" if hard_labels == GUARDED else hard_labels

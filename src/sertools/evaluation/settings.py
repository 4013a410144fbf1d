"""The bootstrap settings of the ``evaluation`` config section, shared by the metrics and
significance stages.

``resolve`` checks and types the keys; ``bootstrap_kw`` turns them into the
keyword arguments of :mod:`sertools.evaluation.bootstrap`. The resolved
settings are copied into every metrics and significance document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sertools.evaluation.evaldata import EvaluationError
from sertools.evaluation.strata import stratum_names

__all__ = ["KEYS", "bootstrap_kw", "resolve"]

#: the keys of the ``evaluation`` section the resampling reads (in this order)
KEYS: tuple[str, ...] = (
    "bootstrap_resamples",
    "bootstrap_seed",
    "ci_level",
    "entropy_bins",
    "prob_floor",
    "ece_bins",
)


def resolve(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`KEYS` of the ``evaluation`` section, typed and checked."""
    missing = [k for k in KEYS if k not in evaluation]
    if missing:
        raise EvaluationError(f"evaluation config lacks key(s) {missing} (pass config['evaluation'])")
    s = {k: evaluation[k] for k in KEYS}
    s["bootstrap_resamples"] = int(s["bootstrap_resamples"])
    s["bootstrap_seed"] = int(s["bootstrap_seed"])
    s["ci_level"] = float(s["ci_level"])
    s["entropy_bins"] = [float(e) for e in s["entropy_bins"]]
    s["prob_floor"] = float(s["prob_floor"])
    s["ece_bins"] = int(s["ece_bins"])
    if s["bootstrap_resamples"] < 1:
        raise EvaluationError("evaluation.bootstrap_resamples must be >= 1")
    if not 0 < s["ci_level"] < 1:
        raise EvaluationError("evaluation.ci_level must lie in (0, 1)")
    stratum_names(s["entropy_bins"])  # validates the edges
    return s


def bootstrap_kw(s: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of the bootstrap functions from resolved settings."""
    return {
        "B": s["bootstrap_resamples"],
        "seed": s["bootstrap_seed"],
        "ci": s["ci_level"],
        "prob_floor": s["prob_floor"],
        "ece_bins": s["ece_bins"],
    }

"""The bootstrap settings of the ``evaluation`` config section, shared by the metrics and
significance stages.

``resolve`` checks and types the keys; ``bootstrap_kw`` turns them into the
keyword arguments of :mod:`sertools.evaluation.bootstrap`. The resolved
settings are copied into every metrics and significance document;
``ci_method`` says which interval a document's CIs are (documents written
before the key existed used the percentile interval: :func:`recorded_ci_method`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sertools.evaluation.bootstrap import CI_METHOD_NAMES, CI_METHODS, DEFAULT_CI_METHOD
from sertools.evaluation.evaldata import EvaluationError
from sertools.evaluation.strata import stratum_names

__all__ = ["KEYS", "bootstrap_kw", "ci_phrase", "recorded_ci_method", "resolve"]

#: the keys of the ``evaluation`` section the resampling reads (in this order)
KEYS: tuple[str, ...] = (
    "bootstrap_resamples",
    "bootstrap_seed",
    "ci_level",
    "entropy_bins",
    "prob_floor",
    "ece_bins",
    "ci_method",
)
#: keys that may be absent (their schema default applies)
DEFAULTS: dict[str, Any] = {"ci_method": DEFAULT_CI_METHOD}
#: the interval of documents that do not record ``ci_method`` (written before it existed)
LEGACY_CI_METHOD = "percentile"


def resolve(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`KEYS` of the ``evaluation`` section, typed and checked."""
    missing = [k for k in KEYS if k not in evaluation and k not in DEFAULTS]
    if missing:
        raise EvaluationError(f"evaluation config lacks key(s) {missing} (pass config['evaluation'])")
    s = {k: evaluation[k] if k in evaluation else DEFAULTS[k] for k in KEYS}
    s["bootstrap_resamples"] = int(s["bootstrap_resamples"])
    s["bootstrap_seed"] = int(s["bootstrap_seed"])
    s["ci_level"] = float(s["ci_level"])
    s["entropy_bins"] = [float(e) for e in s["entropy_bins"]]
    s["prob_floor"] = float(s["prob_floor"])
    s["ece_bins"] = int(s["ece_bins"])
    s["ci_method"] = str(s["ci_method"])
    if s["bootstrap_resamples"] < 1:
        raise EvaluationError("evaluation.bootstrap_resamples must be >= 1")
    if not 0 < s["ci_level"] < 1:
        raise EvaluationError("evaluation.ci_level must lie in (0, 1)")
    if s["ci_method"] not in CI_METHODS:
        raise EvaluationError(
            f"evaluation.ci_method must be one of {list(CI_METHODS)}, got {s['ci_method']!r}"
        )
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


def recorded_ci_method(doc: Mapping[str, Any]) -> str:
    """The interval method a metrics (or significance) document's CIs were computed with."""
    return str((doc.get("settings") or {}).get("ci_method", LEGACY_CI_METHOD))


def ci_phrase(method: str, level: float | None = None) -> str:
    """How captions name the intervals: ``"95% recentred percentile-bootstrap CI"``."""
    name = CI_METHOD_NAMES.get(method, f"{method} bootstrap")
    return f"{100 * float(level):g}% {name} CI" if level is not None else f"{name} CI"

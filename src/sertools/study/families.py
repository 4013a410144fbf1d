"""The study's hypothesis families: which comparisons one headline claim makes, and the B they need.

A claim of the findings (``tables/findings.md``) is about one question, e.g.
"over every rater-reliability level of the negative control, are the
distributional rows closer to the latent truth than H CE?". Its family is every
comparison that question makes: the distributional rows minus the baseline at
every setting of one axis and one control, for one metric. Holm's correction
runs over that family (:func:`sertools.study.collect.collect`). A row that is
not distributional (H CB) forms a family of its own over the same settings.

* reliability axis: one family per Other-when-unsure propensity (the negative
  and the positive control) and metric: rows x reliability levels;
* annotator axis: one family per rater perception (``raters``, ``truth``) and
  metric: rows x annotator counts.

With B resamples the smallest two-sided bootstrap p-value is 2 / (B + 1)
(:func:`sertools.evaluation.significance.paired_bootstrap`), so a family of m
tests can only reach a Holm-adjusted p of ``2 m / (B + 1)``. The study's B
(:func:`resamples`) is the smallest multiple of 1,000 at which that floor is
at most ``ALPHA / MARGIN`` for its largest family, and never below
``evaluation.bootstrap_resamples``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ALPHA", "MARGIN", "family", "family_sizes", "required_resamples", "resamples"]

#: the level at which the study calls a comparison significant (Holm-adjusted p)
ALPHA = 0.05
#: how far below ALPHA the smallest attainable Holm-adjusted p of the largest family must lie
MARGIN = 10
DISTRIBUTIONAL = "distributional rows"


def _control(axis: str, other_when_unsure: float, perception: str) -> str:
    return f"Other propensity {other_when_unsure:g}" if axis == "reliability" else f"perception {perception}"


def family(
    axis: str, other_when_unsure: float, perception: str, row: str, distributional: bool, metric: str
) -> str:
    """The family of one comparison (row minus baseline at one setting, one metric)."""
    group = DISTRIBUTIONAL if distributional else row
    return f"{axis} axis, {_control(axis, other_when_unsure, perception)}, {group}, {metric}"


def family_sizes(
    settings: Iterable[Mapping[str, Any]], variants: Mapping[str, Mapping[str, Any]], baseline: str
) -> dict[str, int]:
    """Per family (without the metric: every metric's family has the same size), its size.

    ``settings``: setting records (:meth:`sertools.study.grid.Setting.describe`);
    ``variants``: name -> section with ``targets``.
    """
    out: dict[str, int] = {}
    for s in settings:
        for v, cfg in variants.items():
            if v == baseline:
                continue
            key = family(
                s["axis"], s["other_when_unsure"], s["perception"], v, cfg["targets"] != "consensus", ""
            )
            out[key.rstrip(", ")] = out.get(key.rstrip(", "), 0) + 1
    return out


def required_resamples(m: int, alpha: float = ALPHA, margin: float = MARGIN) -> int:
    """The smallest multiple of 1,000 with ``2 m / (B + 1) <= alpha / margin``."""
    if m < 1:
        return 1000
    return 1000 * math.ceil((2.0 * m * margin / alpha - 1.0) / 1000.0)


def resamples(
    settings: Iterable[Mapping[str, Any]],
    variants: Mapping[str, Mapping[str, Any]],
    baseline: str,
    evaluation: Mapping[str, Any],
) -> int:
    """The study's B: enough for its largest family, at least ``evaluation.bootstrap_resamples``."""
    sizes = family_sizes(settings, variants, baseline)
    largest = max(sizes.values(), default=0)
    return max(int(evaluation["bootstrap_resamples"]), required_resamples(largest))

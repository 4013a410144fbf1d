"""The ``labels`` rule: the label stage of the configured corpus.

A CREMA-D download (the rule is given the ``crema_d`` config section) goes to
:mod:`sertools.labels.crema_d`, which writes the CREMA-D label table; an
MSP-Podcast release or the synthetic corpus goes to :mod:`sertools.labels.build`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sertools.labels import build, crema_d


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    labels: Mapping[str, Any],
    evaluation_splits: Sequence[str] | None = None,
    crema_d_settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the label table and summary; ``crema_d_settings`` (the ``crema_d`` section) for CREMA-D.

    ``labels`` is the config section (CREMA-D reads its ``entropy_histogram_bins`` only);
    ``evaluation_splits`` is ``evaluation.splits``. Returns the summary.
    """
    if crema_d_settings is not None:
        return crema_d.run(
            inputs,
            outputs,
            crema_d=crema_d_settings,
            entropy_histogram_bins=int(labels["entropy_histogram_bins"]),
        )
    return dict(build.run(inputs, outputs, labels=labels, evaluation_splits=evaluation_splits))

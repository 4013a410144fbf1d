"""The ``study_fit`` stage: one (setting, seed) of the study -> every variant trained and its dumps written.

The study trains frozen-upstream heads on cached features, each in about a
second, where starting a Python job with torch costs several: one job per
(setting, seed) trains every variant in turn, through the same
:func:`sertools.training.train.run` and :func:`sertools.evaluation.predict.run`
as the workflow's ``train_head`` and ``predict_head`` rules, so each run
directory holds the same files (``run.json``, ``train_log.csv``, ``resume/``;
a killed job resumes every unfinished run; a finished run whose config hash
matches is not retrained). A new seed is a new job: the other seeds' runs are
left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sertools.evaluation import predict
from sertools.features import store
from sertools.splits import DEVELOPMENT, TRAIN
from sertools.training import train

__all__ = ["run"]

log = logging.getLogger(__name__)


def _features(features: Mapping[str, str], splits: Sequence[str]) -> dict[str, str]:
    """The named ``features_<split>`` inputs of these splits."""
    return {f"{store.INPUT_PREFIX}{s}": features[s] for s in splits}


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    variants: Mapping[str, Mapping[str, Any]],
    splits: Sequence[str],
    seed: int,
    threads: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Train and predict every variant for one seed; returns each variant's ``run.json`` summary.

    ``inputs``: ``labels``, ``manifest`` and ``features_<split>`` for Train,
    Development and each of ``splits``. ``outputs``: the keys of
    :func:`sertools.study.layout.fit_outputs`. ``variants``: name ->
    ``{"model": ..., "train": ..., "variant": ...}``, the variant-resolved
    sections (:func:`sertools.config.variant_model`,
    :func:`sertools.config.variant_train`, the variant's own section).
    """
    features = store.paths_from_inputs(inputs)
    missing = [s for s in (TRAIN, DEVELOPMENT, *splits) if s not in features]
    if missing:
        raise ValueError(f"study_fit: no features input for split(s) {missing}")
    base = {"labels": inputs["labels"], "manifest": inputs["manifest"]}
    summaries: dict[str, dict[str, Any]] = {}
    for name, sections in variants.items():
        if sections["model"]["mode"] != "frozen":
            raise ValueError(
                f"study_fit: variant {name!r} is not a frozen-upstream head (model.mode: frozen)"
            )
        run_outputs = {k: outputs[f"{name}.{k}"] for k in ("best", "log_csv", "run")}
        train_inputs = {**base, **_features(features, (TRAIN, DEVELOPMENT))}
        summaries[name] = train.run(
            train_inputs,
            run_outputs,
            model=sections["model"],
            train=sections["train"],
            variant=sections["variant"],
            variant_name=name,
            seed=seed,
            threads=threads,
        )
        predict.run(
            {**base, "best": run_outputs["best"], **_features(features, splits)},
            [outputs[f"{name}.pred.{s}"] for s in splits],
            splits=splits,
            train=sections["train"],
            threads=threads,
        )
        log.info("study_fit: %s seed %d done", name, seed)
    return summaries

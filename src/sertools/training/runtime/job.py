"""One training job: the config sections that decide its weights, and their hash.

A job is a (variant, seed) pair with the ``model`` section, the variant's
``train`` section (its overrides applied) and the variant's own settings. The
config hash covers everything that determines the trained weights: those
sections (less :data:`UNHASHED_TRAIN_KEYS`, which decide no weight), the
variant's name, the seed, the SHA-256 of the label and manifest files (and of
the cached features a frozen-upstream job reads), the code
fingerprint (:func:`sertools.training.runtime.provenance.code_fingerprint`) and
:data:`TRAINING_VERSION`. A resume checkpoint is used only by a job with
the same hash (docs/training.md, "Resume").
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sertools.io import file_sha256
from sertools.training.runtime import provenance

#: the stage module whose code (with its imports) a job's hash includes; the workflow's
#: ``train`` rule runs it too (sertools.architecture.STAGES, checked by a test)
STAGE_MODULE = "sertools.training.train"
TRAINING_VERSION = 2  # bump when training semantics change: old resume checkpoints are then ignored
#: train keys that change no weight (what a run writes beside them), left out of the hash: switching
#: one of them on for a finished run resumes from its checkpoint instead of training again
UNHASHED_TRAIN_KEYS = ("tensorboard",)


def config_hash(
    model_cfg: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    variant: str,
    variant_cfg: Mapping[str, Any],
    seed: int,
    labels_sha256: str,
    manifest_sha256: str,
    code: Mapping[str, str] | None = None,
    features_sha256: Mapping[str, str] | None = None,
) -> str:
    """Hash of everything that determines the trained weights (see the module docstring)."""
    doc = {
        "training_version": TRAINING_VERSION,
        "code": dict(code or {}),
        "model": model_cfg,
        "train": train_cfg,
        "variant": variant,
        "variant_cfg": {k: v for k, v in variant_cfg.items() if k != "train"},
        "seed": int(seed),
        "labels_sha256": labels_sha256,
        "manifest_sha256": manifest_sha256,
    }
    if features_sha256:  # only a frozen-upstream job reads features; the others' documents have no such key
        doc["features_sha256"] = dict(features_sha256)
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Job:
    """What one training run is. Build it with :func:`make_job`."""

    model: Mapping[str, Any]  # the model section
    train: Mapping[str, Any]  # the train section with the variant's overrides
    variant: Mapping[str, Any]  # the variant's section without its train overrides
    variant_name: str
    seed: int
    config_hash: str

    @property
    def frozen(self) -> bool:
        """A head trained on cached frozen-upstream features (``model.mode: frozen``)."""
        return self.model["mode"] == "frozen"

    @property
    def max_epochs(self) -> int:
        return int(self.train["max_epochs"])

    @property
    def curriculum(self) -> dict[str, Any]:
        """The variant's ``curriculum`` section, the settings of its epoch pool
        (:mod:`sertools.data.epoch_pool`; ``order: none`` when it has none)."""
        cur = dict(self.variant.get("curriculum") or {})
        cur.setdefault("order", "none")
        return cur

    def config_doc(self) -> dict[str, Any]:
        """The run's ``config.yaml``."""
        return {
            "model": dict(self.model),
            "train": dict(self.train),
            "variant": {"name": self.variant_name, **self.variant},
            "seed": self.seed,
            "config_hash": self.config_hash,
        }


def make_job(
    model: Mapping[str, Any],
    train: Mapping[str, Any],
    variant: Mapping[str, Any],
    variant_name: str,
    seed: int,
    labels: str | Path,
    manifest: str | Path,
    features: Mapping[str, str | Path] | None = None,
) -> Job:
    """The job of these config sections on these label, manifest (and, frozen, features) files (hashes them all)."""
    model = copy.deepcopy(dict(model))
    train = copy.deepcopy(dict(train))
    variant = {k: copy.deepcopy(v) for k, v in variant.items() if k != "train"}
    digest = config_hash(
        model,
        {k: v for k, v in train.items() if k not in UNHASHED_TRAIN_KEYS},
        variant_name,
        variant,
        int(seed),
        file_sha256(labels),
        file_sha256(manifest),
        provenance.code_fingerprint(STAGE_MODULE),
        {split: file_sha256(path) for split, path in (features or {}).items()},
    )
    return Job(model, train, variant, str(variant_name), int(seed), digest)

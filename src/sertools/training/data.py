"""What a training run reads: Train and Development utterances, their targets and audio.

:func:`load_training_data` joins the label table and the manifest, builds the
variant's targets for Train (what the model fits) and Development (what
selects the checkpoint), refuses data it cannot train or validate on, and
opens the audio: Train items are cropped to ``max_train_duration_s`` at a
random start drawn from (seed, epoch, item), or kept whole when it is null
(the paper release); Development items are full length. A frozen-upstream
job (``model.mode: frozen``) reads the cached feature rows of the same
utterances instead (:mod:`sertools.features.store`), one fixed-size row each.
:class:`WaveformStats` holds the Train waveform mean and std that
``model.waveform_norm: train_stats`` needs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from sertools import measures, splits
from sertools.classes import ClassSet
from sertools.data import dataset
from sertools.data import join as data_join
from sertools.data import targets as data_targets
from sertools.features import store
from sertools.features.dataset import FeatureDataset
from sertools.model import frozen, network
from sertools.model.inference import sample_rate_of
from sertools.training.runtime.errors import TrainingError
from sertools.training.runtime.job import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TrainingData:
    """The data of one run (built by :func:`load_training_data`)."""

    train_table: pd.DataFrame  # every Train utterance with audio
    train_rows: pd.DataFrame  # the Train utterances with a target, in dataset order
    dev_table: pd.DataFrame  # every Development utterance with audio, in dataset order
    train_targets: data_targets.Targets
    dev_targets: data_targets.Targets
    train_set: dataset.AudioDataset | FeatureDataset  # cropped audio items, or feature rows
    train_lengths: np.ndarray  # samples per item after cropping (feature rows: ones)
    dev_set: dataset.AudioDataset | FeatureDataset  # full-length items, or feature rows
    dev_lengths: np.ndarray
    dev_hard: np.ndarray  # consensus class or -1 (validation macro-F1)
    dev_primary: np.ndarray  # primary-vote distributions (validation JSD)
    difficulty: np.ndarray  # each Train item's difficulty for the epoch pool (zeros without a curriculum)
    train_entropy: np.ndarray  # normalised entropy of each Train item's target (the sample weighting)
    sample_rate: int
    num_workers: int  # audio reader processes
    labels_without_audio: Mapping[str, int]
    classes: ClassSet  # the label table's class set (sertools.labels.view)

    @property
    def feature_shape(self) -> tuple[int, int] | None:
        """(L, D) of a frozen-upstream job's feature rows (None: audio)."""
        return self.train_set.shape if isinstance(self.train_set, FeatureDataset) else None

    def check_min_length(self, min_samples: int) -> None:
        """Refuse utterances shorter than the model's receptive field (names the file)."""
        dataset.check_min_frames(self.train_rows, min_samples, self.sample_rate, splits.TRAIN)
        dataset.check_min_frames(self.dev_table, min_samples, self.sample_rate, splits.DEVELOPMENT)


def load_training_data(
    labels: str | Path,
    manifest: str | Path,
    job: Job,
    device: torch.device,
    features: Mapping[str, str | Path] | None = None,
) -> TrainingData:
    """Targets and audio (or, for a frozen job, the ``features`` files of Train and Development)."""
    joined = data_join.load_joined(labels, manifest)
    table, report, classes = joined.table, joined.report, joined.classes
    train_table = table[table["split"] == splits.TRAIN].reset_index(drop=True)
    dev_table = table[table["split"] == splits.DEVELOPMENT].reset_index(drop=True)
    scale = str(job.model["dim_scale"])
    train_targets = data_targets.build_targets(train_table, job.variant, job.variant_name, scale, classes)
    dev_targets = data_targets.build_targets(dev_table, job.variant, job.variant_name, scale, classes)
    _check_usable(job, train_table, dev_table, train_targets, dev_targets)
    sample_rate = sample_rate_of(pd.concat([train_table, dev_table]), str(manifest))
    rows = train_table.iloc[train_targets.rows]
    max_s = job.train["max_train_duration_s"]
    crop = None if max_s is None else max(1, round(float(max_s) * sample_rate))  # None: whole utterances
    train_set: dataset.AudioDataset | FeatureDataset
    dev_set: dataset.AudioDataset | FeatureDataset
    if job.frozen:
        train_feats = feature_rows(features, splits.TRAIN, rows, job.model["upstream"])
        dev_feats = feature_rows(features, splits.DEVELOPMENT, dev_table, job.model["upstream"])
        train_set, train_lengths = train_feats, train_feats.lengths
        dev_set, dev_lengths = dev_feats, dev_feats.lengths
    else:
        train_set = dataset.AudioDataset(
            rows["path"].tolist(), rows["frames"].tolist(), sample_rate, crop, job.seed
        )
        dev_set = dataset.AudioDataset(dev_table["path"].tolist(), dev_table["frames"].tolist(), sample_rate)
        train_lengths = _train_lengths(rows, crop)
        dev_lengths = dev_table["frames"].to_numpy(dtype=np.int64)
    data = TrainingData(
        train_table=train_table,
        train_rows=rows,
        dev_table=dev_table,
        train_targets=train_targets,
        dev_targets=dev_targets,
        train_set=train_set,
        train_lengths=train_lengths,
        dev_set=dev_set,
        dev_lengths=dev_lengths,
        dev_hard=data_targets.scheme_hard_labels(dev_table, job.variant, job.variant_name),
        dev_primary=data_targets.stack_width(dev_table["p_primary"], classes.k, "p_primary"),
        difficulty=_difficulty(rows, job.curriculum),
        train_entropy=target_entropy(train_targets),
        sample_rate=sample_rate,
        num_workers=_reader_processes(device, train_set),
        labels_without_audio=report["labels_without_audio"],
        classes=classes,
    )
    log.info(
        "data: %d Train utterances for variant %s (%d in Train with audio), %d Development; audio in memory: %s/%s",
        len(rows),
        job.variant_name,
        len(train_table),
        len(dev_table),
        train_set.in_memory,
        dev_set.in_memory,
    )
    return data


def feature_rows(
    features: Mapping[str, str | Path] | None, split: str, rows: pd.DataFrame, upstream: str
) -> FeatureDataset:
    """The cached feature rows of ``rows`` (manifest utterances of ``split``), in their order."""
    if not features or split not in features:
        raise TrainingError(f"model.mode frozen needs the {split} features file of upstream {upstream!r}")
    path = features[split]
    feats = store.read(path, upstream)
    return FeatureDataset(
        store.aligned(feats, rows["file_id"].tolist(), rows["frames"].to_numpy(), str(path))
    )


def _check_usable(
    job: Job,
    train_table: pd.DataFrame,
    dev_table: pd.DataFrame,
    train_targets: data_targets.Targets,
    dev_targets: data_targets.Targets,
) -> None:
    """Refuse data that leaves nothing to train on or no defined validation metric."""
    metrics = (job.train["selection_metric"], job.train["newbob_metric"])
    if len(train_targets.rows) == 0:
        raise TrainingError(
            f"variant {job.variant_name!r}: no Train utterances with audio and a usable target"
        )
    if len(dev_table) == 0:
        raise TrainingError("no Development utterances with audio: cannot validate or select a checkpoint")
    dev_hard = data_targets.scheme_hard_labels(dev_table, job.variant, job.variant_name)
    if "one_minus_macro_f1" in metrics and not (dev_hard >= 0).any():
        raise TrainingError(
            "macro-F1 is the selection or NewBob metric but no Development utterance has a consensus class"
        )
    if len(dev_targets.rows) == 0 and "val_loss" in metrics:
        raise TrainingError(
            f"variant {job.variant_name!r}: no Development utterance has a target, so val_loss is undefined"
        )


def _train_lengths(rows: pd.DataFrame, crop: int | None) -> np.ndarray:
    """Samples per Train item after cropping to ``crop`` (None: whole utterances)."""
    frames = rows["frames"].to_numpy(dtype=np.int64)
    return frames if crop is None else np.minimum(frames, crop)


def target_entropy(targets: data_targets.Targets) -> np.ndarray:
    """Normalised entropy (in [0, 1]) of each target distribution; 0 for hard (one-hot) targets."""
    if targets.is_index:
        return np.zeros(len(targets.rows))
    return measures.normalised_entropy(targets.cat)


def _difficulty(rows: pd.DataFrame, curriculum: Mapping[str, Any]) -> np.ndarray:
    """Each item's difficulty under the variant's ``curriculum`` section (:mod:`sertools.data.epoch_pool`)."""
    if curriculum["order"] == "none":
        return np.zeros(len(rows))
    return data_targets.difficulty_scores(rows, curriculum["difficulty"])


def _reader_processes(device: torch.device, train_set: dataset.AudioDataset | FeatureDataset) -> int:
    """Audio reader processes for the Train batches."""
    # reader processes only pay off on a GPU with audio read from disk; crops do not
    # depend on them (pure functions of seed, epoch, item), so neither do the results
    lazy_gpu = device.type == "cuda" and not train_set.in_memory
    return min(4, max(1, (os.cpu_count() or 2) // 2)) if lazy_gpu else 0


@dataclass
class WaveformStats:
    """Mean and std of the Train waveforms under ``waveform_norm: train_stats`` (``None`` otherwise).

    The model keeps them as buffers; the best checkpoint's metadata records
    them. A resume checkpoint stores them, so a resumed run does not read the
    Train audio again.
    """

    value: dict[str, float] | None = None

    @classmethod
    def measure(cls, model: network.SERModel | frozen.FeatureHeadModel, data: TrainingData) -> WaveformStats:
        """Measure them over every Train utterance with audio and set them on ``model``.

        A frozen-upstream head gets its feature statistics here instead (over the
        Train rows it trains on; they are part of its weights).
        """
        if isinstance(data.train_set, FeatureDataset):
            if not isinstance(model, frozen.FeatureHeadModel):
                raise TypeError(f"feature rows train a frozen-upstream head, not a {type(model).__name__}")
            model.set_feature_stats(data.train_set.values.reshape(-1, *data.train_set.shape))
            return cls()
        # a frozen-upstream head's waveform_norm is "none"
        if not isinstance(model, network.SERModel) or model.waveform_norm != "train_stats":
            return cls()
        audio = dataset.AudioDataset(
            data.train_table["path"].tolist(),
            data.train_table["frames"].tolist(),
            data.sample_rate,
            in_memory=False,
        )
        mean, std = dataset.waveform_stats(audio)
        log.info("waveform statistics over %d Train utterances: mean %.6g, std %.6g", len(audio), mean, std)
        value = {"mean": float(mean), "std": float(std)}
        model.set_waveform_stats(value["mean"], value["std"])
        return cls(value)

    def save_state(self) -> tuple[dict[str, torch.Tensor], Any]:
        return {}, self.value

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Any) -> None:
        # the model's buffers come back with the model's own state
        self.value = None if meta is None else {"mean": float(meta["mean"]), "std": float(meta["std"])}

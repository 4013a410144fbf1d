"""The prediction stage: a trained checkpoint -> one parquet of per-utterance outputs per split.

The model is rebuilt from the architecture stored in the checkpoint (no
download) and run with :func:`sertools.model.inference.infer` on full-length
audio in batches of at most ``train.max_eval_batch_seconds`` of padded audio,
on the run's device and AMP setting. The files follow
:data:`sertools.evaluation.predictions.SCHEMA`: ``file_id, split, probs``
(9 float32, softmax in fp32), ``pred`` (argmax), ``arousal, valence,
dominance`` (1-7, converted from the model's ``dim_scale`` recorded in the
checkpoint's architecture, ``unit`` when an older one lacks it), sorted by
file_id; a split without utterances gives an empty file with the same schema.
A frozen-upstream head (``model.mode: frozen``) reads each split's cached
feature rows (inputs ``features_<split>``) instead of audio, with the same
outputs.

Entry points: :func:`run` (the workflow's ``predict`` rule) and
:func:`predict` (the command line: a whole config).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from sertools import config as config_mod
from sertools.data import dataset
from sertools.data import join as data_join
from sertools.data.dim_scale import to_rating_scale
from sertools.data.errors import DataError
from sertools.device import amp_dtype, resolve_device, torch_threads
from sertools.evaluation import predictions
from sertools.features import store
from sertools.features.dataset import FeatureDataset
from sertools.model import factory
from sertools.model.frozen import FeatureHeadModel
from sertools.model.inference import batch_plan, infer, sample_rate_of, softmax
from sertools.model.network import architecture_dim_scale
from sertools.training.runtime import checkpoint

log = logging.getLogger(__name__)


def run(
    inputs: Mapping[str, Any],
    outputs: Sequence[str | Path],
    *,
    splits: Sequence[str],
    train: Mapping[str, Any],
    threads: int | None = None,
) -> None:
    """Write one prediction parquet per split: ``outputs[i]`` for ``splits[i]``.

    ``inputs``: ``best`` (the checkpoint), ``labels``, ``manifest``. ``train``:
    the run's train section; prediction reads its ``sertools.config.PREDICT_TRAIN_KEYS`` (``eval_batching``
    and ``batch_size`` choose the batches). ``threads``: the job's
    thread count, used when ``train.num_threads`` is null.
    """
    if len(splits) != len(outputs):
        raise ValueError(f"predict: {len(splits)} splits but {len(outputs)} output paths")
    model, meta = load_model(inputs["best"])
    device = resolve_device(train["device"])
    features = store.paths_from_inputs(inputs)
    with torch_threads(train.get("num_threads") or threads):
        model.to(device)
        table, _ = data_join.load_table(inputs["labels"], inputs["manifest"])
        for split, out in zip(splits, outputs, strict=True):
            rows = table[table["split"] == split].sort_values("file_id", kind="stable")
            where = str(inputs["manifest"])
            if isinstance(model, FeatureHeadModel):
                where = feature_file(features, split, model)
            predictions.write(out, predict_split(model, meta, rows, split, train, device, where))
            log.info("predict: %s: %d utterances -> %s", split, len(rows), out)


def predict(
    checkpoint_path: str | Path,
    labels_path: str | Path,
    manifest_path: str | Path,
    splits: Sequence[str],
    out_paths: Sequence[str | Path],
    cfg: Mapping[str, Any],
    features_dir: str | Path | None = None,
) -> None:
    """:func:`run` with the settings of a resolved config.

    The train settings are those of the checkpoint's variant when it is in
    ``cfg["variants"]``, else ``cfg["train"]``.
    """
    variant = checkpoint.read_meta(checkpoint_path, kind="best").get("variant")
    if variant is not None and variant in cfg.get("variants", {}):
        train = config_mod.variant_train(cfg, variant)
    else:
        train = dict(cfg["train"])
    inputs = {"best": checkpoint_path, "labels": labels_path, "manifest": manifest_path}
    if features_dir is not None:
        inputs.update(store.input_paths(features_dir, splits))
    run(inputs, out_paths, splits=splits, train=train)


def feature_file(features: Mapping[str, str], split: str, model: FeatureHeadModel) -> str:
    """The features file of ``split`` for a frozen-upstream head (a clear error when it is not given)."""
    if split not in features:
        raise store.FeatureError(
            f"the checkpoint is a frozen-upstream head on {model.upstream!r} features; "
            f"give the {split} features file (input features_{split})"
        )
    return features[split]


def load_model(checkpoint_path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Model rebuilt from a ``best`` checkpoint (architecture + weights), and its metadata."""
    ck = checkpoint.load(checkpoint_path, kind="best")
    arch = ck.meta.get("architecture")
    if not isinstance(arch, dict):
        raise checkpoint.CheckpointError(
            f"{checkpoint_path}: no model architecture in the checkpoint metadata"
        )
    try:
        model = factory.restore(
            arch, checkpoint.strip_prefix(ck.tensors, "model."), ck.meta.get("waveform_stats")
        )
    except ValueError as e:
        raise checkpoint.CheckpointError(f"{checkpoint_path}: {e}") from None
    except RuntimeError as e:
        raise checkpoint.CheckpointError(
            f"{checkpoint_path}: weights do not fit the stored architecture ({e})"
        ) from None
    return model, ck.meta


def predict_split(
    model: torch.nn.Module,
    meta: Mapping[str, Any],
    rows: pd.DataFrame,
    split: str,
    train: Mapping[str, Any],
    device: torch.device,
    where: str,
) -> pa.Table:
    """The prediction table of one split's manifest ``rows``.

    ``where`` names the manifest in errors, or, for a frozen-upstream head, is
    the split's features file.
    """
    sr = sample_rate_of(rows, where)
    if "sample_rate" in meta and len(rows) and sr != int(meta["sample_rate"]):
        raise DataError(f"{split}: audio at {sr} Hz but the model was trained at {meta['sample_rate']} Hz")
    min_len = factory.min_input_length(model)
    items: dataset.Items
    if isinstance(model, FeatureHeadModel):
        feature_rows = head_inputs(model, rows, where)
        items, lengths = feature_rows, feature_rows.lengths
    else:
        dataset.check_min_frames(rows, min_len, sr, split)
        items = dataset.AudioDataset(rows["path"].tolist(), rows["frames"].tolist(), sr)
        lengths = rows["frames"].to_numpy()
    out = infer(
        model,
        items,
        lengths,
        float(train["max_eval_batch_seconds"]),
        device,
        amp_dtype(train["amp"], device),
        min_len,
        plan=batch_plan(train, rows["file_id"].tolist()),
    )
    ratings = dims_to_ratings(out.dims, meta.get("architecture") or {})
    return predictions.build(rows["file_id"].tolist(), split, softmax(out.logits), ratings)


def head_inputs(model: FeatureHeadModel, rows: pd.DataFrame, path: str) -> FeatureDataset:
    """The feature rows of ``rows`` from ``path``, checked against the head's upstream and shape."""
    feats = store.read(path, model.upstream)
    if feats.shape != (model.layers, model.dim):
        raise store.FeatureError(
            f"{path}: key 'features' has rows of [{feats.shape[0]}, {feats.shape[1]}] but the checkpoint's "
            f"head expects [{model.layers}, {model.dim}] (model.upstream {model.upstream}); recompute the "
            "features or retrain the head"
        )
    return FeatureDataset(store.aligned(feats, rows["file_id"].tolist(), rows["frames"].to_numpy(), path))


def dims_to_ratings(dims: np.ndarray, architecture: Mapping[str, Any]) -> np.ndarray:
    """The model's dimensional outputs -> float32 1-7 ratings, by the architecture's ``dim_scale``."""
    return np.asarray(
        to_rating_scale(np.asarray(dims), architecture_dim_scale(architecture)), dtype=np.float32
    )

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
from sertools.classes import K
from sertools.data import dataset
from sertools.evaluation import predictions
from sertools.model.inference import infer, sample_rate_of, softmax
from sertools.model.network import (
    architecture_dim_scale,
    min_input_samples,
    model_from_architecture,
    to_rating_scale,
)
from sertools.training import checkpoint
from sertools.training.device import amp_dtype, resolve_device, torch_threads

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
    the run's train section; prediction reads ``device``, ``amp``,
    ``num_threads`` and ``max_eval_batch_seconds``. ``threads``: the job's
    thread count, used when ``train.num_threads`` is null.
    """
    if len(splits) != len(outputs):
        raise ValueError(f"predict: {len(splits)} splits but {len(outputs)} output paths")
    model, meta = load_model(inputs["best"])
    device = resolve_device(train["device"])
    with torch_threads(train.get("num_threads") or threads):
        model.to(device)
        table, _ = dataset.load_table(inputs["labels"], inputs["manifest"])
        for split, out in zip(splits, outputs, strict=True):
            rows = table[table["split"] == split].sort_values("file_id", kind="stable")
            predictions.write(
                out, predict_split(model, meta, rows, split, train, device, str(inputs["manifest"]))
            )
            log.info("predict: %s: %d utterances -> %s", split, len(rows), out)


def predict(
    checkpoint_path: str | Path,
    labels_path: str | Path,
    manifest_path: str | Path,
    splits: Sequence[str],
    out_paths: Sequence[str | Path],
    cfg: Mapping[str, Any],
) -> None:
    """:func:`run` with the settings of a resolved config.

    The train settings are those of the checkpoint's variant when it is in
    ``cfg["variants"]``, else ``cfg["train"]``.
    """
    variant = checkpoint.read_meta(checkpoint_path, kind="best").get("variant")
    train = (
        config_mod.variant_train(cfg, variant) if variant in cfg.get("variants", {}) else dict(cfg["train"])
    )
    inputs = {"best": checkpoint_path, "labels": labels_path, "manifest": manifest_path}
    run(inputs, out_paths, splits=splits, train=train)


def load_model(checkpoint_path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Model rebuilt from a ``best`` checkpoint (architecture + weights), and its metadata."""
    ck = checkpoint.load(checkpoint_path, kind="best")
    arch = ck.meta.get("architecture")
    if not isinstance(arch, dict):
        raise checkpoint.CheckpointError(
            f"{checkpoint_path}: no model architecture in the checkpoint metadata"
        )
    model = model_from_architecture(arch)
    state = checkpoint.strip_prefix(ck.tensors, "model.")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise checkpoint.CheckpointError(
            f"{checkpoint_path}: weights do not fit the stored architecture ({e})"
        ) from None
    stats = ck.meta.get("waveform_stats")
    if stats is not None:
        model.set_waveform_stats(stats["mean"], stats["std"])
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
    """The prediction table of one split's manifest ``rows`` (``where`` names the manifest in errors)."""
    sr = sample_rate_of(rows, where)
    if "sample_rate" in meta and len(rows) and sr != int(meta["sample_rate"]):
        raise dataset.DataError(
            f"{split}: audio at {sr} Hz but the model was trained at {meta['sample_rate']} Hz"
        )
    min_len = min_input_samples(model)
    dataset.check_min_frames(rows, min_len, sr, split)
    audio = dataset.AudioDataset(rows["path"].tolist(), rows["frames"].tolist(), sr)
    out = infer(
        model,
        audio,
        rows["frames"].to_numpy(),
        float(train["max_eval_batch_seconds"]),
        device,
        amp_dtype(train["amp"], device),
        min_len,
    )
    ratings = dims_to_ratings(out.dims, meta.get("architecture") or {})
    return frame(rows["file_id"].tolist(), split, softmax(out.logits), ratings)


def dims_to_ratings(dims: np.ndarray, architecture: Mapping[str, Any]) -> np.ndarray:
    """The model's dimensional outputs -> float32 1-7 ratings, by the architecture's ``dim_scale``."""
    return np.asarray(
        to_rating_scale(np.asarray(dims), architecture_dim_scale(architecture)), dtype=np.float32
    )


def frame(file_ids: Sequence[str], split: str, probs: np.ndarray, scale_dims: np.ndarray) -> pa.Table:
    """The prediction table of one split (rows in the given order)."""
    probs = np.asarray(probs, dtype=np.float32)
    n = len(file_ids)
    offsets = pa.array(np.arange(0, (n + 1) * K, K, dtype=np.int32))
    return pa.table(
        {
            "file_id": pa.array(list(file_ids), pa.string()),
            "split": pa.array([split] * n, pa.string()),
            "probs": pa.ListArray.from_arrays(offsets, pa.array(probs.reshape(-1), pa.float32())),
            "pred": pa.array(probs.argmax(axis=1) if n else np.zeros(0, np.int64), pa.int64()),
            "arousal": pa.array(scale_dims[:, 0], pa.float32()),
            "valence": pa.array(scale_dims[:, 1], pa.float32()),
            "dominance": pa.array(scale_dims[:, 2], pa.float32()),
        },
        schema=predictions.SCHEMA,
    )

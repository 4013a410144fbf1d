"""Prediction dumps: a trained checkpoint -> one parquet of per-utterance outputs per split.

The model is rebuilt from the architecture stored in the checkpoint (no
download), run in eval mode under ``torch.inference_mode()`` on full-length
audio in batches of at most ``train.max_eval_batch_seconds`` of padded audio.
Each file has the columns ``file_id, split, probs`` (9 float32, softmax in fp32),
``pred`` (argmax), ``arousal, valence, dominance`` (1-7), sorted by file_id;
a split without utterances gives an empty file with the same schema.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm import tqdm

from sertools.classes import K
from sertools.data import batching
from sertools.data import dataset as data
from sertools.io import atomic_path
from sertools.training import checkpoint

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        ("file_id", pa.string()),
        ("split", pa.string()),
        ("probs", pa.list_(pa.float32())),
        ("pred", pa.int64()),
        ("arousal", pa.float32()),
        ("valence", pa.float32()),
        ("dominance", pa.float32()),
    ]
)


def resolve_device(spec: str) -> torch.device:
    """``auto`` -> cuda if available else cpu; anything else is a torch device string."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except RuntimeError as e:
        raise ValueError(f"config key 'train.device': {spec!r} is not a torch device ({e})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"config key 'train.device': {spec!r} requested but CUDA is not available")
    return dev


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: bf16 on CUDA where supported, else fp16; None (fp32) on CPU or when off."""
    if amp == "off" or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """Autocast context for ``dtype``, or a no-op for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def infer(
    model: torch.nn.Module,
    dataset: data.AudioDataset,
    lengths: np.ndarray,
    max_batch_seconds: float,
    device: torch.device,
    dtype: torch.dtype | None = None,
    min_length: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Logits [N, 9] and normalised dims [N, 3] (float32) of every item, full length.

    ``lengths`` are in samples; the batch limit is converted with the dataset's
    sample rate. The model is put in eval mode.
    """
    n = len(dataset)
    logits = np.zeros((n, K), dtype=np.float32)
    dims = np.zeros((n, 3), dtype=np.float32)
    if n == 0:
        return logits, dims
    plan = batching.eval_batches(np.asarray(lengths) / dataset.sample_rate, max_batch_seconds)
    model.eval()
    with torch.inference_mode():
        batches = data.iterate_batches(dataset, plan, min_length)
        for batch in tqdm(
            batches, total=len(plan), desc="predict", unit="batch", mininterval=30, file=sys.stderr
        ):
            with autocast(device, dtype):
                out = model(batch.wave.to(device), batch.lengths.to(device))
            idx = batch.index.numpy()
            logits[idx] = out.logits.float().cpu().numpy()
            dims[idx] = out.dims.float().cpu().numpy()
    return logits, dims


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row softmax computed in fp32 by torch (float32 result)."""
    return torch.softmax(torch.from_numpy(np.asarray(logits, dtype=np.float32)), dim=1).numpy()


def sample_rate_of(rows: pd.DataFrame, where: str) -> int:
    """The one sample rate of a set of manifest rows."""
    rates = sorted({int(r) for r in rows["sample_rate"]})
    if len(rates) > 1:
        raise data.DataError(f"{where}: manifest mixes sample rates {rates}; expected one")
    return rates[0] if rates else 16000


def load_model(checkpoint_path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Model rebuilt from a ``best`` checkpoint (architecture + weights), and its metadata."""
    from sertools.model import network as model_mod

    ck = checkpoint.load(checkpoint_path, kind="best")
    arch = ck.meta.get("architecture")
    if not isinstance(arch, dict):
        raise checkpoint.CheckpointError(
            f"{checkpoint_path}: no model architecture in the checkpoint metadata"
        )
    model = model_mod.model_from_architecture(arch)
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
        schema=SCHEMA,
    )


def write_table(path: str | Path, table: pa.Table) -> None:
    """Write a parquet file atomically."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def predict(
    checkpoint_path: str | Path,
    labels_path: str | Path,
    manifest_path: str | Path,
    splits: Sequence[str],
    out_paths: Sequence[str | Path],
    cfg: Mapping[str, Any],
) -> None:
    """Write one prediction parquet per split (see the module docstring).

    ``cfg`` is the resolved workflow config; the eval batch limit, device,
    threads and AMP come from the ``train`` section of the checkpoint's variant
    when it is in ``cfg["variants"]``, else from ``cfg["train"]``.
    """
    from sertools import config as config_mod

    if len(splits) != len(out_paths):
        raise ValueError(f"predict: {len(splits)} splits but {len(out_paths)} output paths")
    model, meta = load_model(checkpoint_path)
    variant = meta.get("variant")
    tcfg = (
        config_mod.variant_train(cfg, variant) if variant in cfg.get("variants", {}) else dict(cfg["train"])
    )
    device = resolve_device(tcfg["device"])
    old_threads = torch.get_num_threads()
    if tcfg.get("num_threads"):
        torch.set_num_threads(int(tcfg["num_threads"]))
    try:
        _predict_splits(model, meta, tcfg, device, labels_path, manifest_path, splits, out_paths)
    finally:
        torch.set_num_threads(old_threads)


def _predict_splits(
    model: torch.nn.Module,
    meta: Mapping[str, Any],
    tcfg: Mapping[str, Any],
    device: torch.device,
    labels_path: str | Path,
    manifest_path: str | Path,
    splits: Sequence[str],
    out_paths: Sequence[str | Path],
) -> None:
    from sertools.model import network as model_mod

    dtype = amp_dtype(tcfg["amp"], device)
    model.to(device)
    min_len = model_mod.min_input_samples(model)
    table, _ = data.load_table(labels_path, manifest_path)
    for split, out in zip(splits, out_paths, strict=True):
        rows = table[table["split"] == split].sort_values("file_id", kind="stable")
        sr = sample_rate_of(rows, str(manifest_path))
        if "sample_rate" in meta and len(rows) and sr != int(meta["sample_rate"]):
            raise data.DataError(
                f"{split}: audio at {sr} Hz but the model was trained at {meta['sample_rate']} Hz"
            )
        data.check_min_frames(rows, min_len, sr, split)
        ds = data.AudioDataset(rows["path"].tolist(), rows["frames"].tolist(), sr)
        logits, dims = infer(
            model,
            ds,
            rows["frames"].to_numpy(),
            float(tcfg["max_eval_batch_seconds"]),
            device,
            dtype,
            min_len,
        )
        scale = np.asarray(model_mod.dims_to_scale(dims), dtype=np.float32)
        write_table(out, frame(rows["file_id"].tolist(), split, softmax(logits), scale))
        log.info("predict: %s: %d utterances -> %s", split, len(rows), out)

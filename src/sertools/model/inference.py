"""Running a model over a dataset: full-length utterances in bounded batches, fp32 outputs.

Used by training's validation and by the prediction stage, so both see the
same numbers for the same weights: eval mode, ``torch.inference_mode()``,
batches of at most ``max_batch_seconds`` of padded audio
(:func:`sertools.data.batching.eval_batches`), autocast to the run's AMP
dtype when there is one, and outputs cast to fp32 before they leave the device.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from sertools.classes import K
from sertools.data import batching
from sertools.data import dataset as data
from sertools.data.errors import DataError
from sertools.model.network import NUM_DIMS


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """Autocast context for ``dtype``, or a no-op for fp32 (``None``)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


class Inferred(NamedTuple):
    """Outputs of :func:`infer` for every item (float32)."""

    logits: np.ndarray  # [N, K]: the model's num_classes (9 for MSP-Podcast)
    dims: np.ndarray  # [N, 3] in the model's dimensional scale; [N, 0] for a model without A/V/D
    dims_logvar: np.ndarray | None  # [N, 3] for a Gaussian dimensional head, else None


def infer(
    model: torch.nn.Module,
    dataset: data.Items,
    lengths: np.ndarray,
    max_batch_seconds: float,
    device: torch.device,
    dtype: torch.dtype | None = None,
    min_length: int = 1,
    plan: Sequence[np.ndarray] | None = None,
    progress: bool = True,
) -> Inferred:
    """Every output of the model for every item, full length.

    ``lengths`` are in samples; the batch limit is converted with the dataset's
    sample rate. ``plan`` (batches of item indices) replaces the duration-bounded
    batches. The model is put in eval mode. ``progress`` False hides the progress
    bar (a caller that runs many small sets shows its own).
    """
    n = len(dataset)
    k, n_dims = output_widths(model)
    logits = np.zeros((n, k), dtype=np.float32)
    dims = np.zeros((n, n_dims), dtype=np.float32)
    logvar: np.ndarray | None = None
    if n == 0:
        return Inferred(logits, dims, logvar)
    if plan is None:
        plan = batching.eval_batches(np.asarray(lengths) / dataset.sample_rate, max_batch_seconds)
    model.eval()
    with torch.inference_mode():
        batches = data.iterate_batches(dataset, plan, min_length)
        for batch in tqdm(
            batches,
            total=len(plan),
            desc="predict",
            unit="batch",
            mininterval=30,
            file=sys.stderr,
            disable=not progress,
        ):
            with autocast(device, dtype):
                out = model(batch.wave.to(device), batch.lengths.to(device))
            idx = batch.index.numpy()
            logits[idx] = out.logits.float().cpu().numpy()
            dims[idx] = out.dims.float().cpu().numpy()
            if getattr(out, "dims_logvar", None) is not None:
                if logvar is None:
                    logvar = np.zeros((n, n_dims), dtype=np.float32)
                logvar[idx] = out.dims_logvar.float().cpu().numpy()
    return Inferred(logits, dims, logvar)


def output_widths(model: torch.nn.Module) -> tuple[int, int]:
    """(classes, dimensions) of a model's outputs: its ``num_classes`` and ``dimensions``
    (MSP-Podcast's 9 and A/V/D for a model that does not say)."""
    k = int(getattr(model, "num_classes", K))
    return k, len(tuple(getattr(model, "dimensions", range(NUM_DIMS))))


def batch_plan(train: Mapping[str, Any], file_ids: Sequence[str]) -> list[np.ndarray] | None:
    """The batches ``train.eval_batching`` asks for: ``file_order`` batches of ``train.batch_size``, or None
    for the duration-bounded batches that :func:`infer` makes itself."""
    if train["eval_batching"] == "duration_bounded":
        return None
    return batching.file_order_batches(file_ids, int(train["batch_size"]))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row softmax computed in fp32 by torch (float32 result)."""
    return torch.softmax(torch.from_numpy(np.asarray(logits, dtype=np.float32)), dim=1).numpy()


def sample_rate_of(rows: pd.DataFrame, where: str) -> int:
    """The one sample rate of a set of manifest rows (16 kHz when there are none)."""
    rates = sorted({int(r) for r in rows["sample_rate"]})
    if len(rates) > 1:
        raise DataError(f"{where}: manifest mixes sample rates {rates}; expected one")
    return rates[0] if rates else 16000

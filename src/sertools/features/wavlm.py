"""Frozen SSL features (upstream ``wavlm``): every hidden layer, mean (and optionally std) pooled over valid frames.

The backbone is the one ``model.backbone`` names (``tiny``, a hub id or a local
directory of any family of :mod:`sertools.model.families`: WavLM, HuBERT,
wav2vec 2.0, data2vec-audio; the upstream keeps the name ``wavlm``, the
paper's), built by :func:`sertools.model.network.build_model` so that
waveform normalisation, the attention mask and the length-aware GroupNorm are
exactly those of fine-tuning, then frozen in eval mode. Each utterance is
processed whole (no crops) in duration-sorted batches of at most
``max_batch_seconds`` of padded audio (:func:`sertools.data.batching.eval_batches`);
on CUDA the forward pass runs under autocast (``amp``). Pooling uses the valid
frames only, so a row does not depend on what it was batched with.

Mean pooling is linear, so a softmax-weighted sum of the pooled layers (the
frozen head, :mod:`sertools.model.frozen`) equals mean pooling of the weighted
sum of hidden states: SUPERB's weighted-sum protocol at a fraction of the cost.
The ``tiny`` backbone is random: ``seed`` fixes it.

:func:`pooled_rows` is the part that runs the backbone; :func:`extract` feeds it
the manifest's files, and the ``infer`` command (:mod:`sertools.inference`)
feeds it decoded audio of any file, so both compute a row the same way.
"""

from __future__ import annotations

import copy
import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from sertools.data import batching, dataset
from sertools.data.errors import DataError
from sertools.device import amp_dtype
from sertools.model.inference import autocast
from sertools.model.lengths import length_mask
from sertools.model.network import SERModel, build_model, min_input_samples

log = logging.getLogger(__name__)


def frozen_backbone(model_cfg: Mapping[str, Any], seed: int) -> SERModel:
    """The fine-tuning model's backbone with its input handling, frozen, in eval mode."""
    if model_cfg["waveform_norm"] == "train_stats":
        raise ValueError(
            "config key 'model.waveform_norm': train_stats is not supported for frozen features "
            "(use utterance or none)"
        )
    cfg = copy.deepcopy(dict(model_cfg))
    cfg.update(
        mode="finetune",
        head="pooling",
        layer_aggregation="last",
        mask_time_prob=0.0,
        layerdrop=0.0,
        group_norm="valid_frames",
    )
    torch.manual_seed(int(seed))
    model = build_model(cfg)
    model.eval()
    model.requires_grad_(False)
    return model


def layer_names(model: SERModel) -> list[str]:
    n = model.backbone.config.num_hidden_layers
    return ["cnn_projection", *(f"transformer_{i}" for i in range(1, n + 1))]


def pool(states: Sequence[torch.Tensor], frames: torch.Tensor, std: bool) -> torch.Tensor:
    """[B, L, D] masked means (with ``std``: [B, L, 2D], means then population stds) in fp32."""
    mask = length_mask(frames, states[0].shape[1]).unsqueeze(-1).float()  # [B, T', 1]
    n = mask.sum(dim=1).clamp_min(1.0)  # [B, 1]
    out = []
    for h in states:
        h = h.float()
        mean = (h * mask).sum(dim=1) / n
        if std:
            var = (((h - mean.unsqueeze(1)) ** 2) * mask).sum(dim=1) / n
            out.append(torch.cat([mean, var.clamp_min(0.0).sqrt()], dim=-1))
        else:
            out.append(mean)
    return torch.stack(out, dim=1)


def extract(
    paths: Sequence[str],
    frames: Sequence[int] | np.ndarray,
    sample_rate: int,
    model_cfg: Mapping[str, Any],
    settings: Mapping[str, Any],
    device: torch.device,
) -> tuple[np.ndarray, list[str]]:
    """Features [N, L + 1, D (x 2 with std)] float32 of ``paths`` in order, and the layer names.

    ``settings``: the ``features.wavlm`` section (``std_pooling``, ``max_batch_seconds``,
    ``amp``, ``seed``).
    """
    model = frozen_backbone(model_cfg, int(settings["seed"])).to(device)
    names = layer_names(model)
    if not len(paths):
        return pooled_rows(model, None, np.zeros(0, dtype=np.int64), settings, device), names
    lengths = np.asarray(frames, dtype=np.int64)
    min_len = min_input_samples(model)
    if lengths.min() < min_len:
        raise DataError(
            f"an utterance of {int(lengths.min())} samples is shorter than the backbone's receptive field "
            f"({min_len} samples); raise manifest.min_duration_s"
        )
    audio = dataset.AudioDataset(list(paths), lengths.tolist(), sample_rate)
    return pooled_rows(model, audio, lengths, settings, device), names


def pooled_rows(
    model: SERModel,
    items: dataset.Items | None,
    lengths: np.ndarray,
    settings: Mapping[str, Any],
    device: torch.device,
    progress: bool = True,
) -> np.ndarray:
    """[N, L + 1, D (x 2 with std)] float32 rows of the items of ``items`` (``lengths`` in samples, each at
    least the receptive field), in duration-sorted batches of at most ``max_batch_seconds``
    (``progress`` False: no progress bar)."""
    width = model.backbone.config.hidden_size * (2 if settings["std_pooling"] else 1)
    out = np.zeros((len(lengths), len(layer_names(model)), width), dtype=np.float32)
    if items is None or not len(lengths):
        return out
    plan = batching.eval_batches(lengths / items.sample_rate, float(settings["max_batch_seconds"]))
    dtype = amp_dtype(settings["amp"], device)
    with torch.inference_mode():
        batches = dataset.iterate_batches(items, plan, min_input_samples(model))
        bar = tqdm(
            batches,
            total=len(plan),
            desc="wavlm features",
            mininterval=30,
            file=sys.stderr,
            disable=not progress,
        )
        for batch in bar:
            with autocast(device, dtype):
                states, valid = model.layer_states(batch.wave.to(device), batch.lengths.to(device))
            out[batch.index.numpy()] = pool(states, valid, bool(settings["std_pooling"])).cpu().numpy()
    return out

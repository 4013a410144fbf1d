"""Frozen WavLM features: one row per utterance, every layer, independent of batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from sertools import config
from sertools.features import wavlm
from sertools.model.lengths import length_mask

SR = 16000


def corpus(tmp_path: Path, n: int = 5) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(1)
    paths, frames = [], []
    for i in range(n):
        k = int(SR * (0.4 + 0.15 * i))
        p = tmp_path / f"u{i}.wav"
        sf.write(p, (0.2 * rng.standard_normal(k)).astype(np.float32), SR, subtype="FLOAT")
        paths.append(str(p))
        frames.append(k)
    return paths, frames


def settings(**kw: object) -> dict:
    return {**config.resolve({})["features"]["wavlm"], **kw}


def test_shape_layers_and_batching_invariance(tmp_path: Path) -> None:
    model_cfg = config.resolve({})["model"]
    paths, frames = corpus(tmp_path)
    cpu = torch.device("cpu")
    one_batch, names = wavlm.extract(paths, frames, SR, model_cfg, settings(max_batch_seconds=100.0), cpu)
    singles, _ = wavlm.extract(paths, frames, SR, model_cfg, settings(max_batch_seconds=0.1), cpu)
    layers = model_cfg["tiny"]["num_hidden_layers"] + 1
    assert one_batch.shape == (5, layers, model_cfg["tiny"]["hidden_size"]) and len(names) == layers
    assert names[0] == "cnn_projection" and names[-1] == f"transformer_{layers - 1}"
    # padded together or alone, each utterance gives the same row
    assert np.allclose(one_batch, singles, atol=1e-4)
    assert not np.allclose(one_batch[0], one_batch[1])
    again, _ = wavlm.extract(paths, frames, SR, model_cfg, settings(), cpu)
    assert np.array_equal(again, one_batch)  # the random tiny backbone is fixed by features.wavlm.seed


def test_std_pooling_appends_the_std(tmp_path: Path) -> None:
    model_cfg = config.resolve({})["model"]
    paths, frames = corpus(tmp_path, 2)
    mean, _ = wavlm.extract(paths, frames, SR, model_cfg, settings(), torch.device("cpu"))
    both, _ = wavlm.extract(paths, frames, SR, model_cfg, settings(std_pooling=True), torch.device("cpu"))
    d = mean.shape[2]
    assert both.shape[2] == 2 * d
    assert np.allclose(both[:, :, :d], mean, atol=1e-5) and (both[:, :, d:] > 0).all()


def test_pool_uses_valid_frames_only() -> None:
    h = torch.arange(12, dtype=torch.float32).view(1, 6, 2).repeat(2, 1, 1)
    frames = torch.tensor([6, 2])
    out = wavlm.pool([h], frames, std=True)
    assert torch.allclose(out[1, 0, :2], h[1, :2].mean(dim=0))
    mask = length_mask(frames, 6)
    assert mask[1].sum() == 2
    assert torch.allclose(out[0, 0, 2:], h[0].std(dim=0, unbiased=False))

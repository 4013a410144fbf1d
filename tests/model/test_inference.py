"""Inference over a dataset: bounded batches give the outputs of one utterance at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from tinymodel import build, noise

from sertools.data import dataset
from sertools.data.errors import DataError
from sertools.model import inference

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask:UserWarning")


class Waves(dataset.AudioDataset):
    """An in-memory dataset of given waveforms."""

    def __init__(self, waves: list[torch.Tensor], sample_rate: int = 16000) -> None:
        self.waves = [w.numpy().astype(np.float32) for w in waves]
        self.sample_rate = sample_rate

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray]:
        return i, self.waves[i]


def test_infer_batches_match_single_utterances() -> None:
    model = build(seed=1)
    waves = [noise(n, seed) for seed, n in enumerate((900, 2000, 1500, 3100, 700))]
    data = Waves(waves)
    lengths = np.array([len(w) for w in waves])
    logits, dims, logvar = inference.infer(model, data, lengths, 0.3, torch.device("cpu"))
    assert logvar is None  # the pooling head predicts no log-variance
    assert logits.shape == (5, 9) and dims.shape == (5, 3) and logits.dtype == np.float32
    assert not model.training
    with torch.inference_mode():
        for i, w in enumerate(waves):
            out = model(w[None])
            np.testing.assert_allclose(logits[i], out.logits[0].numpy(), atol=1e-5)
            np.testing.assert_allclose(dims[i], out.dims[0].numpy(), atol=1e-5)
    empty = inference.infer(model, Waves([]), np.zeros(0), 1.0, torch.device("cpu"))
    assert empty[0].shape == (0, 9) and empty[1].shape == (0, 3)


def test_softmax_and_sample_rate() -> None:
    probs = inference.softmax(np.array([[0.0, np.log(3.0)] + [-np.inf] * 7]))
    assert probs.dtype == np.float32 and np.allclose(probs[0, :2], [0.25, 0.75])
    rows = pd.DataFrame({"sample_rate": [16000, 16000]})
    assert inference.sample_rate_of(rows, "m") == 16000
    assert inference.sample_rate_of(rows.iloc[:0], "m") == 16000
    with pytest.raises(DataError, match="mixes sample rates"):
        inference.sample_rate_of(pd.DataFrame({"sample_rate": [16000, 8000]}), "m")

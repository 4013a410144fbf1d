"""A bundle's model on decoded audio: class probabilities, A/V/D ratings and their variance per file.

The probabilities are over the bundle's ``classes`` and the ratings over its
``dimensions`` (none for a class set without A/V/D, such as CREMA-D's).

:class:`Predictor` rebuilds the model (and a frozen upstream) of a
:class:`~sertools.inference.bundle.Bundle` and runs it the way the prediction
stage does (:func:`sertools.model.inference.infer`: eval mode, fp32 outputs,
softmax in fp32, ratings by the architecture's ``dim_scale``), so a file gives
the probabilities of the run's prediction dump.

What each model reads:

* fine-tuned: the waveform. A file longer than ``max_chunk_seconds`` (default
  :data:`DEFAULT_MAX_CHUNK_SECONDS`) is cut into the fewest equal consecutive
  chunks no longer than that (self-attention over a whole hour would not fit in
  memory, and the model was trained on utterances of seconds); each chunk is
  predicted alone and the file's probabilities and ratings are the means over
  its chunks weighted by their samples, its variance that of the mixture
  (mean of the chunks' variances plus the variance of their means);
* a head on frozen SSL features (upstream ``wavlm``): the frozen backbone's
  layer-wise pooled features of the file, from its chunks as above; the chunks'
  means (and standard deviations) are pooled into the file's by their frame
  counts, which for mean pooling is the mean over every frame of the file;
* a head on eGeMAPS: openSMILE's 88 functionals over the whole file (they are
  statistics of the whole signal; no chunking).

Batching (``batching``): ``run`` (default) batches as the run's prediction
stage did (``train.eval_batching`` with its ``batch_size`` or
``max_eval_batch_seconds``, recorded in the bundle), with the files ordered by
name as the dumps order utterances by file id, so the Test1 files give the
Test1 dump's numbers even for ``model.group_norm: padded``, whose outputs depend
on the batch-mates; ``single`` runs every chunk alone, so no output depends on
the other inputs.

Variances (a Gaussian head): ``exp(logvar)``, the log-variance clamped to
[-10, 10] as the training loss clamps it
(:data:`sertools.model.release_losses.LOGVAR_CLAMP`), times the square of the
rating scale's slope (:func:`sertools.data.dim_scale.rating_slope`): a variance
in 1-7 rating units, of the rating before it is clipped to [1, 7].
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
import torch

from sertools.data import batching
from sertools.data.dim_scale import rating_slope
from sertools.data.errors import DataError
from sertools.device import amp_dtype, resolve_device
from sertools.evaluation.predict import dims_to_ratings
from sertools.features.dataset import FeatureDataset
from sertools.inference.bundle import Bundle
from sertools.inference.inputs import AudioProblem
from sertools.model import factory
from sertools.model.frozen import KIND as FROZEN_KIND
from sertools.model.inference import Inferred, infer, softmax
from sertools.model.network import SERModel, frames_for_samples, min_input_samples
from sertools.model.release_losses import LOGVAR_CLAMP

if TYPE_CHECKING:
    from sertools.inference.infer import Result

DEFAULT_MAX_CHUNK_SECONDS = 30.0
BATCHINGS = ("run", "single")


@dataclass(frozen=True, eq=False)
class Prepared:
    """One file ready for the model: its chunks (waveform models) or its feature row (eGeMAPS)."""

    key: str  # the sort key of the run's file-order batches (the file name)
    samples: int  # at the model's sample rate
    chunks: tuple[np.ndarray, ...] = ()
    row: np.ndarray | None = None  # [1, 88] eGeMAPS functionals


def _feature_row(item: Prepared) -> np.ndarray:
    """The eGeMAPS row of a file prepared for a frozen-upstream head."""
    if item.row is None:
        raise ValueError(f"{item.key}: prepared without its eGeMAPS row")
    return item.row


class Outputs(NamedTuple):
    """Per file: ``probs`` [N, K], ``ratings`` [N, D] (1-7), ``variance`` [N, D] or None, ``chunks`` [N]
    (K classes and D dimensions: the bundle's)."""

    probs: np.ndarray
    ratings: np.ndarray
    variance: np.ndarray | None
    chunks: np.ndarray


class ArrayItems(torch.utils.data.Dataset):
    """Decoded waveforms as items of :func:`sertools.data.dataset.iterate_batches` (``(i, samples)``)."""

    in_memory = True

    def __init__(self, waves: Sequence[np.ndarray], sample_rate: int) -> None:
        self.waves, self.sample_rate = list(waves), int(sample_rate)

    def __len__(self) -> int:
        return len(self.waves)

    def full(self, i: int) -> np.ndarray:
        return self.waves[i]

    def __getitem__(self, i: int) -> tuple[int, np.ndarray]:
        return i, self.waves[i]


def chunk_bounds(n: int, max_len: int) -> list[tuple[int, int]]:
    """(start, end) of the fewest equal consecutive chunks of ``n`` samples none longer than ``max_len``."""
    parts = max(1, math.ceil(n / max_len))
    edges = [round(i * n / parts) for i in range(parts + 1)]
    return list(itertools.pairwise(edges))


def pool_chunks(rows: np.ndarray, frames: np.ndarray, std: bool) -> np.ndarray:
    """One file's [L, D] (x 2 with std) row from its chunks' rows [C, L, D] and frame counts [C]:
    means weighted by frames; stds from the pooled second moments. One chunk's row is kept as it is."""
    if len(rows) == 1:
        return np.asarray(rows[0], dtype=np.float32)
    w = (frames / frames.sum()).astype(np.float64)[:, None, None]
    if not std:
        return (w * rows).sum(axis=0).astype(np.float32)
    d = rows.shape[2] // 2
    mean_c, std_c = rows[:, :, :d].astype(np.float64), rows[:, :, d:].astype(np.float64)
    mean = (w * mean_c).sum(axis=0)
    var = (w * (std_c**2 + mean_c**2)).sum(axis=0) - mean**2
    return np.concatenate([mean, np.sqrt(np.maximum(var, 0.0))], axis=1).astype(np.float32)


class Predictor:
    """The model of a bundle, ready for decoded audio (see the module docstring)."""

    def __init__(
        self,
        bundle: Bundle,
        device: str | torch.device = "cpu",
        max_chunk_seconds: float = DEFAULT_MAX_CHUNK_SECONDS,
        batching: str = "run",
    ) -> None:
        if batching not in BATCHINGS:
            raise ValueError(f"batching must be one of {list(BATCHINGS)}, got {batching!r}")
        if not max_chunk_seconds >= 1.0:
            raise ValueError(f"max_chunk_seconds must be at least 1 s, got {max_chunk_seconds}")
        self.bundle, self.batching = bundle, batching
        self.device = resolve_device(device, key="--device") if isinstance(device, str) else device
        self.sample_rate = bundle.sample_rate
        self.max_chunk = round(max_chunk_seconds * self.sample_rate)
        prep = bundle.meta["preprocessing"]
        self.model = factory.restore(bundle.meta["architecture"], bundle.weights, prep.get("waveform_stats"))
        # as the prediction stage has it: parameters that do not require gradients take other CPU kernels
        # (measured: up to 3e-8 apart in probability), and infer runs under inference_mode anyway
        self.model.to(self.device).eval()
        upstream = bundle.upstream or {}
        self.upstream_name: str | None = upstream.get("name")
        self.upstream: SERModel | None = None
        if upstream.get("architecture"):
            restored = factory.restore(upstream["architecture"], bundle.upstream_weights or {})
            assert isinstance(restored, SERModel)
            self.upstream = restored.to(self.device).eval().requires_grad_(False)  # as the features stage
        wave_model = self.upstream if self.upstream is not None else self.model
        self.min_samples = min_input_samples(wave_model) if isinstance(wave_model, SERModel) else 1

    @property
    def classes(self) -> list[str]:
        """The model's class names, in the order of its probabilities."""
        return list(self.bundle.meta["classes"])

    @property
    def dimensions(self) -> list[str]:
        """The model's dimensional outputs (A/V/D), in order; none for a class set without them."""
        return list(self.bundle.meta["dimensions"])

    @property
    def has_variance(self) -> bool:
        """Whether the dimensional head predicts a variance (the Gaussian head: TC-GRU or frozen heads)."""
        arch = self.bundle.meta["architecture"]
        return bool(self.dimensions) and (arch.get("head") == "tc_gru" or arch.get("kind") == FROZEN_KIND)

    def predict_files(self, sources: Sequence[str | Path], progress: bool = False) -> Result:
        """The ``infer`` command's rows of files, folders or list files (``.table``; ``.dropped``: what had
        no row, with the reason; :func:`sertools.inference.infer.predict_sources`)."""
        from sertools.inference.infer import predict_sources

        return predict_sources(self, sources, progress)

    def predict_waves(self, waves: Sequence[np.ndarray], sample_rate: int) -> pd.DataFrame:
        """Rows of mono waveforms at ``sample_rate`` (:func:`sertools.inference.infer.predict_arrays`)."""
        from sertools.inference.infer import predict_arrays

        return predict_arrays(self, waves, sample_rate)

    # ------------------------------------------------------------------ one file

    def prepare(self, wave: np.ndarray, key: str, where: str) -> Prepared:
        """A decoded file ready for :meth:`run`, or :class:`AudioProblem` (``too_short``) naming ``where``."""
        n = len(wave)
        if self.upstream_name == "egemaps":
            from sertools.features import egemaps

            try:
                row = egemaps.functionals(np.array(wave, dtype=np.float32), self.sample_rate, where)
            except DataError as e:
                raise AudioProblem("too_short", str(e)) from None
            return Prepared(key, n, row=row[None, :])
        if n < self.min_samples:
            raise AudioProblem(
                "too_short",
                f"{n} samples at {self.sample_rate} Hz; the model's receptive field is {self.min_samples}",
            )
        chunks = tuple(wave[a:b] for a, b in chunk_bounds(n, self.max_chunk))
        return Prepared(key, n, chunks=chunks)

    # ------------------------------------------------------------------ many files

    def _plan(self, keys: Sequence[str]) -> list[np.ndarray] | None:
        """Batches of item indices: the run's (None: its duration-bounded ones) or one item each."""
        if self.batching == "single":
            return [np.array([i]) for i in range(len(keys))]
        settings = self.bundle.meta["batching"]
        if settings["eval_batching"] == "file_order":
            return batching.file_order_batches(keys, int(settings["batch_size"]))
        return None

    def _infer(self, model: torch.nn.Module, items: ArrayItems | FeatureDataset, keys: list[str]) -> Inferred:
        settings = self.bundle.meta["batching"]
        lengths = (
            items.lengths if isinstance(items, FeatureDataset) else np.array([len(w) for w in items.waves])
        )
        return infer(
            model,
            items,
            lengths,
            float(settings["max_eval_batch_seconds"]),
            self.device,
            amp_dtype(settings["amp"], self.device),
            factory.min_input_length(model),
            plan=self._plan(keys),
            progress=False,
        )

    def _outputs(self, out: Inferred) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(probabilities, ratings, rating variances or None) of every item of ``out``."""
        arch = self.bundle.meta["architecture"]
        variance = None
        if out.dims_logvar is not None:
            logvar = np.clip(out.dims_logvar.astype(np.float64), -LOGVAR_CLAMP, LOGVAR_CLAMP)
            variance = np.exp(logvar) * rating_slope(self.bundle.meta["dim_scale"]) ** 2
        return softmax(out.logits), dims_to_ratings(out.dims, arch), variance

    def _chunk_keys(self, items: Sequence[Prepared]) -> tuple[list[np.ndarray], list[str], np.ndarray]:
        """Every chunk of ``items`` in order, their sort keys and the file each belongs to."""
        waves = [c for it in items for c in it.chunks]
        keys = [
            f"{it.key}\0{j:06d}" if len(it.chunks) > 1 else it.key
            for it in items
            for j in range(len(it.chunks))
        ]
        owner = np.repeat(np.arange(len(items)), [len(it.chunks) for it in items])
        return waves, keys, owner

    def run(self, items: Sequence[Prepared]) -> Outputs:
        """The outputs of every prepared file, in order."""
        n = len(items)
        if n == 0:
            return Outputs(
                np.zeros((0, len(self.classes)), np.float32),
                np.zeros((0, len(self.dimensions)), np.float32),
                None,
                np.zeros(0, int),
            )
        if self.upstream_name is not None:
            rows = self._feature_rows(items)
            probs, ratings, variance = self._outputs(
                self._infer(self.model, FeatureDataset(rows), [it.key for it in items])
            )
            return Outputs(probs, ratings, _f32(variance), np.ones(n, dtype=np.int64))
        waves, keys, owner = self._chunk_keys(items)
        probs, ratings, variance = self._outputs(
            self._infer(self.model, ArrayItems(waves, self.sample_rate), keys)
        )
        weights = np.array([len(w) for w in waves], dtype=np.float64)
        return combine(probs, ratings, variance, owner, weights, n)

    def _feature_rows(self, items: Sequence[Prepared]) -> np.ndarray:
        """[N, L, D] input rows of a frozen-upstream head."""
        if self.upstream_name == "egemaps":
            return np.stack([_feature_row(it) for it in items])
        assert self.upstream is not None
        from sertools.features import wavlm

        settings = dict(self.bundle.upstream["settings"])  # type: ignore[index]
        if self.batching == "single":
            settings["max_batch_seconds"] = 1e-9  # every chunk a batch of its own
        waves, _, owner = self._chunk_keys(items)
        lengths = np.array([len(w) for w in waves], dtype=np.int64)
        rows = wavlm.pooled_rows(
            self.upstream, ArrayItems(waves, self.sample_rate), lengths, settings, self.device, progress=False
        )
        frames = np.asarray(frames_for_samples(self.upstream, torch.from_numpy(lengths)))
        std = bool(settings["std_pooling"])
        return np.stack([pool_chunks(rows[owner == i], frames[owner == i], std) for i in range(len(items))])


def combine(
    probs: np.ndarray,
    ratings: np.ndarray,
    variance: np.ndarray | None,
    owner: np.ndarray,
    weights: np.ndarray,
    n: int,
) -> Outputs:
    """Per-file outputs from per-chunk ones (``owner``: each chunk's file), weighted by ``weights``;
    a file of one chunk keeps its chunk's values exactly."""
    out_p = np.zeros((n, probs.shape[1]), dtype=np.float64)
    out_r = np.zeros((n, ratings.shape[1]), dtype=np.float64)
    second = np.zeros_like(out_r)
    total = np.bincount(owner, weights=weights, minlength=n)
    w = (weights / total[owner])[:, None]
    np.add.at(out_p, owner, w * probs)
    np.add.at(out_r, owner, w * ratings)
    out_v = None
    if variance is not None:
        np.add.at(second, owner, w * (variance + ratings.astype(np.float64) ** 2))
        out_v = np.maximum(second - out_r**2, 0.0)
        single = np.bincount(owner, minlength=n) == 1
        out_v[single] = variance[np.flatnonzero(np.isin(owner, np.flatnonzero(single)))]
    counts = np.bincount(owner, minlength=n)
    return Outputs(out_p.astype(np.float32), out_r.astype(np.float32), _f32(out_v), counts.astype(np.int64))


def _f32(x: np.ndarray | None) -> np.ndarray | None:
    return None if x is None else np.asarray(x, dtype=np.float32)

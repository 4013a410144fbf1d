"""The audio side of training: an audio dataset, crops, padded batches.

:class:`AudioDataset` reads float32 mono audio with soundfile
(:func:`sertools.data.audio.read_audio`), in memory when the split is small,
lazily otherwise. Training crops are random but a pure function of (seed,
epoch, item), so a resumed run sees the same crops. Which rows and what they
train on: :mod:`sertools.data.join` and :mod:`sertools.data.targets`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd
import torch

from sertools.data.audio import read_audio
from sertools.data.errors import DataError

log = logging.getLogger(__name__)

IN_MEMORY_LIMIT_BYTES = 1 << 30


class Items(Protocol):
    """What batching and inference read: item ``i`` -> ``(i, float32 vector)`` and the sample rate of
    the batch plans. :class:`AudioDataset`, and the feature rows and decoded waveforms that share
    its interface."""

    sample_rate: int

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> tuple[int, np.ndarray]: ...


def crop_start(seed: int, epoch: int, item: int, length: int, crop: int) -> int:
    """Start of the random training crop of item ``item`` at ``epoch`` (pure function)."""
    if length <= crop:
        return 0
    return int(np.random.default_rng([seed, epoch, item]).integers(0, length - crop + 1))


class AudioDataset(torch.utils.data.Dataset):
    """Audio of a list of files; item ``i`` -> ``(i, float32 samples)``.

    ``crop_samples`` (training): utterances longer than this are cropped at a
    random start drawn from (seed, epoch, i); set the epoch with :meth:`set_epoch`.
    ``in_memory`` None: keep everything in memory when it fits in
    ``memory_limit_bytes`` (float32), else read each item from disk.
    """

    def __init__(
        self,
        paths: Sequence[str],
        frames: Sequence[int],
        sample_rate: int,
        crop_samples: int | None = None,
        seed: int = 0,
        in_memory: bool | None = None,
        memory_limit_bytes: int = IN_MEMORY_LIMIT_BYTES,
    ) -> None:
        self.paths = [str(p) for p in paths]
        self.frames = np.asarray(frames, dtype=np.int64)
        if len(self.frames) != len(self.paths):
            raise ValueError("paths and frames differ in length")
        self.sample_rate = int(sample_rate)
        self.crop_samples = crop_samples
        self.seed = int(seed)
        self.epoch = 0
        if in_memory is None:
            in_memory = int(self.frames.sum()) * 4 <= memory_limit_bytes
        self.in_memory = bool(in_memory)
        self._cache: list[np.ndarray] | None = None
        if self.in_memory:
            self._cache = [read_audio(p, self.sample_rate) for p in self.paths]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.paths)

    def full(self, i: int) -> np.ndarray:
        """The whole utterance ``i``."""
        return self._cache[i] if self._cache is not None else read_audio(self.paths[i], self.sample_rate)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray]:
        wav = self.full(i)
        if self.crop_samples is not None and len(wav) > self.crop_samples:
            s = crop_start(self.seed, self.epoch, i, len(wav), self.crop_samples)
            wav = wav[s : s + self.crop_samples]
        return i, wav


class Batch(NamedTuple):
    """A zero-padded batch: ``wave`` [B, T] float32, ``lengths`` [B] int64, ``index`` [B] int64."""

    wave: torch.Tensor
    lengths: torch.Tensor
    index: torch.Tensor  # type: ignore[assignment]  # shadows tuple.index; the name is Batch's API


def check_min_frames(rows: pd.DataFrame, min_frames: int, sample_rate: int, what: str) -> None:
    """Refuse utterances shorter than the backbone's receptive field, naming them.

    The model cannot produce a single frame from them; padding would make the
    output depend on the padding, so they must be dropped at the manifest stage.
    """
    short = rows[rows["frames"].to_numpy() < min_frames]
    if len(short):
        names = ", ".join(
            f"{f} ({n} samples)" for f, n in zip(short["file_id"][:10], short["frames"][:10], strict=True)
        )
        more = f" and {len(short) - 10} more" if len(short) > 10 else ""
        raise DataError(
            f"{what}: {len(short)} utterance(s) shorter than the backbone's receptive field of {min_frames} "
            f"samples ({min_frames / sample_rate * 1000:.1f} ms): {names}{more}. Set manifest.min_duration_s "
            f"above {min_frames / sample_rate:.4f} s so that the manifest stage drops them (counted)"
        )


def collate(items: Sequence[tuple[int, np.ndarray]], min_length: int = 1) -> Batch:
    """Zero-pad to the longest item (at least ``min_length`` samples)."""
    lengths = np.array([len(w) for _, w in items], dtype=np.int64)
    width = max(int(lengths.max(initial=0)), int(min_length))
    wave = np.zeros((len(items), width), dtype=np.float32)
    for row, (_, w) in enumerate(items):
        wave[row, : len(w)] = w
    index = np.array([i for i, _ in items], dtype=np.int64)
    return Batch(torch.from_numpy(wave), torch.from_numpy(lengths), torch.from_numpy(index))


def collate_rows(rows: np.ndarray, index: np.ndarray, min_length: int = 1) -> Batch:
    """:func:`collate` of the items ``(i, rows[i])`` for ``i`` in ``index``, from a [N, W] array."""
    width = rows.shape[1]
    if width >= min_length:
        wave = np.ascontiguousarray(rows[index], dtype=np.float32)
    else:
        wave = np.zeros((len(index), int(min_length)), dtype=np.float32)
        wave[:, :width] = rows[index]
    lengths = np.full(len(index), width, dtype=np.int64)
    return Batch(torch.from_numpy(wave), torch.from_numpy(lengths), torch.from_numpy(index.copy()))


def iterate_batches(
    dataset: Items, batches: Sequence[np.ndarray], min_length: int = 1, num_workers: int = 0
) -> Iterator[Batch]:
    """Yield :class:`Batch` objects in the order of ``batches`` (dataset indices).

    A dataset of equal-length rows held in one array (``rows``, as
    :class:`sertools.features.dataset.FeatureDataset` has) is batched by one
    fancy index per batch: the same batches as :func:`collate` builds item by
    item, without a Python loop over the items.
    """
    rows = getattr(dataset, "rows", None)
    if rows is not None:
        for b in batches:
            yield collate_rows(rows, np.asarray(b, dtype=np.int64), min_length)
        return
    if num_workers <= 0:
        for b in batches:
            yield collate([dataset[int(i)] for i in b], min_length)
        return
    if not isinstance(dataset, torch.utils.data.Dataset):
        raise TypeError(f"reader processes need a torch Dataset, got {type(dataset).__name__}")
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=[[int(i) for i in b] for b in batches],
        num_workers=num_workers,
        collate_fn=functools.partial(collate, min_length=min_length),
    )
    yield from loader


def waveform_stats(dataset: AudioDataset) -> tuple[float, float]:
    """Mean and standard deviation over every sample of every (uncropped) item (float64 sums)."""
    n = 0
    s = s2 = 0.0
    for i in range(len(dataset)):
        w = dataset.full(i).astype(np.float64)
        n += len(w)
        s += float(w.sum())
        s2 += float(np.dot(w, w))
    if n == 0:
        raise DataError("cannot compute waveform statistics: no Train audio")
    mean = s / n
    return mean, float(np.sqrt(max(s2 / n - mean * mean, 0.0)))

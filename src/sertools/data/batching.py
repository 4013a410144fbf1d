"""Batch construction: length bucketing for training, bounded batches for inference.

Padding a batch to its longest utterance wastes compute on zeros. Training
batches are therefore drawn from *pools* of similar-length utterances
(the "bucket iterator" trick): shuffle, cut into pools of
``batch_size * bucket_size_multiplier`` items, sort each pool by duration, cut
it into batches, and shuffle the order of all batches. Randomness comes only
from ``seed``, so a batch plan is a pure function of (durations, sizes, seed).
With ``bucket_size_multiplier = 1`` this is plain random batching.

The paper release batches differently, and ``train.batching: shuffled`` /
``train.eval_batching: file_order`` select its plans (:func:`shuffled_batches`,
:func:`file_order_batches`): with its padding-dependent first GroupNorm
(``model.group_norm: padded``) which utterances share a batch changes the outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _durations(durations: Sequence[float] | np.ndarray) -> np.ndarray:
    d = np.asarray(durations, dtype=np.float64)
    if d.ndim != 1:
        raise ValueError(f"durations must be 1-D, got shape {d.shape}")
    if len(d) and not (np.isfinite(d).all() and (d >= 0).all()):
        bad = np.flatnonzero(~(np.isfinite(d) & (d >= 0)))[:5].tolist()
        raise ValueError(f"durations must be finite and >= 0 (bad indices {bad})")
    return d


def bucket_batches(
    durations: Sequence[float] | np.ndarray,
    batch_size: int,
    bucket_size_multiplier: int = 20,
    seed: int = 0,
) -> list[np.ndarray]:
    """Length-bucketed batches of indices into ``durations``; every index exactly once.

    The last batch of each pool may be smaller than ``batch_size``.
    """
    if batch_size < 1 or bucket_size_multiplier < 1:
        raise ValueError(
            f"batch_size and bucket_size_multiplier must be >= 1, got {batch_size}, {bucket_size_multiplier}"
        )
    d = _durations(durations)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(d))
    pool = batch_size * bucket_size_multiplier
    batches: list[np.ndarray] = []
    for start in range(0, len(d), pool):
        members = perm[start : start + pool]
        members = members[np.argsort(d[members], kind="stable")]
        batches.extend(members[i : i + batch_size] for i in range(0, len(members), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def shuffled_batches(n: int, batch_size: int, seed: int = 0) -> list[np.ndarray]:
    """A seeded random permutation of ``range(n)`` cut into batches of ``batch_size``; the incomplete
    last batch is dropped (a shuffled loader with drop_last), unless it is the only one."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    perm = np.random.default_rng(seed).permutation(n)
    full = (n // batch_size) * batch_size or n
    return [perm[i : i + batch_size] for i in range(0, full, batch_size)]


def file_order_batches(file_ids: Sequence[str], batch_size: int) -> list[np.ndarray]:
    """Batches of ``batch_size`` indices in file-id order (the last may be smaller); every index once."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.argsort(np.asarray(list(file_ids), dtype=object), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def eval_batches(durations: Sequence[float] | np.ndarray, max_batch_seconds: float) -> list[np.ndarray]:
    """Batches of indices sorted by duration whose padded audio is at most ``max_batch_seconds``.

    Padded audio of a batch = its size x its longest duration. An utterance
    longer than the limit on its own gets a batch of one. Every index appears
    exactly once; the plan is deterministic (ties keep index order).
    """
    if not max_batch_seconds > 0:
        raise ValueError(f"max_batch_seconds must be > 0, got {max_batch_seconds!r}")
    d = _durations(durations)
    order = np.argsort(d, kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    for pos in range(1, len(order) + 1):
        # ascending order: the newest member is the longest of the candidate batch
        if pos == len(order) or (pos + 1 - start) * d[order[pos]] > max_batch_seconds:
            batches.append(order[start:pos])
            start = pos
    return batches


def padded_fraction(durations: Sequence[float] | np.ndarray, batches: Sequence[np.ndarray]) -> float:
    """Padding / total size of the padded batch tensors (0 = no padding)."""
    d = _durations(durations)
    total = padding = 0.0
    for b in batches:
        if len(b) == 0:
            continue
        lengths = d[np.asarray(b)]
        size = len(lengths) * lengths.max()
        total += size
        padding += size - lengths.sum()
    return float(padding / total) if total > 0 else 0.0

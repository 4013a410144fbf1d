"""The epoch pool: which Train utterances each epoch may draw (a variant's ``curriculum`` section).

A pacing curriculum over a difficulty score (annotation entropy by default): the
pool starts with the easiest (or hardest) utterances and grows until it is the
whole training set. Its granularity is the epoch (the pacing functions of Wu et
al. 2021, "When do curricula work?", with steps replaced by epochs):

* ``t`` is the 0-based epoch index, ``T = max_epochs``, ``a = full_at``,
  ``b = start_fraction``, ``N`` = training-set size;
* ``linear``: g(t) = bN + (N - bN) * t / (aT)
* ``root``:   g(t) = bN + (N - bN) * sqrt(t / (aT))
* ``step``:   g(t) = bN + N * floor(t / (aT))

The pool size is ``floor(g(t))`` clipped to [1, N]. For all three functions
``g(t) >= N`` exactly when ``t >= aT``, so the pool is the whole training set
from epoch index ``ceil(aT)`` on (the epoch *number* ``ceil(aT) + 1`` when
counting from 1), and from epoch 0 when ``b = 1``. Before that the size is
capped at ``N - 1`` so that "full" always means ``t >= ceil(aT)``, never an
accident of rounding. Example: T = 18, a = 0.4, b = 0.33 (root) is full from
epoch index 8. If ``ceil(aT) >= T`` the pool never becomes full.

The pool at epoch t is the first g(t) items of a fixed ordering:

* difficulty ascending (``easy_to_hard``) or descending (``hard_to_easy``),
  ties broken by a seeded random permutation;
* then classes are interleaved so that every prefix keeps the class mix:
  ``balance="proportional"`` (default) gives each prefix of length m
  ``m * n_c / N`` items of class c to within one (Tijdeman's sequence, see
  :func:`proportional_sequence`), taking each class's items in its own
  difficulty order, so the pool changes difficulty, not the class prior;
  ``balance="equal"`` deals classes round-robin (equal counts until a class runs
  out, the class balancing of Wu et al.); ``balance="none"`` keeps the plain
  difficulty order.

With ``order="none"`` the pool is the whole training set and is full from epoch 0.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

PACINGS = ("linear", "root", "step")
ORDERS = ("none", "easy_to_hard", "hard_to_easy")
BALANCES = ("proportional", "equal", "none")
_EPS = 1e-9  # guards a*T against float noise (0.1 * 30 = 3.0000000000000004)


def full_epoch(max_epochs: int, full_at: float, start_fraction: float = 0.0) -> int:
    """0-based index of the first epoch whose pool is the whole training set."""
    if start_fraction >= 1.0:
        return 0
    return max(0, math.ceil(full_at * max_epochs - _EPS))


def pacing_value(
    pacing: str, t: int, max_epochs: int, full_at: float, start_fraction: float, n: int
) -> float:
    """The unclipped pacing function g(t) (number of items) at 0-based epoch t."""
    if pacing not in PACINGS:
        raise ValueError(f"unknown pacing {pacing!r} (allowed: {', '.join(PACINGS)})")
    if not 0 < full_at <= 1 or not 0 < start_fraction <= 1:
        raise ValueError(
            f"curriculum: need 0 < full_at <= 1 and 0 < start_fraction <= 1, got {full_at}, {start_fraction}"
        )
    if max_epochs < 1 or t < 0:
        raise ValueError(f"curriculum: need max_epochs >= 1 and t >= 0, got {max_epochs}, {t}")
    x = t / (full_at * max_epochs)
    bn = start_fraction * n
    if pacing == "linear":
        return bn + (n - bn) * x
    if pacing == "root":
        return bn + (n - bn) * math.sqrt(x)
    return bn + n * math.floor(x + _EPS)


def pool_size(pacing: str, t: int, max_epochs: int, full_at: float, start_fraction: float, n: int) -> int:
    """Number of training items available at 0-based epoch t (see module docstring)."""
    if n <= 0:
        return 0
    g = pacing_value(pacing, t, max_epochs, full_at, start_fraction, n)
    if t >= full_epoch(max_epochs, full_at, start_fraction):
        return n
    return int(min(max(1, math.floor(g + _EPS)), max(1, n - 1)))


def difficulty_order(difficulty: np.ndarray, order: str, seed: int) -> np.ndarray:
    """Indices sorted by difficulty (easy first, or hard first), ties in seeded random order."""
    if order not in ORDERS:
        raise ValueError(f"unknown curriculum order {order!r} (allowed: {', '.join(ORDERS)})")
    d = np.asarray(difficulty, dtype=np.float64)
    if d.ndim != 1:
        raise ValueError(f"difficulty must be 1-D, got shape {d.shape}")
    if not np.isfinite(d).all():
        bad = np.flatnonzero(~np.isfinite(d))[:5].tolist()
        raise ValueError(f"difficulty has non-finite values (first indices {bad})")
    tiebreak = np.random.default_rng(seed).permutation(len(d))
    key = -d if order == "hard_to_easy" else d
    return np.lexsort((tiebreak, key))


def proportional_sequence(counts: np.ndarray) -> np.ndarray:
    """Class sequence holding ``counts[c]`` copies of c whose every prefix is near-proportional.

    Tijdeman's "chairman assignment" algorithm (earliest deadline first with
    release times): with k classes present and shares r_c = n_c / N, every
    prefix of length m holds m r_c items of class c within 1 - 1/(2(k - 1)) < 1.
    """
    counts = np.asarray(counts, dtype=np.int64)
    present = np.flatnonzero(counts > 0)
    n = int(counts.sum())
    if len(present) <= 1:
        return np.repeat(present, counts[present])
    sigma = 1.0 - 1.0 / (2 * (len(present) - 1))
    share = {int(c): counts[c] / n for c in present}
    taken = dict.fromkeys(share, 0)
    pending = [((1.0 - sigma) / share[c], c) for c in share]  # (release time of next item, class)
    heapq.heapify(pending)
    ready: list[tuple[float, int]] = []  # (deadline of next item, class)
    out = np.empty(n, dtype=np.int64)
    for t in range(1, n + 1):
        while pending and pending[0][0] <= t + _EPS:
            _, c = heapq.heappop(pending)
            heapq.heappush(ready, ((taken[c] + sigma) / share[c], c))
        _, c = heapq.heappop(ready)  # the theorem guarantees a released class
        out[t - 1] = c
        taken[c] += 1
        if taken[c] < counts[c]:
            heapq.heappush(pending, ((taken[c] + 1 - sigma) / share[c], c))
    return out


def balance(ordered: np.ndarray, classes: np.ndarray, mode: str = "proportional") -> np.ndarray:
    """Interleave classes in ``ordered`` (item indices) so prefixes keep the class mix.

    ``classes[i]`` is the class (a non-negative int) of item ``i``. Within each
    class the items keep their order in ``ordered``.
    """
    if mode not in BALANCES:
        raise ValueError(f"unknown balance mode {mode!r} (allowed: {', '.join(BALANCES)})")
    ordered = np.asarray(ordered, dtype=np.int64)
    if mode == "none" or len(ordered) == 0:
        return ordered
    cls = np.asarray(classes, dtype=np.int64)[ordered]
    if cls.min() < 0:
        raise ValueError("classes must be non-negative integers")
    # items of each class, in difficulty order, and each item's rank inside its class
    by_class = np.lexsort((np.arange(len(ordered)), cls))
    counts = np.bincount(cls)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    if mode == "equal":
        rank = np.empty(len(ordered), dtype=np.int64)
        rank[by_class] = np.arange(len(ordered)) - np.repeat(starts, counts)
        # round-robin; equal ranks in difficulty order
        return ordered[np.lexsort((np.arange(len(ordered)), rank))]
    seq = proportional_sequence(counts)
    # the j-th occurrence of class c in seq takes class c's j-th item
    occurrence = np.empty(len(seq), dtype=np.int64)
    seq_by_class = np.argsort(seq, kind="stable")
    occurrence[seq_by_class] = np.arange(len(seq)) - np.repeat(starts, counts)
    return ordered[by_class[starts[seq] + occurrence]]


def pool_order(
    difficulty: np.ndarray,
    classes: np.ndarray,
    order: str,
    seed: int,
    balance_mode: str = "proportional",
) -> np.ndarray:
    """The full ordering whose prefixes are the epoch pools."""
    return balance(difficulty_order(difficulty, order, seed), classes, balance_mode)


def epoch_pool(
    difficulty: np.ndarray,
    classes: np.ndarray,
    epoch: int,
    max_epochs: int,
    order: str = "none",
    pacing: str = "root",
    start_fraction: float = 0.33,
    full_at: float = 0.4,
    seed: int = 0,
    balance_mode: str = "proportional",
) -> tuple[np.ndarray, bool]:
    """Training items available at 0-based ``epoch`` and whether that is the whole set.

    Returns item indices (a prefix of :func:`pool_order`) and ``is_full``.
    With ``order="none"`` every item is available from epoch 0.
    """
    n = len(difficulty)
    if len(classes) != n:
        raise ValueError(f"difficulty ({n}) and classes ({len(classes)}) differ in length")
    if order == "none":
        return np.arange(n, dtype=np.int64), True
    ordering = pool_order(difficulty, classes, order, seed, balance_mode)
    size = pool_size(pacing, epoch, max_epochs, full_at, start_fraction, n)
    return ordering[:size], size == n


def from_config(
    curriculum_cfg: Mapping[str, Any],
    difficulty: np.ndarray,
    classes: np.ndarray,
    epoch: int,
    max_epochs: int,
    seed: int,
) -> tuple[np.ndarray, bool]:
    """:func:`epoch_pool` with the keys of a variant's ``curriculum`` config block."""
    return epoch_pool(
        difficulty,
        classes,
        epoch,
        max_epochs,
        order=curriculum_cfg["order"],
        pacing=curriculum_cfg["pacing"],
        start_fraction=float(curriculum_cfg["start_fraction"]),
        full_at=float(curriculum_cfg["full_at"]),
        seed=seed,
    )

"""The epoch pool: pacing values, ordering, anti-curriculum, class balance of prefixes."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sertools.data import epoch_pool


@pytest.mark.parametrize(
    ("pacing", "t", "expected"),
    [
        # N = 100, T = 10, a = 0.5 (full from epoch index 5), b = 0.2
        ("linear", 0, 20),
        ("linear", 1, 36),  # 20 + 80 * 1/5
        ("linear", 4, 84),
        ("linear", 5, 100),
        ("root", 1, 55),  # floor(20 + 80 * sqrt(0.2)) = floor(55.78)
        ("root", 4, 91),  # floor(20 + 80 * sqrt(0.8)) = floor(91.55)
        ("root", 9, 100),
        ("step", 0, 20),
        ("step", 4, 20),
        ("step", 5, 100),  # 20 + 100 clipped to N
    ],
)
def test_pool_size_hand_computed(pacing: str, t: int, expected: int) -> None:
    assert epoch_pool.pool_size(pacing, t, max_epochs=10, full_at=0.5, start_fraction=0.2, n=100) == expected


def test_full_epoch_is_ceil_a_t() -> None:
    assert epoch_pool.full_epoch(18, 0.4) == 8  # ceil(7.2)
    assert epoch_pool.full_epoch(10, 0.5) == 5
    assert epoch_pool.full_epoch(30, 0.1) == 3  # 0.1 * 30 = 3.0000000000000004 in floats
    assert epoch_pool.full_epoch(10, 0.5, start_fraction=1.0) == 0
    for pacing in epoch_pool.PACINGS:
        sizes = [epoch_pool.pool_size(pacing, t, 18, 0.4, 0.33, 1000) for t in range(18)]
        assert sizes.index(1000) == 8
        assert sizes == sorted(sizes)


def test_pacing_value_formulas() -> None:
    assert epoch_pool.pacing_value("linear", 2, 10, 0.5, 0.2, 100) == pytest.approx(52.0)
    assert epoch_pool.pacing_value("root", 2, 10, 0.5, 0.2, 100) == pytest.approx(20 + 80 * math.sqrt(0.4))
    assert epoch_pool.pacing_value("step", 6, 10, 0.3, 0.2, 100) == pytest.approx(220.0)  # floor(6 / 3) = 2
    with pytest.raises(ValueError, match="pacing"):
        epoch_pool.pacing_value("quad", 0, 10, 0.5, 0.2, 100)


def test_order_none_is_everything_and_full_from_the_start() -> None:
    idx, full = epoch_pool.epoch_pool(np.linspace(0, 1, 7), np.zeros(7, int), 0, 10, order="none")
    assert full and sorted(idx.tolist()) == list(range(7))


def test_easy_to_hard_and_anti_curriculum() -> None:
    d = np.array([0.5, 0.1, 0.9, 0.3, 0.7])
    cls = np.zeros(5, int)
    easy = epoch_pool.pool_order(d, cls, "easy_to_hard", seed=0)
    hard = epoch_pool.pool_order(d, cls, "hard_to_easy", seed=0)
    assert easy.tolist() == [1, 3, 0, 4, 2]
    assert hard.tolist() == easy[::-1].tolist()
    pool, full = epoch_pool.epoch_pool(
        d, cls, 0, 10, order="easy_to_hard", pacing="linear", start_fraction=0.4, full_at=0.5
    )
    assert sorted(pool.tolist()) == [1, 3] and not full


def test_ties_are_broken_by_the_seed() -> None:
    d = np.zeros(50)
    cls = np.zeros(50, int)
    a = epoch_pool.pool_order(d, cls, "easy_to_hard", seed=1)
    assert np.array_equal(a, epoch_pool.pool_order(d, cls, "easy_to_hard", seed=1))
    assert not np.array_equal(a, epoch_pool.pool_order(d, cls, "easy_to_hard", seed=2))
    assert sorted(a.tolist()) == list(range(50))


def test_prefixes_keep_the_class_mix_within_one() -> None:
    rng = np.random.default_rng(0)
    n = 600
    cls = rng.choice(9, size=n, p=[0.3, 0.25, 0.15, 0.1, 0.08, 0.05, 0.04, 0.02, 0.01])
    d = rng.random(n)
    order = epoch_pool.pool_order(d, cls, "easy_to_hard", seed=3)
    assert sorted(order.tolist()) == list(range(n))
    counts = np.bincount(cls, minlength=9)
    cum = np.eye(9)[cls[order]].cumsum(axis=0)
    ideal = np.arange(1, n + 1)[:, None] * counts / n
    assert np.abs(cum - ideal).max() < 1.0
    # without balancing the easy prefix is not class-balanced in general
    plain = epoch_pool.difficulty_order(d, "easy_to_hard", seed=3)
    assert np.abs(np.eye(9)[cls[plain]].cumsum(axis=0) - ideal).max() > 1.0
    # within each class, items stay easy -> hard
    for c in range(9):
        assert np.all(np.diff(d[order][cls[order] == c]) >= 0)


def test_equal_balance_is_round_robin_until_a_class_runs_out() -> None:
    cls = np.array([0] * 6 + [1] * 2 + [2] * 3)
    d = np.arange(len(cls), dtype=float)
    order = epoch_pool.balance(epoch_pool.difficulty_order(d, "easy_to_hard", 0), cls, "equal")
    assert cls[order].tolist() == [0, 1, 2, 0, 1, 2, 0, 2, 0, 0, 0]


def test_pools_grow_as_prefixes() -> None:
    rng = np.random.default_rng(1)
    d, cls = rng.random(200), rng.integers(0, 9, 200)
    pools = [epoch_pool.epoch_pool(d, cls, t, 6, "easy_to_hard", "root", 0.33, 0.5, seed=4) for t in range(6)]
    for (a, _), (b, _) in itertools.pairwise(pools):
        assert np.array_equal(a, b[: len(a)])
    assert [full for _, full in pools] == [False, False, False, True, True, True]


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="order"):
        epoch_pool.difficulty_order(np.zeros(3), "random", 0)
    with pytest.raises(ValueError, match="non-finite"):
        epoch_pool.difficulty_order(np.array([0.1, np.nan]), "easy_to_hard", 0)
    with pytest.raises(ValueError, match="length"):
        epoch_pool.epoch_pool(np.zeros(3), np.zeros(2, int), 0, 5, "easy_to_hard")

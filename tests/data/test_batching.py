"""Length-bucketed training batches and bounded inference batches."""

from __future__ import annotations

import numpy as np
import pytest

from sertools.data.batching import bucket_batches, eval_batches, padded_fraction


def _durations(n: int = 500, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(2.7, 11.0, n)


def test_every_index_exactly_once_and_batch_sizes() -> None:
    d = _durations(503)
    batches = bucket_batches(d, batch_size=16, bucket_size_multiplier=5, seed=1)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(503))
    assert max(len(b) for b in batches) == 16


def test_plan_is_a_function_of_the_seed() -> None:
    d = _durations()
    a = bucket_batches(d, 8, 4, seed=3)
    b = bucket_batches(d, 8, 4, seed=3)
    c = bucket_batches(d, 8, 4, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=False))


def test_bucketing_reduces_padding() -> None:
    d = _durations(2000)
    plain = padded_fraction(d, bucket_batches(d, 16, 1, seed=0))
    bucketed = padded_fraction(d, bucket_batches(d, 16, 20, seed=0))
    assert bucketed < plain / 3
    # within a bucketed batch durations are close: every batch is a slice of a sorted pool
    assert bucketed < 0.05


def test_padded_fraction_by_hand() -> None:
    d = np.array([1.0, 2.0, 3.0, 3.0])
    assert padded_fraction(d, [np.array([0, 1])]) == pytest.approx(0.25)  # 1 of 4
    assert padded_fraction(d, [np.array([0, 1]), np.array([2, 3])]) == pytest.approx(1 / 10)
    assert padded_fraction(d, []) == 0.0


def test_eval_batches_respect_the_limit() -> None:
    d = np.array([5.0, 1.0, 30.0, 2.0, 2.0, 9.0, 4.0])
    batches = eval_batches(d, max_batch_seconds=10.0)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(d)))
    for b in batches:
        assert len(b) * d[b].max() <= 10.0 or len(b) == 1
    assert [30.0] in [d[b].tolist() for b in batches]  # too long: a batch of its own
    lengths = np.concatenate([d[b] for b in batches])
    assert np.all(np.diff(lengths) >= 0)  # sorted by length


def test_eval_batches_edge_cases() -> None:
    assert eval_batches([], 10.0) == []
    assert [b.tolist() for b in eval_batches([1.0, 1.0, 1.0], 3.0)] == [[0, 1, 2]]
    with pytest.raises(ValueError, match="max_batch_seconds"):
        eval_batches([1.0], 0.0)
    with pytest.raises(ValueError, match="durations"):
        bucket_batches([1.0, float("nan")], 2)


def test_shuffled_batches_drop_only_an_incomplete_last_batch_and_follow_the_seed():
    from sertools.data.batching import shuffled_batches

    got = shuffled_batches(10, 4, seed=3)
    assert [len(b) for b in got] == [4, 4]  # the incomplete last batch of 2 is dropped
    flat = np.concatenate(got)
    assert len(set(flat.tolist())) == 8 and set(flat.tolist()) <= set(range(10))
    assert all(np.array_equal(a, b) for a, b in zip(got, shuffled_batches(10, 4, seed=3), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(got, shuffled_batches(10, 4, seed=4), strict=True))
    assert [len(b) for b in shuffled_batches(3, 4)] == [3]  # a single short batch is kept
    with pytest.raises(ValueError, match="batch_size"):
        shuffled_batches(10, 0)


def test_file_order_batches_follow_the_file_ids():
    from sertools.data.batching import file_order_batches

    got = file_order_batches(["c.wav", "a.wav", "d.wav", "b.wav", "e.wav"], 2)
    assert [b.tolist() for b in got] == [[1, 3], [0, 2], [4]]
    with pytest.raises(ValueError, match="batch_size"):
        file_order_batches(["a.wav"], 0)

"""Synthetic prediction sets (EvalData) for the evaluation tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from sertools.classes import K
from sertools.evaluation.evaldata import EvalData


def make_data(
    n: int,
    seed: int = 0,
    skill: float = 1.5,
    classes: tuple[int, ...] = tuple(range(K)),
    with_true: bool = True,
    with_dims: bool = True,
    with_ref: bool = True,
) -> EvalData:
    """Synthetic corpus: votes from a Dirichlet, model logits tilted towards the plurality;
    ``p_ref`` (the paper reference) mixes the primary and merged votes, with some all-zero rows."""
    rng = np.random.default_rng(seed)
    alpha = np.full(K, 1e-3)
    alpha[list(classes)] = 0.6
    votes = rng.multinomial(6, rng.dirichlet(alpha, size=n))
    p_primary = votes / votes.sum(axis=1, keepdims=True)
    hard = np.where(p_primary.max(axis=1) > 0.5, p_primary.argmax(axis=1), -1)
    logits = rng.normal(size=(n, K))
    logits[np.arange(n), p_primary.argmax(axis=1)] += skill
    probs = np.exp(logits)
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    merged = votes + rng.multinomial(3, np.full(K, 1 / K), size=n)
    dims_true = rng.uniform(1, 7, size=(n, 3))
    h = scipy_entropy(p_primary, axis=1) / math.log(K)
    p_merged = merged / merged.sum(axis=1, keepdims=True)
    p_ref = 0.9 * p_primary + 0.1 * p_merged
    p_ref[::17] = 0.0
    return EvalData(
        probs=probs,
        pred=probs.argmax(axis=1),
        hard=hard,
        p_primary=p_primary,
        p_merged=p_merged,
        p_true=rng.dirichlet(np.ones(K), size=n) if with_true else None,
        dims_pred=dims_true + rng.normal(scale=1.0, size=(n, 3)) if with_dims else None,
        dims_true=dims_true if with_dims else None,
        entropy=h,
        p_ref=p_ref if with_ref else None,
    )


def with_predictions(base: EvalData, probs: np.ndarray, dims_pred: np.ndarray | None = None) -> EvalData:
    """Same utterances and labels, different model outputs (another seed or system)."""
    return EvalData(
        probs=probs,
        pred=probs.argmax(axis=1),
        hard=base.hard,
        p_primary=base.p_primary,
        p_merged=base.p_merged,
        p_true=base.p_true,
        dims_pred=base.dims_pred if dims_pred is None else dims_pred,
        dims_true=base.dims_true,
        entropy=base.entropy,
        p_ref=base.p_ref,
    )


def dist(*vals: float) -> np.ndarray:
    """A length-K row with the given leading values (rest 0)."""
    row = np.zeros(K)
    row[: len(vals)] = vals
    return row


def assert_metrics_close(a: dict[str, float], b: dict[str, float], tol: float = 1e-9) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if np.isnan(a[k]):
            assert np.isnan(b[k]), k
        else:
            assert a[k] == pytest.approx(b[k], abs=tol), k

"""Optimisation steps: gradient accumulation, short last groups, non-finite gradients; the objective."""

from __future__ import annotations

import math

import torch

from sertools.training.optimisation import Objective, Optimisation


def _optim(grad_accum: int, grad_clip: float | None = None) -> Optimisation:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    params = list(model.parameters())
    return Optimisation(
        model=model,
        forward_model=model,
        optimizers={"heads": torch.optim.SGD(params, lr=1.0)},
        params=params,
        scaler=None,
        amp=None,
        objective=Objective("ce", "ccc", 0.0),
        grad_accum=grad_accum,
        grad_clip=grad_clip,
    )


def test_accumulated_gradients_are_a_mean_also_for_a_short_last_group() -> None:
    o = _optim(grad_accum=4)
    x = torch.ones(1, 3)
    assert [o.ends_accumulation(i, 6) for i in range(6)] == [False, False, False, True, False, True]
    for _ in range(2):  # a last group of 2 of 4 micro-batches
        o.backward(o.model(x).sum())
    before = o.model.weight.detach().clone()
    assert o.step(accumulated=2)
    torch.testing.assert_close(o.model.weight.detach(), before - 1.0)  # mean gradient 1, lr 1


def test_a_non_finite_gradient_skips_the_step() -> None:
    o = _optim(grad_accum=1, grad_clip=5.0)
    o.backward(o.model(torch.full((1, 3), math.inf)).sum())
    before = o.model.weight.detach().clone()
    assert not o.step(accumulated=1)
    assert torch.equal(o.model.weight.detach(), before)
    o.zero_grad()
    assert o.model.weight.grad is None
    o.set_learning_rates({"heads": 0.25})
    assert o.optimizers["heads"].param_groups[0]["lr"] == 0.25


def test_objective_leaves_unrated_utterances_out_of_the_dimensional_loss() -> None:
    logits = torch.randn(3, 9)
    dims = torch.rand(3, 3)
    cat = torch.tensor([0, 1, 2])
    dim_t = torch.rand(3, 3)
    obj = Objective("ce", "mse", 1.0)
    partial = dim_t.clone()
    partial[1] = math.nan
    expected = Objective("ce", "mse", 1.0)(logits[[0, 2]], dims[[0, 2]], cat[[0, 2]], dim_t[[0, 2]])
    ce_all = Objective("ce", "mse", 0.0)(logits, dims, cat, dim_t)
    ce_two = Objective("ce", "mse", 0.0)(logits[[0, 2]], dims[[0, 2]], cat[[0, 2]], dim_t[[0, 2]])
    torch.testing.assert_close(obj(logits, dims, cat, partial) - ce_all, expected - ce_two)
    unrated = torch.full_like(dim_t, math.nan)
    torch.testing.assert_close(obj(logits, dims, cat, unrated), ce_all)  # no rating at all: CE only

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


def test_release_cbce_is_a_plain_mean_of_weighted_losses() -> None:
    torch.manual_seed(1)
    logits, cat = torch.randn(5, 9), torch.tensor([0, 4, 4, 7, 8])
    w = torch.linspace(0.5, 2.0, 9)
    nll = -torch.log_softmax(logits, dim=1)[torch.arange(5), cat]
    release = Objective("cbce", "ccc", 0.0, class_weight=w, cbce_reduction="mean")
    torch.testing.assert_close(release(logits, None, cat, None), (w[cat] * nll).mean())
    pytorch = Objective("cbce", "ccc", 0.0, class_weight=w)
    torch.testing.assert_close(pytorch(logits, None, cat, None), (w[cat] * nll).sum() / w[cat].sum())


def _release_kld(logits: torch.Tensor, q: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
    """The release's (W)KLD written out: target clamped at 1e-8 and renormalised, sum_c w_c q_c (log q_c - log p_c)
    in nats, mean over the batch."""
    q = q.double().clamp_min(1e-8)
    q = q / q.sum(dim=1, keepdim=True)
    terms = q * (q.log() - torch.log_softmax(logits.double(), dim=1))
    if w is not None:
        terms = terms * w.double()
    return terms.sum(dim=1).mean().float()


def test_kl_with_floor_and_class_weights_matches_the_release_definition() -> None:
    torch.manual_seed(2)
    logits = torch.randn(4, 9)
    q = torch.softmax(torch.randn(4, 9) * 3, dim=1)
    q[:, 0] = 0.0
    q = q / q.sum(dim=1, keepdim=True)
    w = torch.tensor([0.25, 0.25, 1.0, 2.0, 3.2, 2.1, 1.0, 0.25, 1.4])
    obj = Objective("kl", "ccc", 0.0, class_weight=w, target_floor=1e-8)
    torch.testing.assert_close(obj(logits, None, q, None), _release_kld(logits, q, w))
    plain = Objective("kl", "ccc", 0.0)  # no floor, no weights: 0 log 0 = 0
    torch.testing.assert_close(plain(logits, None, q, None), _release_kld(logits, q), atol=1e-5, rtol=0)


def test_curriculum_weights_touch_the_categorical_loss_only() -> None:
    torch.manual_seed(3)
    logits, dims, dim_t = torch.randn(4, 9), torch.rand(4, 3), torch.rand(4, 3)
    q = torch.softmax(torch.randn(4, 9), dim=1)
    keep_two = torch.tensor([2.0, 0.0, 2.0, 0.0])  # filter: the mean over samples 0 and 2
    obj = Objective("kl", "mse", 0.3)
    got = obj(logits, dims, q, dim_t, sample_weights=keep_two)
    cat_kept = Objective("kl", "mse", 0.0)(logits[[0, 2]], None, q[[0, 2]], None)
    dim_all = ((dims - dim_t) ** 2).mean(dim=0).sum()
    torch.testing.assert_close(got, cat_kept + 0.3 * dim_all)


def test_gaussian_dimensional_loss_needs_a_log_variance() -> None:
    import pytest

    from sertools.model import release_losses

    logits, mu, dim_t = torch.randn(4, 9), torch.rand(4, 3), torch.rand(4, 3)
    lv = torch.zeros(4, 3)
    cat = torch.tensor([0, 1, 2, 3])
    obj = Objective("ce", "gaussian_nll_ccc", 0.3)
    want = Objective("ce", "mse", 0.0)(logits, None, cat, None) + 0.3 * release_losses.vad_loss(mu, lv, dim_t)
    torch.testing.assert_close(obj(logits, mu, cat, dim_t, dims_logvar=lv), want)
    with pytest.raises(ValueError, match="log-variance"):
        obj(logits, mu, cat, dim_t)

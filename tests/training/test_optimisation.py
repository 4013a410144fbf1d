"""Optimisation: gradient accumulation, short last groups, non-finite gradients; the objective; NewBob
(SpeechBrain semantics, docs/training.md, "Learning rates: NewBob"); gradual unfreezing."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sertools import config as config_mod
from sertools.training.optimisation import (
    PARAM_GROUPS,
    NewBob,
    Objective,
    Optimisation,
    Unfreezing,
    layer_parameters,
    newbob_schedulers,
    set_lr,
    set_trainable_top,
)


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


def test_sample_weights_touch_the_categorical_loss_only() -> None:
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


# ----------------------------------------------------------------------------- NewBob


def test_newbob_docstring_example() -> None:
    s = NewBob(1.0, annealing_factor=0.5)
    assert s(10.0) == (1.0, 1.0)
    assert s(2.0) == (1.0, 1.0)
    assert s(2.5) == (1.0, 0.5)
    assert s.value == 0.5


def test_first_call_never_anneals_even_for_a_huge_metric() -> None:
    s = NewBob(1e-4, 0.9)
    assert s(1e9) == (1e-4, 1e-4)


def test_improvement_is_relative_to_the_last_metric_not_the_best() -> None:
    s = NewBob(1.0, 0.5, improvement_threshold=0.0025)
    s(1.0)
    s(2.0)  # worse: anneals to 0.5
    # 1.9 is worse than the best (1.0) but 5 % better than the last (2.0): no anneal
    assert s(1.9) == (0.5, 0.5)


def test_threshold_boundary() -> None:
    s = NewBob(1.0, 0.5, improvement_threshold=0.0025)
    s(1.0)
    assert s(0.997) == (1.0, 1.0)  # 0.3 % improvement: enough
    assert s(0.996) == (1.0, 0.5)  # 0.1 % improvement: too little


def test_zero_previous_metric_counts_as_no_improvement() -> None:
    s = NewBob(1.0, 0.5)
    s(0.0)
    assert s(0.0) == (1.0, 0.5)


def test_patience_is_not_reset_by_good_epochs() -> None:
    s = NewBob(1.0, 0.5, patient=1)
    s(10.0)
    assert s(11.0) == (1.0, 1.0)  # insufficient #1: patience 1 -> 0
    assert s(5.0) == (1.0, 1.0)  # good epoch: patience stays 0 (not reset)
    assert s(6.0) == (1.0, 0.5)  # insufficient #2 anneals, patience back to 1
    assert s.current_patient == 1
    assert s(7.0) == (0.5, 0.5)
    assert s(8.0) == (0.5, 0.25)


def test_state_dict_round_trip_continues_identically() -> None:
    a = NewBob(1e-3, 0.9, 0.0025, patient=2)
    for m in (5.0, 5.1, 4.0, 4.2):
        a(m)
    b = NewBob(1.0)
    b.load_state_dict(a.state_dict())
    for m in (4.3, 4.4, 3.0, 3.5):
        assert a(m) == b(m)
    assert a.state_dict() == b.state_dict()


def test_bad_arguments_and_state() -> None:
    with pytest.raises(ValueError, match="annealing_factor"):
        NewBob(1.0, annealing_factor=1.5)
    with pytest.raises(ValueError, match="initial_value"):
        NewBob(0.0)
    with pytest.raises(ValueError, match="finite"):
        NewBob(1.0)(float("nan"))
    with pytest.raises(ValueError, match="malformed"):
        NewBob(1.0).load_state_dict({"value": 1.0})


def test_set_lr_sets_every_group() -> None:
    p1, p2 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([{"params": [p1]}, {"params": [p2], "lr": 5.0}], lr=1.0)
    set_lr(opt, 0.25)
    assert [g["lr"] for g in opt.param_groups] == [0.25, 0.25]


def test_one_newbob_per_parameter_group_at_its_configured_rate() -> None:
    train = {
        "lr_backbone": 1e-4,
        "lr_heads": 1e-3,
        "newbob_factor": 0.5,
        "newbob_threshold": 0.0,
        "newbob_patience": 0,
    }
    schedulers = newbob_schedulers(train)
    assert list(schedulers) == list(PARAM_GROUPS) == ["backbone", "heads"]
    assert {group: s.value for group, s in schedulers.items()} == {"backbone": 1e-4, "heads": 1e-3}


# ----------------------------------------------------------------------------- gradual unfreezing

#: the train section as the stages receive it (the schema's defaults), for the unfreezing tests
TRAIN_DEFAULTS = config_mod.resolve({})["train"]
RELEASE = {
    **TRAIN_DEFAULTS,
    "unfreeze": [
        {"epoch": 1, "layers": 2, "lr_factor": 1.0},
        {"epoch": 2, "layers": 4, "lr_factor": 0.9},
        {"epoch": 4, "layers": 8, "lr_factor": 0.8},
        {"epoch": 8, "layers": 12, "lr_factor": 0.7},
    ],
}


def test_release_schedule_layers_and_factors_per_epoch() -> None:
    sched = Unfreezing.from_train(RELEASE)
    assert [sched.layers(e) for e in range(1, 11)] == [2, 4, 4, 8, 8, 8, 8, 12, 12, 12]
    # the factor lasts only the step's own epoch (NewBob overwrites it afterwards)
    assert [sched.lr_factor(e) for e in range(1, 10)] == [1.0, 0.9, 1.0, 0.8, 1.0, 1.0, 1.0, 0.7, 1.0]
    persistent = Unfreezing.from_train({**RELEASE, "unfreeze_lr_factor_scope": "persistent"})
    assert [persistent.lr_factor(e) for e in range(1, 10)] == [1.0, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7]


def test_no_layer_trains_before_the_first_step_and_null_means_no_schedule() -> None:
    late = Unfreezing.from_train({**TRAIN_DEFAULTS, "unfreeze": [{"epoch": 3, "layers": 1}]})
    assert [late.layers(e) for e in (1, 2, 3)] == [0, 0, 1]
    assert late.lr_factor(3) == 1.0  # lr_factor defaults to 1
    assert Unfreezing.from_train({**TRAIN_DEFAULTS, "unfreeze": None}) is None


@pytest.mark.parametrize(
    "steps", [[], [{"epoch": 2, "layers": 1}, {"epoch": 2, "layers": 2}], [{"epoch": 0, "layers": 1}]]
)
def test_bad_schedules_are_refused(steps: list) -> None:
    with pytest.raises(ValueError, match="unfreeze"):
        Unfreezing.from_train({**TRAIN_DEFAULTS, "unfreeze": steps})


def test_set_trainable_top_toggles_only_the_top_layers() -> None:
    layers = [nn.Linear(2, 2) for _ in range(4)]
    assert set_trainable_top(layers, 2) == 2
    assert [all(p.requires_grad for p in m.parameters()) for m in layers] == [False, False, True, True]
    assert set_trainable_top(layers, 12) == 4  # capped at the depth
    assert all(p.requires_grad for p in layer_parameters(layers))
    assert set_trainable_top(layers, 0) == 0
    assert not any(p.requires_grad for p in layer_parameters(layers))

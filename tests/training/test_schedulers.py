"""NewBob: SpeechBrain semantics (docs/training.md, "Learning rates: NewBob")."""

from __future__ import annotations

import pytest
import torch
from sertools.training.schedulers import NewBob, set_lr


def test_docstring_example() -> None:
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

"""Gradual unfreezing: which layers train at which epoch, and the backbone learning-rate factor."""

from __future__ import annotations

import pytest
from sertools.training.unfreezing import Unfreezing, layer_parameters, set_trainable_top
from torch import nn

RELEASE = {
    "unfreeze": [
        {"epoch": 1, "layers": 2, "lr_factor": 1.0},
        {"epoch": 2, "layers": 4, "lr_factor": 0.9},
        {"epoch": 4, "layers": 8, "lr_factor": 0.8},
        {"epoch": 8, "layers": 12, "lr_factor": 0.7},
    ]
}


def test_release_schedule_layers_and_factors_per_epoch() -> None:
    sched = Unfreezing.from_train(RELEASE)
    assert [sched.layers(e) for e in range(1, 11)] == [2, 4, 4, 8, 8, 8, 8, 12, 12, 12]
    # the factor lasts only the step's own epoch (NewBob overwrites it afterwards)
    assert [sched.lr_factor(e) for e in range(1, 10)] == [1.0, 0.9, 1.0, 0.8, 1.0, 1.0, 1.0, 0.7, 1.0]
    persistent = Unfreezing.from_train({**RELEASE, "unfreeze_lr_factor_scope": "persistent"})
    assert [persistent.lr_factor(e) for e in range(1, 10)] == [1.0, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7]


def test_no_layer_trains_before_the_first_step_and_null_means_no_schedule() -> None:
    late = Unfreezing.from_train({"unfreeze": [{"epoch": 3, "layers": 1}]})
    assert [late.layers(e) for e in (1, 2, 3)] == [0, 0, 1]
    assert late.lr_factor(3) == 1.0  # lr_factor defaults to 1
    assert Unfreezing.from_train({"unfreeze": None}) is None


@pytest.mark.parametrize(
    "steps", [[], [{"epoch": 2, "layers": 1}, {"epoch": 2, "layers": 2}], [{"epoch": 0, "layers": 1}]]
)
def test_bad_schedules_are_refused(steps: list) -> None:
    with pytest.raises(ValueError, match="unfreeze"):
        Unfreezing.from_train({"unfreeze": steps})


def test_set_trainable_top_toggles_only_the_top_layers() -> None:
    layers = [nn.Linear(2, 2) for _ in range(4)]
    assert set_trainable_top(layers, 2) == 2
    assert [all(p.requires_grad for p in m.parameters()) for m in layers] == [False, False, True, True]
    assert set_trainable_top(layers, 12) == 4  # capped at the depth
    assert all(p.requires_grad for p in layer_parameters(layers))
    assert set_trainable_top(layers, 0) == 0
    assert not any(p.requires_grad for p in layer_parameters(layers))

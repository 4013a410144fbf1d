"""Device, precision, thread and determinism settings; epoch seeds."""

from __future__ import annotations

import random

import pytest
import torch

from sertools import device
from sertools.training import seeding


def test_device_and_amp_choice() -> None:
    assert device.resolve_device("cpu") == torch.device("cpu")
    assert device.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match=r"train\.device"):
        device.resolve_device("nonsense")
    assert device.amp_dtype("auto", torch.device("cpu")) is None
    assert device.amp_dtype("off", torch.device("cuda")) is None


def test_settings_are_restored_after_the_block() -> None:
    before = (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads())
    with device.torch_settings(True, 1, torch.device("cpu")):
        assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 1
    assert (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()) == before
    with device.torch_threads(None):
        assert torch.get_num_threads() == before[1]


def test_epoch_seeds_are_pure_and_differ_by_epoch_and_rank() -> None:
    assert seeding.epoch_seed(3, 1) == seeding.epoch_seed(3, 1) != seeding.epoch_seed(3, 2)
    assert 0 <= seeding.epoch_seed(3, 1) < 2**63
    draws = []
    for rank in (0, 0, 1):
        seeding.seed_epoch(3, 1, rank)
        draws.append((float(torch.rand(())), random.random()))
    assert draws[0] == draws[1] != draws[2]

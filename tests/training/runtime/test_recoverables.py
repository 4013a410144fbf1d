"""The resume registry: every kind of recoverable object round-trips, and a misfit raises."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sertools.training.optimisation import NewBob
from sertools.training.runtime import checkpoint as ck
from sertools.training.runtime import recoverables as rec


def _model_and_opt(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    return model, opt


def _steps(model: torch.nn.Module, opt: torch.optim.Optimizer, n: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        loss = model(torch.randn(5, 4, generator=g)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


class Counter:
    """A recoverable of its own: a tensor and a JSON value."""

    def __init__(self) -> None:
        self.total = torch.zeros(3)
        self.calls = 0

    def save_state(self) -> tuple[dict[str, torch.Tensor], Any]:
        return {"total": self.total}, {"calls": self.calls}

    def load_state(self, tensors: dict[str, torch.Tensor], meta: Any) -> None:
        self.total, self.calls = tensors["total"].clone(), int(meta["calls"])


def _registry(
    model: torch.nn.Module, opt: torch.optim.Optimizer, sched: NewBob, counter: Counter
) -> rec.Recoverables:
    return rec.Recoverables(
        {"model": model, "optim": opt, "newbob": sched, "counter": counter, "rng": rec.RngState()}
    )


def test_registry_saves_and_restores_every_kind_and_training_continues_identically(tmp_path: Path) -> None:
    model, opt = _model_and_opt(0)
    _steps(model, opt, 3, seed=1)
    sched, counter = NewBob(1.0, 0.5), Counter()
    sched(2.0), sched(3.0)
    counter.total += 7
    counter.calls = 4
    path = tmp_path / "last.safetensors"
    _registry(model, opt, sched, counter).save(path, {"config_hash": "abc"})
    assert not [p for p in tmp_path.iterdir() if p.name != path.name]  # no temp files left
    first = torch.rand(3), random.random()

    model2, opt2 = _model_and_opt(99)  # different init: everything must come from the file
    sched2, counter2 = NewBob(1.0, 0.5), Counter()
    saved = ck.load(path, kind="resume")
    assert saved.meta["config_hash"] == "abc"
    assert {name.split(".")[0] for name in saved.tensors} == {"model", "optim", "counter", "rng"}
    _registry(model2, opt2, sched2, counter2).restore(saved)
    assert torch.equal(first[0], torch.rand(3)) and first[1] == random.random()
    assert sched2.state_dict() == sched.state_dict() and sched2.value == 0.5
    assert counter2.calls == 4 and torch.equal(counter2.total, counter.total)
    assert opt2.param_groups[0]["betas"] == opt.param_groups[0]["betas"]
    _steps(model, opt, 2, seed=5)
    _steps(model2, opt2, 2, seed=5)
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(a, b)


def test_an_entry_missing_from_the_checkpoint_or_not_fitting_raises(tmp_path: Path) -> None:
    model, opt = _model_and_opt(0)
    path = tmp_path / "last.safetensors"
    rec.Recoverables({"model": model}).save(path, {})
    with pytest.raises(KeyError, match="optim"):
        rec.Recoverables({"model": model, "optim": opt}).restore(ck.load(path))
    other = torch.nn.Linear(4, 3)
    with pytest.raises(RuntimeError, match="state_dict"):
        rec.Recoverables({"model": other}).restore(ck.load(path))
    with pytest.raises(TypeError, match="cannot save or restore a str"):
        rec.Recoverables({"name": "text"})
    with pytest.raises(ValueError, match="prefix"):
        rec.Recoverables({"optim": opt, "optim.heads": opt})


def test_rng_round_trip(tmp_path: Path) -> None:
    gen = np.random.default_rng(7)
    state = rec.RngState(gen)
    path = tmp_path / "rng.safetensors"
    rec.Recoverables({"rng": state}).save(path, {})
    first = (torch.rand(3), random.random(), gen.random())
    gen2 = np.random.default_rng(0)
    rec.Recoverables({"rng": rec.RngState(gen2)}).restore(ck.load(path))
    assert torch.equal(first[0], torch.rand(3))
    assert first[1] == random.random()
    assert first[2] == gen2.random()


def test_optimizer_flattening_round_trip() -> None:
    model, opt = _model_and_opt(0)
    _steps(model, opt, 2, seed=1)
    tensors, meta = rec.flatten_optimizer(opt.state_dict(), "optim.")
    assert all(name.startswith("optim.state.") for name in tensors)
    back = rec.unflatten_optimizer(tensors, meta, "optim.")
    assert back["param_groups"] == opt.state_dict()["param_groups"]
    with pytest.raises(ck.CheckpointError, match="incomplete"):
        rec.unflatten_optimizer({}, {"state_keys": {"0": ["exp_avg"]}}, "optim.")

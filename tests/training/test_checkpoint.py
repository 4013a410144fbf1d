"""Checkpoints: safetensors + JSON header, round trips, refusal of anything else."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from sertools.training import checkpoint as ck


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


def _save_training_state(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
    tensors = ck.with_prefix(ck.model_state(model), "model.")
    ot, om = ck.flatten_optimizer(opt.state_dict(), "optim.")
    tensors.update(ot)
    rt, rm = ck.capture_rng()
    tensors.update(rt)
    ck.save(path, tensors, {"optim": om, "rng": rm, "epoch": 3}, "resume")


def test_model_optimizer_round_trip_continues_identically(tmp_path: Path) -> None:
    model, opt = _model_and_opt(0)
    _steps(model, opt, 3, seed=1)
    path = tmp_path / "last.safetensors"
    _save_training_state(path, model, opt)
    assert not [p for p in tmp_path.iterdir() if p.name != path.name]  # no temp files left

    model2, opt2 = _model_and_opt(99)  # different init: everything must come from the file
    loaded = ck.load(path, kind="resume")
    assert loaded.meta["epoch"] == 3
    model2.load_state_dict(ck.strip_prefix(loaded.tensors, "model."))
    opt2.load_state_dict(ck.unflatten_optimizer(loaded.tensors, loaded.meta["optim"], "optim."))
    assert opt2.param_groups[0]["betas"] == opt.param_groups[0]["betas"]
    _steps(model, opt, 2, seed=5)
    _steps(model2, opt2, 2, seed=5)
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        assert torch.equal(a, b)


def test_rng_round_trip(tmp_path: Path) -> None:
    gen = np.random.default_rng(7)
    tensors, meta = ck.capture_rng(gen)
    path = tmp_path / "rng.safetensors"
    ck.save(path, tensors, {"rng": meta}, "resume")
    first = (torch.rand(3), random.random(), gen.random())
    loaded = ck.load(path)
    gen2 = np.random.default_rng(0)
    ck.restore_rng(loaded.tensors, loaded.meta["rng"], gen2)
    assert torch.equal(first[0], torch.rand(3))
    assert first[1] == random.random()
    assert first[2] == gen2.random()


def test_read_meta_and_kind_check(tmp_path: Path) -> None:
    path = tmp_path / "best.safetensors"
    ck.save(path, {"model.w": torch.ones(2)}, {"architecture": {"x": 1}, "metric": float("inf")}, "best")
    assert ck.read_meta(path)["architecture"] == {"x": 1}
    with pytest.raises(ck.CheckpointError, match="expected a 'resume' checkpoint"):
        ck.load(path, kind="resume")


def test_refuses_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    with pytest.raises(ck.CheckpointError, match=r"model\.safetensors.*not a readable safetensors"):
        ck.load(path)


def test_refuses_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.safetensors"
    ck.save(path, {"w": torch.arange(100, dtype=torch.float32)}, {}, "best")
    data = path.read_bytes()
    path.write_bytes(data[:-17])
    with pytest.raises(ck.CheckpointError, match=r"t\.safetensors"):
        ck.load(path)


def test_refuses_foreign_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(path), metadata={"format": "pt"})
    with pytest.raises(ck.CheckpointError, match="marker"):
        ck.load(path)


def test_detects_flipped_bits_in_tensor_data(tmp_path: Path) -> None:
    path = tmp_path / "c.safetensors"
    ck.save(path, {"w": torch.arange(64, dtype=torch.float32)}, {}, "best")
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(ck.CheckpointError, match="digest"):
        ck.load(path)


def test_missing_file_and_shared_storage(tmp_path: Path) -> None:
    with pytest.raises(ck.CheckpointError, match="not found"):
        ck.load(tmp_path / "nope.safetensors")
    base = torch.arange(6, dtype=torch.float32)
    path = tmp_path / "s.safetensors"
    ck.save(path, {"a": base, "b": base.view(2, 3)}, {}, "best")  # tied weights are stored twice
    loaded = ck.load(path)
    assert torch.equal(loaded.tensors["b"], base.view(2, 3))

"""Checkpoint files: safetensors + JSON header, refusal of anything else."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from sertools.training.runtime import checkpoint as ck


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


def test_prefix_helpers_and_model_state() -> None:
    tensors = {"a.w": torch.ones(1), "a.b": torch.zeros(1), "b.w": torch.ones(2)}
    assert ck.strip_prefix(tensors, "a.").keys() == {"w", "b"}
    assert ck.with_prefix(ck.strip_prefix(tensors, "b."), "b.") == {"b.w": tensors["b.w"]}
    module = torch.nn.Linear(2, 1)
    state = ck.model_state(module)
    with torch.no_grad():
        module.weight.add_(1.0)
    assert not torch.equal(state["weight"], module.weight)  # a copy, not a view

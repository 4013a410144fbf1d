"""Device, precision, thread and determinism settings; epoch seeds."""

from __future__ import annotations

import random

import pytest
import torch

from sertools import device
from sertools.training.runtime import seeding


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


def test_gpus_assigned_reads_the_scheduler_variables() -> None:
    assert device.gpus_assigned({}) is None
    assert device.gpus_assigned({"CUDA_VISIBLE_DEVICES": ""}) is None
    assert device.gpus_assigned({"CUDA_VISIBLE_DEVICES": "-1"}) is None
    assert device.gpus_assigned({"SLURM_GPUS_ON_NODE": "0"}) is None
    assert device.gpus_assigned({"CUDA_VISIBLE_DEVICES": "0,1"}) == "CUDA_VISIBLE_DEVICES=0,1"
    assert device.gpus_assigned({"SLURM_JOB_GPUS": "3", "CUDA_VISIBLE_DEVICES": "0"}) == "SLURM_JOB_GPUS=3"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_a_job_given_gpus_it_cannot_use_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    """auto never falls back to the CPU when the scheduler gave the job GPUs; cuda needs CUDA;
    cpu is taken as asked; with no GPUs given, auto is the CPU (the demo)."""
    for name in device.GPU_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert device.resolve_device("auto") == torch.device("cpu")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.raises(
        device.DeviceError, match=r"'train\.device' is auto .*CUDA_VISIBLE_DEVICES=0.*train\.device: cpu"
    ):
        device.resolve_device("auto")
    with pytest.raises(
        device.DeviceError, match=r"'features\.wavlm\.device' is 'cuda' but CUDA is not usable"
    ):
        device.resolve_device("cuda", key="features.wavlm.device")
    assert device.resolve_device("cpu") == torch.device("cpu")


def test_cuda_problem_names_the_build_and_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    assert "CPU-only build" in device.cuda_problem()
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(device, "_nvidia_smi", lambda: (None, None))
    assert "no NVIDIA driver answers" in device.cuda_problem()
    monkeypatch.setattr(device, "_nvidia_smi", lambda: ("535.104.05", "12.2"))
    message = device.cuda_problem()
    assert "built for CUDA 13.0" in message and "driver 535.104.05 supports CUDA up to 12.2" in message
    monkeypatch.setattr(device, "_nvidia_smi", lambda: ("580.65.06", "13.0"))
    assert "sees no usable GPU" in device.cuda_problem()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.cuda_problem() is None


def test_paper_config_requires_cuda_where_it_fine_tunes() -> None:
    from pathlib import Path

    import yaml

    from sertools import config

    root = Path(__file__).resolve().parents[1]
    raw = yaml.safe_load((root / "config" / "paper.yaml").read_text())
    raw["corpus"]["root"] = "/data/MSP-PODCAST"
    cfg = config.resolve(raw)
    assert cfg["features"]["wavlm"]["device"] == "cuda"
    for name in cfg["variants"]:
        model = config.variant_model(cfg, name)
        want = "cpu" if model["mode"] == "frozen" else "cuda"
        assert config.variant_train(cfg, name)["device"] == want, name
    demo = config.resolve(config.load(root / "config" / "config.yaml"))
    assert demo["train"]["device"] == "auto"

"""sertools.training.runtime.provenance.collect: what env.json records about the machine."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from sertools.training.runtime import provenance


def test_collect_records_cpu_model_cores_and_threads() -> None:
    env = provenance.collect("cpu")
    assert json.loads(json.dumps(env)) == env  # JSON-serialisable as written
    assert isinstance(env["cpu"], str) and env["cpu"]
    assert env["cpu_count"] == os.cpu_count()
    assert 1 <= env["cpus_available"] <= env["cpu_count"]
    assert env["torch_threads"] == torch.get_num_threads()
    assert env["device"] == "cpu" and env["gpu_name"] is None


def test_collect_records_the_thread_count_in_force() -> None:
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert provenance.collect("cpu")["torch_threads"] == 1
    finally:
        torch.set_num_threads(old)


def test_cpu_model_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
    )
    assert provenance._cpu_name(cpuinfo) == "AMD EPYC 7B13"


def test_cpu_model_falls_back_to_platform(tmp_path: Path) -> None:
    fallback = platform.processor() or platform.machine()
    assert provenance._cpu_name(tmp_path / "missing") == fallback
    arm = tmp_path / "cpuinfo"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n")  # no model name
    assert provenance._cpu_name(arm) == fallback

"""Run provenance: versions, hardware, determinism flags, the code's git commit and fingerprints.

:func:`collect` describes the environment a run used (``env.json``): among others
the CPU model (``cpu``), the machine's logical CPUs (``cpu_count``), those the
process may use (``cpus_available``) and torch's thread count (``torch_threads``),
which the README's demo block states (:mod:`sertools.report.readme`).
:func:`file_sha256` and :func:`code_fingerprint` identify the inputs and the
code a run's weights depend on; they enter the job's config hash
(:mod:`sertools.training.runtime.job`).
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from sertools import deps

PACKAGES = (
    "torch",
    "torchaudio",
    "transformers",
    "safetensors",
    "numpy",
    "pandas",
    "scipy",
    "soundfile",
    "snakemake",
)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args],  # read-only: never refreshes the index
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(path: str | Path | None = None) -> dict[str, Any]:
    """Commit (or ``"unknown"``) and dirtiness of the git work tree holding ``path``."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    commit = _git(["rev-parse", "HEAD"], where)
    if commit is None:
        return {"commit": "unknown", "dirty": None}
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def _cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU model: ``model name`` of /proc/cpuinfo (Linux x86), else :func:`platform.processor`
    (else the machine type, e.g. ``aarch64``, whose cpuinfo has no model name)."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpus_available() -> int | None:
    """CPUs this process may run on (its affinity: a container's or a SLURM job's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on every platform
        return os.cpu_count()


def _device_info(device: Any) -> dict[str, Any]:
    import torch

    dev = torch.device(device)
    info: dict[str, Any] = {
        "device": str(dev),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),  # the machine's logical CPUs
        "cpus_available": _cpus_available(),
    }
    if dev.type == "cuda" and torch.cuda.is_available():
        idx = dev.index if dev.index is not None else torch.cuda.current_device()
        info["gpu_name"] = torch.cuda.get_device_name(idx)
        info["cuda_version"] = torch.version.cuda
        info["cudnn_version"] = torch.backends.cudnn.version()
        info["bf16_supported"] = bool(torch.cuda.is_bf16_supported())
    else:
        info["gpu_name"] = None
    return info


def collect(device: Any = "cpu") -> dict[str, Any]:
    """A JSON-serialisable description of the environment a run used."""
    import torch

    return {
        "python": sys.version.split()[0],
        "packages": {name: _version(name) for name in PACKAGES},
        "platform": platform.platform(),
        **_device_info(device),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "git": git_state(),
        "utc_time": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def code_fingerprint(stage_module: str) -> dict[str, str]:
    """The code fingerprint of a stage (:func:`sertools.deps.code_fingerprint`, the one its
    workflow rule reruns on) plus the torch/transformers versions.

    A rerun after a change to what the code does starts fresh instead of resuming a run
    made by other code; a docstring, comment or formatting edit keeps the checkpoint.
    """
    import torch

    return {
        "sertools_code": deps.code_fingerprint(stage_module),
        "torch": torch.__version__,
        # from the installed distribution's metadata: importing transformers takes a second,
        # and a head on cached features never needs it
        "transformers": importlib.metadata.version("transformers"),
    }

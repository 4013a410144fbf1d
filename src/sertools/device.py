"""Where and how torch computes: device, mixed precision, determinism and threads.

``train.device: auto`` takes CUDA when it is available, else the CPU, but never when
the scheduler gave the job GPUs that torch cannot use (then it stops with the reason:
the torch build, the wheel's CUDA version, the driver's). ``cuda`` requires CUDA.
``train.amp: auto`` runs the forward pass under autocast on CUDA only: bf16
where the GPU supports it, else fp16 (training then scales the loss with a
GradScaler); on the CPU everything is fp32. Losses are always computed in fp32.
Training runs with deterministic algorithms (``train.deterministic``): on the
CPU results are then bit-identical from run to run (docs/training.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch


class DeviceError(RuntimeError):
    """The device a job must use is not usable; the message says why."""


#: environment variables through which a scheduler hands a job its GPUs, in the order looked at
GPU_VARIABLES = ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "SLURM_GPUS_ON_NODE", "CUDA_VISIBLE_DEVICES")


def gpus_assigned(environ: Mapping[str, str] | None = None) -> str | None:
    """``NAME=value`` of the first variable saying this job was given GPUs, or None.

    An empty value, ``-1``/``NoDevFiles`` (CUDA's "hide every GPU") and a GPU count of 0 mean
    none were given.
    """
    env = os.environ if environ is None else environ
    for name in GPU_VARIABLES:
        value = env.get(name, "").strip()
        if not value or value in ("-1", "NoDevFiles") or (name == "SLURM_GPUS_ON_NODE" and value == "0"):
            continue
        return f"{name}={value}"
    return None


def _nvidia_smi() -> tuple[str | None, str | None]:
    """(driver version, highest CUDA version the driver supports) from ``nvidia-smi``, if it runs."""
    try:
        out = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    driver = re.search(r"Driver Version:\s*([\d.]+)", out)
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", out)
    return (driver.group(1) if driver else None), (cuda.group(1) if cuda else None)


def cuda_problem() -> str | None:
    """Why torch cannot use CUDA here (None when it can): the torch build, the wheel's CUDA
    version and the driver's, and what to do."""
    if torch.cuda.is_available():
        return None
    build = torch.version.cuda
    if build is None:
        return (
            f"this torch ({torch.__version__}) is a CPU-only build: install a CUDA build of torch "
            "(docs/run_msp_podcast.md, 'Environment')"
        )
    driver, driver_cuda = _nvidia_smi()
    if driver is None:
        return (
            f"torch {torch.__version__} is built for CUDA {build}, but no NVIDIA driver answers here "
            "(nvidia-smi not found or failing): is this a GPU node, and did the job ask for a GPU?"
        )
    if driver_cuda is not None and _version(driver_cuda) < _version(build):
        return (
            f"torch {torch.__version__} is built for CUDA {build}, but the NVIDIA driver {driver} "
            f"supports CUDA up to {driver_cuda}: update the driver or install a torch built for CUDA "
            f"{driver_cuda} or older (docs/run_msp_podcast.md, 'Environment')"
        )
    return (
        f"torch {torch.__version__} (CUDA {build}) sees no usable GPU although the NVIDIA driver "
        f"{driver} (CUDA {driver_cuda}) is present: check CUDA_VISIBLE_DEVICES and the job's GPU request"
    )


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:2])


def resolve_device(spec: str, *, key: str = "train.device") -> torch.device:
    """``auto`` -> cuda if available else cpu; anything else is a torch device string.

    A job never falls back to the CPU silently: ``auto`` stops with the reason when the
    scheduler gave the job GPUs (:func:`gpus_assigned`) that torch cannot use, and ``cuda``
    stops when CUDA is not usable. ``cpu`` is always taken as asked.
    """
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        given = gpus_assigned()
        if given is not None:
            raise DeviceError(
                f"config key {key!r} is auto and this job was given GPUs ({given}), but torch cannot "
                f"use them: {cuda_problem()}. Set {key}: cpu to run on the CPU on purpose."
            )
        return torch.device("cpu")
    try:
        dev = torch.device(spec)
    except RuntimeError as e:
        raise ValueError(f"config key {key!r}: {spec!r} is not a torch device ({e})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"config key {key!r} is {spec!r} but CUDA is not usable: {cuda_problem()}")
    return dev


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: bf16 on CUDA where supported, else fp16; None (fp32) on CPU or when off."""
    if amp == "off" or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Use ``threads`` intra-op threads in the block (``None`` or 0: leave torch's setting)."""
    old = torch.get_num_threads()
    try:
        if threads:
            torch.set_num_threads(int(threads))
        yield
    finally:
        torch.set_num_threads(old)


def _set_deterministic(mode: bool, warn_only: bool) -> None:
    """``torch.use_deterministic_algorithms`` without importing TorchInductor when nothing has.

    The public call also sets TorchInductor's ``deterministic`` option, importing
    the compiler stack to do so (about a second per process, paid by every
    training job); sertools compiles nothing, so unless some code has imported
    TorchInductor already, setting torch's global flag is the whole effect.
    """
    if "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
    else:
        torch._C._set_deterministic_algorithms(mode, warn_only=warn_only)


@contextmanager
def torch_settings(deterministic: bool, threads: int | None, device: torch.device) -> Iterator[None]:
    """Set determinism flags and thread count for the block; restore them afterwards."""
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    old_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    # a property that torch gives the module's class at run time; its stubs do not declare it
    deterministic_flags: Any = torch.utils.deterministic
    old_fill = deterministic_flags.fill_uninitialized_memory
    if device.type == "cuda" and deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS determinism
    try:
        # CUDA: warn instead of failing on an op without a deterministic kernel (CPU is exact)
        _set_deterministic(deterministic, warn_only=device.type == "cuda")
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = not deterministic
        # Deterministic mode also NaN-fills every torch.empty (a debugging aid that
        # cost ~5% of a CPU step); no kernel used here reads uninitialised memory.
        deterministic_flags.fill_uninitialized_memory = False
        with torch_threads(threads):
            yield
    finally:
        _set_deterministic(old_det, warn_only=old_warn_only)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn
        deterministic_flags.fill_uninitialized_memory = old_fill

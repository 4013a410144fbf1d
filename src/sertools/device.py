"""Where and how torch computes: device, mixed precision, determinism and threads.

``train.device: auto`` takes CUDA when it is available, else the CPU.
``train.amp: auto`` runs the forward pass under autocast on CUDA only: bf16
where the GPU supports it, else fp16 (training then scales the loss with a
GradScaler); on the CPU everything is fp32. Losses are always computed in fp32.
Training runs with deterministic algorithms (``train.deterministic``): on the
CPU results are then bit-identical from run to run (docs/training.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def resolve_device(spec: str) -> torch.device:
    """``auto`` -> cuda if available else cpu; anything else is a torch device string."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except RuntimeError as e:
        raise ValueError(f"config key 'train.device': {spec!r} is not a torch device ({e})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"config key 'train.device': {spec!r} requested but CUDA is not available")
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


@contextmanager
def torch_settings(deterministic: bool, threads: int | None, device: torch.device) -> Iterator[None]:
    """Set determinism flags and thread count for the block; restore them afterwards."""
    old_det = torch.are_deterministic_algorithms_enabled()
    old_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    old_fill = torch.utils.deterministic.fill_uninitialized_memory
    if device.type == "cuda" and deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS determinism
    try:
        # CUDA: warn instead of failing on an op without a deterministic kernel (CPU is exact)
        torch.use_deterministic_algorithms(deterministic, warn_only=device.type == "cuda")
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = not deterministic
        # Deterministic mode also NaN-fills every torch.empty (a debugging aid that
        # cost ~5% of a CPU step); no kernel used here reads uninitialised memory.
        torch.utils.deterministic.fill_uninitialized_memory = False
        with torch_threads(threads):
            yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn
        torch.utils.deterministic.fill_uninitialized_memory = old_fill

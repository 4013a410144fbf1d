"""Checkpoints as safetensors files with JSON metadata in the header; never pickle.

A checkpoint is one ``.safetensors`` file:

* tensors: flat ``name -> tensor`` map (model weights under ``model.``,
  optimizer moments under ``optim.<name>.``, RNG states under ``rng.``, ...);
* header metadata (str -> str): ``sertools.format`` (the marker
  ``sertools-checkpoint``), ``sertools.format_version``, ``sertools.kind``
  (``best`` or ``resume``), ``sertools.meta`` (a JSON document with everything
  that is not a tensor) and ``sertools.sha256`` (a digest of every tensor's
  name, dtype, shape and bytes, so flipped bits in the data are caught too).

Files are written through :func:`sertools.io.atomic_path`, so a reader sees the
old file or the new one, never a torn one. Loading anything else (a pickle, a
truncated file, a safetensors file without our marker, a digest mismatch)
raises :class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sertools.io import atomic_path

FORMAT = "sertools-checkpoint"
VERSION = 1
KINDS = ("best", "resume")
_K_FORMAT = "sertools.format"
_K_VERSION = "sertools.format_version"
_K_KIND = "sertools.kind"
_K_META = "sertools.meta"
_K_DIGEST = "sertools.sha256"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupted, truncated, foreign or of the wrong kind."""


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: tensors, JSON metadata and kind."""

    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]
    kind: str
    path: Path


def _digest(tensors: Mapping[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        flat = t.detach().reshape(-1).contiguous()
        if flat.numel():
            h.update(flat.view(torch.uint8).numpy())
    return h.hexdigest()


def _prepare(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous, no two tensors sharing storage (safetensors refuses shared storage)."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"checkpoint entry {name!r} is a {type(t).__name__}, not a tensor")
        t = t.detach().to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr()
        if t.numel() and ptr in seen:
            t = t.clone()
        elif t.numel():
            seen.add(ptr)
        out[name] = t
    return out


def save(path: str | Path, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any], kind: str) -> None:
    """Write a checkpoint atomically. ``meta`` must be JSON-serialisable."""
    from safetensors.torch import save_file

    if kind not in KINDS:
        raise ValueError(f"checkpoint kind must be one of {KINDS}, got {kind!r}")
    prepared = _prepare(tensors)
    header = {
        _K_FORMAT: FORMAT,
        _K_VERSION: str(VERSION),
        _K_KIND: kind,
        _K_META: json.dumps(meta, sort_keys=True),
        _K_DIGEST: _digest(prepared),
    }
    with atomic_path(path) as tmp:
        save_file(prepared, str(tmp), metadata=header)


def _header(path: Path, kind: str | None) -> tuple[dict[str, str], Any]:
    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        handle = safe_open(str(path), framework="pt", device="cpu")
    except Exception as e:  # SafetensorError, OSError: not a (complete) safetensors file
        raise CheckpointError(
            f"{path}: not a readable safetensors checkpoint (corrupted, truncated or foreign): {e}"
        ) from None
    header = handle.metadata() or {}
    if header.get(_K_FORMAT) != FORMAT:
        raise CheckpointError(
            f"{path}: safetensors file without the {FORMAT!r} marker; not a sertools checkpoint"
        )
    try:
        version = int(header.get(_K_VERSION, ""))
    except ValueError:
        raise CheckpointError(f"{path}: bad format version {header.get(_K_VERSION)!r}") from None
    if version > VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is newer than this sertools ({VERSION})"
        )
    if kind is not None and header.get(_K_KIND) != kind:
        raise CheckpointError(f"{path}: expected a {kind!r} checkpoint, found {header.get(_K_KIND)!r}")
    return header, handle


def _meta(path: Path, header: Mapping[str, str]) -> dict[str, Any]:
    try:
        meta = json.loads(header[_K_META])
    except (KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: checkpoint metadata is missing or not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: checkpoint metadata is not a JSON object")
    return meta


def read_meta(path: str | Path, kind: str | None = None) -> dict[str, Any]:
    """The JSON metadata of a checkpoint (header only; tensor data is not read or verified)."""
    path = Path(path)
    header, _ = _header(path, kind)
    return _meta(path, header)


def load(path: str | Path, kind: str | None = None, device: str | torch.device = "cpu") -> Checkpoint:
    """Read and verify a checkpoint; ``kind`` (if given) must match the stored kind."""
    path = Path(path)
    header, handle = _header(path, kind)
    meta = _meta(path, header)
    try:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - not a dict
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read tensor data ({e})") from None
    if _digest(tensors) != header.get(_K_DIGEST):
        raise CheckpointError(f"{path}: tensor data does not match the stored digest (corrupted file)")
    if str(device) != "cpu":
        tensors = {k: v.to(device) for k, v in tensors.items()}
    return Checkpoint(tensors=tensors, meta=meta, kind=header[_K_KIND], path=path)


# -- helpers to put structured state into the flat tensor map -----------------------------


def with_prefix(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """``{prefix + name: tensor}``."""
    return {prefix + k: v for k, v in tensors.items()}


def strip_prefix(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Entries whose name starts with ``prefix``, with the prefix removed."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def model_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a module's state_dict (safe to keep while training goes on)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _jsonable(value: Any, where: str) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, torch.Tensor):
        raise TypeError(f"{where}: unexpected tensor in a JSON field")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"{where}: cannot store a {type(value).__name__} in checkpoint metadata")


def flatten_optimizer(
    state_dict: Mapping[str, Any], prefix: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors (named ``prefix + 'state.<pid>.<key>'``) and JSON.

    Works for any torch optimizer whose per-parameter state holds tensors and
    plain scalars (AdamW: ``step``, ``exp_avg``, ``exp_avg_sq``).
    """
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    keys: dict[str, list[str]] = {}
    for pid, pstate in state_dict["state"].items():
        keys[str(pid)] = sorted(pstate)
        for k, v in pstate.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{prefix}state.{pid}.{k}"] = v
            else:
                scalars.setdefault(str(pid), {})[k] = _jsonable(v, f"optimizer state {pid}.{k}")
    groups = [
        {k: _jsonable(v, f"optimizer param_group {k}") for k, v in g.items()}
        for g in state_dict["param_groups"]
    ]
    return tensors, {"param_groups": groups, "state_keys": keys, "state_scalars": scalars}


def unflatten_optimizer(
    tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any], prefix: str
) -> dict[str, Any]:
    """Inverse of :func:`flatten_optimizer`: a dict for ``optimizer.load_state_dict``."""
    state: dict[int, dict[str, Any]] = {}
    try:
        for pid, keys in meta["state_keys"].items():
            entry: dict[str, Any] = {}
            for k in keys:
                name = f"{prefix}state.{pid}.{k}"
                if name in tensors:
                    entry[k] = tensors[name]
                else:
                    entry[k] = meta["state_scalars"][pid][k]
            state[int(pid)] = entry
        groups = []
        for g in meta["param_groups"]:
            # JSON turned tuples (AdamW betas) into lists; params stays a list
            groups.append(
                {k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
            )
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"optimizer state {prefix!r} is incomplete in the checkpoint ({e!r})") from None
    return {"state": state, "param_groups": groups}


def capture_rng(
    generator: np.random.Generator | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Torch (CPU and CUDA), numpy ``generator`` and python ``random`` states."""
    tensors = {"rng.torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.torch_cuda.{i}"] = s
    version, internal, gauss = random.getstate()
    meta: dict[str, Any] = {"python_random": [version, list(internal), gauss]}
    if generator is not None:
        meta["numpy"] = generator.bit_generator.state
    return tensors, meta


def restore_rng(
    tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any], generator: np.random.Generator | None = None
) -> None:
    """Restore what :func:`capture_rng` captured (CUDA states only when CUDA is in use)."""
    if "rng.torch_cpu" in tensors:
        torch.set_rng_state(tensors["rng.torch_cpu"].to(torch.uint8))
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.torch_cuda.")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    if "python_random" in meta:
        version, internal, gauss = meta["python_random"]
        random.setstate((version, tuple(internal), gauss))
    if generator is not None and "numpy" in meta:
        generator.bit_generator.state = meta["numpy"]

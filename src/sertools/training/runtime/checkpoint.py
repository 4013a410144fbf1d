"""Checkpoints as safetensors files with JSON metadata in the header; never pickle.

A checkpoint is one ``.safetensors`` file:

* tensors: a flat ``name -> tensor`` map (a ``best`` checkpoint holds the model
  weights under ``model.``; what a ``resume`` checkpoint holds is decided by
  :mod:`sertools.training.runtime.recoverables`);
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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
            # an ndarray is a buffer; numpy's stubs declare __buffer__ only for Python >= 3.12
            h.update(flat.view(torch.uint8).numpy())  # type: ignore[arg-type]
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


# -- naming helpers for the flat tensor map ------------------------------------------------


def with_prefix(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """``{prefix + name: tensor}``."""
    return {prefix + k: v for k, v in tensors.items()}


def strip_prefix(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Entries whose name starts with ``prefix``, with the prefix removed."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def model_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a module's state_dict (safe to keep while training goes on)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}

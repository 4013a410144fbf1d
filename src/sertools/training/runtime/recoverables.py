"""What a resume checkpoint holds: one registry of named recoverable objects.

A training run is recoverable when every object whose state carries from one
epoch to the next can be written into the resume checkpoint and read back.
:class:`Recoverables` lists those objects by name, once; :meth:`Recoverables.save`
and :meth:`Recoverables.restore` walk the same list, so what is saved is by
construction what is restored. Each kind of object has one pair of hooks:

* ``torch.nn.Module``: its ``state_dict()`` (tensors);
* ``torch.optim.Optimizer``: tensors (AdamW's moments) plus JSON (step counts,
  parameter groups), see :func:`flatten_optimizer`;
* an object with ``save_state()`` / ``load_state(tensors, meta)`` (the
  :class:`Recoverable` protocol: the run state, RNG states, ...);
* any other object with a JSON ``state_dict()`` / ``load_state_dict()``
  (NewBob schedulers, the AMP GradScaler).

In the checkpoint, entry ``name``'s tensors are named ``<name>.<tensor>`` and
its JSON is ``meta["recoverables"][name]``. Restoring walks the entries in the
order they were registered, so an entry may rely on one registered before it
(the run state reads the model's weights when the best weights are the current
ones). An entry missing from the checkpoint, or a state that does not fit its
object, raises (``KeyError``, ``ValueError``, ``RuntimeError``, ...); the
caller then starts afresh.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from sertools.training.runtime import checkpoint

META_KEY = "recoverables"


@runtime_checkable
class Recoverable(Protocol):
    """An object that writes its own state as (tensors, JSON) and reads it back."""

    def save_state(self) -> tuple[dict[str, torch.Tensor], Any]: ...

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Any) -> None: ...


# ----------------------------------------------------------------------------- the registry


class Recoverables:
    """Named objects whose states together make up a resume checkpoint (see the module docstring)."""

    def __init__(self, objects: Mapping[str, Any]) -> None:
        for name in objects:
            nested = [other for other in objects if other.startswith(f"{name}.")]
            if nested:  # their tensors would share a prefix
                raise ValueError(f"recoverable {name!r} is a prefix of {nested}")
        self.entries: dict[str, Recoverable] = {name: as_recoverable(obj) for name, obj in objects.items()}

    def save(self, path: str | Path, meta: Mapping[str, Any]) -> None:
        """Write every entry's state, plus ``meta``, to the resume checkpoint ``path`` (atomically)."""
        tensors: dict[str, torch.Tensor] = {}
        states: dict[str, Any] = {}
        for name, entry in self.entries.items():
            entry_tensors, states[name] = entry.save_state()
            tensors.update(checkpoint.with_prefix(entry_tensors, f"{name}."))
        checkpoint.save(path, tensors, {**meta, META_KEY: states}, "resume")

    def restore(self, saved: checkpoint.Checkpoint) -> None:
        """Load every entry's state from a loaded resume checkpoint, in registration order."""
        states = saved.meta[META_KEY]
        for name, entry in self.entries.items():
            entry.load_state(checkpoint.strip_prefix(saved.tensors, f"{name}."), states[name])


def as_recoverable(obj: Any) -> Recoverable:
    """The hooks that save and restore ``obj`` (see the module docstring for the kinds)."""
    if isinstance(obj, torch.nn.Module):
        return ModuleState(obj)
    if isinstance(obj, torch.optim.Optimizer):
        return OptimizerState(obj)
    if isinstance(obj, Recoverable):
        return obj
    if hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict"):
        return JsonState(obj)
    raise TypeError(f"cannot save or restore a {type(obj).__name__} in a checkpoint")


# ----------------------------------------------------------------------------- hooks per kind


class ModuleState:
    """A module's ``state_dict`` (CPU copies); restored strictly (every name must be there)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module

    def save_state(self) -> tuple[dict[str, torch.Tensor], Any]:
        return checkpoint.model_state(self.module), None

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Any) -> None:
        self.module.load_state_dict(dict(tensors), strict=True)


class OptimizerState:
    """An optimizer's ``state_dict`` split into tensors and JSON by :func:`flatten_optimizer`."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    def save_state(self) -> tuple[dict[str, torch.Tensor], Any]:
        return flatten_optimizer(self.optimizer.state_dict(), "")

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Any) -> None:
        self.optimizer.load_state_dict(unflatten_optimizer(tensors, meta, ""))


class JsonState:
    """An object whose ``state_dict()`` is JSON (no tensors)."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def save_state(self) -> tuple[dict[str, torch.Tensor], Any]:
        return {}, self.obj.state_dict()

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Any) -> None:
        self.obj.load_state_dict(meta)


class RngState:
    """The torch (CPU and CUDA) and python ``random`` generators, and optionally a numpy one."""

    def __init__(self, generator: np.random.Generator | None = None) -> None:
        self.generator = generator

    def save_state(self) -> tuple[dict[str, torch.Tensor], Any]:
        return capture_rng(self.generator)

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Any) -> None:
        restore_rng(tensors, meta, self.generator)


# ----------------------------------------------------------------------------- optimizers and RNGs


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
        raise checkpoint.CheckpointError(
            f"optimizer state {prefix!r} is incomplete in the checkpoint ({e!r})"
        ) from None
    return {"state": state, "param_groups": groups}


def capture_rng(
    generator: np.random.Generator | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Torch (CPU and CUDA), numpy ``generator`` and python ``random`` states."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda.{i}"] = s
    version, internal, gauss = random.getstate()
    meta: dict[str, Any] = {"python_random": [version, list(internal), gauss]}
    if generator is not None:
        meta["numpy"] = generator.bit_generator.state
    return tensors, meta


def restore_rng(
    tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any], generator: np.random.Generator | None = None
) -> None:
    """Restore what :func:`capture_rng` captured (CUDA states only when CUDA is in use)."""
    if "torch_cpu" in tensors:
        torch.set_rng_state(tensors["torch_cpu"].to(torch.uint8))
    cuda_names = sorted(
        (k for k in tensors if k.startswith("torch_cuda.")), key=lambda k: int(k.split(".")[1])
    )
    cuda = [tensors[k] for k in cuda_names]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    if "python_random" in meta:
        version, internal, gauss = meta["python_random"]
        random.setstate((version, tuple(internal), gauss))
    if generator is not None and "numpy" in meta:
        generator.bit_generator.state = meta["numpy"]

"""Data-parallel training across processes (torch DDP), launched by torchrun or srun.

One training normally runs in one process on one device; Snakemake and SLURM
parallelise over (variant, seed) jobs. When a single training must span several
GPUs, start the same ``sertools train`` command once per device:

    torchrun --nproc-per-node 4 -m sertools.cli train ...          # one node
    srun --ntasks 8 --gpus-per-task 1 sertools train ...           # SLURM, any nodes

Each process reads its rank from the launcher's environment (torchrun: ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``; srun: ``SLURM_PROCID``, ``SLURM_NTASKS``,
``SLURM_LOCALID``). The rendezvous address is ``MASTER_ADDR``/``MASTER_PORT``
(torchrun sets them; under srun they default to the first host of
``SLURM_JOB_NODELIST`` and a port derived from the job id).

Semantics (docs/training.md, "Data parallelism"): every rank builds the same model and the
same epoch plan of length-bucketed batches; rank r trains on batches r, r + W,
r + 2W, ... (W = world size; an epoch's last ``len % W`` batches are left out and
counted in the log), and DDP averages the gradients. So W ranks with batch B
take the optimiser steps of one process with batch B and ``grad_accum`` x W,
which a test checks. Rank 0 validates, decides (NewBob, early stopping) and
writes every file; the others receive its decisions.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    """This process's place in a data-parallel training (world_size 1: not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def context_from_env(env: Mapping[str, str] | None = None) -> DistContext:
    """Rank, world size and local rank from torchrun's or srun's environment variables."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" in env:
        return DistContext(int(env.get("RANK", 0)), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)))
    if int(env.get("SLURM_NTASKS", "1")) > 1 and "SLURM_PROCID" in env:
        return DistContext(
            int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", 0))
        )
    return DistContext()


def rendezvous_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``MASTER_ADDR``/``MASTER_PORT`` to set when the launcher (srun) did not set them."""
    env = os.environ if env is None else env
    out: dict[str, str] = {}
    if "MASTER_ADDR" not in env:
        nodes = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
        out["MASTER_ADDR"] = _first_host(nodes) if nodes else "127.0.0.1"
    if "MASTER_PORT" not in env:
        out["MASTER_PORT"] = str(20000 + int(env.get("SLURM_JOB_ID", "0")) % 20000)
    return out


def _first_host(nodelist: str) -> str:
    try:
        hosts = subprocess.run(
            ["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        hosts = []
    return hosts[0] if hosts else first_host_of(nodelist)


def first_host_of(nodelist: str) -> str:
    """First host of a SLURM node list without scontrol: ``gpu[07-09,12],cpu1`` -> ``gpu07``."""
    prefix, bracket, ranges = nodelist.partition("[")
    if not bracket or "," in prefix:  # no range, or the first host comes before it
        return prefix.split(",")[0]
    return prefix + ranges.split(",")[0].split("-")[0]


def init(ctx: DistContext, device: torch.device) -> None:
    """Join the process group (NCCL on CUDA, Gloo on CPU)."""
    if not ctx.enabled or dist.is_initialized():
        return
    os.environ.update(rendezvous_env())
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, rank=ctx.rank, world_size=ctx.world_size)


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


@contextmanager
def session(ctx: DistContext, device: torch.device) -> Iterator[None]:
    """Be part of the process group for the block (nothing to do when not distributed)."""
    init(ctx, device)
    try:
        yield
    finally:
        shutdown(ctx)


def device_for(ctx: DistContext, device: torch.device) -> torch.device:
    """One GPU per rank: ``cuda:<local rank>``; CPU ranks share the CPU."""
    if ctx.enabled and device.type == "cuda":
        return torch.device("cuda", ctx.local_rank)
    return device


def shard(batches: Sequence[T], ctx: DistContext) -> tuple[list[T], int]:
    """This rank's batches (every W-th from its rank) and how many the epoch leaves out.

    All ranks must take the same number of steps, or DDP's gradient all-reduce
    would wait forever; so the last ``len(batches) % W`` batches are left out.
    """
    if not ctx.enabled:
        return list(batches), 0
    usable = len(batches) - len(batches) % ctx.world_size
    return list(batches[ctx.rank : usable : ctx.world_size]), len(batches) - usable


def all_finite(value: torch.Tensor, ctx: DistContext) -> bool:
    """True if ``value`` is finite on every rank (a collective: every rank must call it)."""
    flag = torch.isfinite(value.detach()).all().to(torch.float32).reshape(1)
    if ctx.enabled:
        flag = flag.to(_comm_device(value.device))
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item() > 0)


def sum_across(values: Sequence[float], ctx: DistContext, device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over ranks (float64)."""
    t = torch.tensor(list(values), dtype=torch.float64)
    if ctx.enabled:
        t = t.to(_comm_device(device))
        dist.all_reduce(t)
    return [float(x) for x in t.cpu()]


def broadcast(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def _comm_device(device: torch.device) -> torch.device:
    # NCCL needs CUDA tensors; Gloo takes CPU tensors
    return device if dist.get_backend() == "nccl" else torch.device("cpu")

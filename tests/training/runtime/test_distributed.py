"""Data-parallel training: launcher environments, sharding, and DDP on 2 CPU ranks (Gloo)
taking the same steps as one process with twice the gradient accumulation."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from sertools import config
from sertools.training import train
from sertools.training.runtime import checkpoint, distributed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/training: the tiny corpus
from tinyrun import TINY_MODEL, TRAIN, make_corpus

D = distributed.DistContext


def test_context_from_torchrun_srun_or_neither() -> None:
    assert distributed.context_from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == D(3, 4, 1)
    srun = {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1"}
    assert distributed.context_from_env(srun) == D(5, 8, 1)
    # one task (every Snakemake SLURM job): not distributed
    assert not distributed.context_from_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}).enabled
    assert distributed.context_from_env({}) == D()


def test_rendezvous_defaults_under_srun() -> None:
    env = distributed.rendezvous_env({"SLURM_JOB_NODELIST": "gpu[07-09,12],cpu1", "SLURM_JOB_ID": "123456"})
    assert env["MASTER_PORT"] == str(20000 + 123456 % 20000)
    assert env["MASTER_ADDR"] == "gpu07"  # by scontrol where installed, else by first_host_of
    assert distributed.first_host_of("gpu[07-09,12],cpu1") == "gpu07"
    assert distributed.first_host_of("node3,node4") == "node3"
    assert distributed.first_host_of("cpu1,gpu[07-09]") == "cpu1"
    assert distributed.rendezvous_env({"MASTER_ADDR": "a", "MASTER_PORT": "1"}) == {}


def test_shard_gives_equal_step_counts_and_counts_what_is_left_out() -> None:
    batches = list(range(7))
    assert distributed.shard(batches, D(0, 2, 0)) == ([0, 2, 4], 1)
    assert distributed.shard(batches, D(1, 2, 0)) == ([1, 3, 5], 1)
    assert distributed.shard(batches, D()) == (batches, 0)


_RANK = """
import json, sys
from sertools.training import train
a = json.loads(sys.argv[1])
train.from_config(a["labels"], a["manifest"], a["out"], a["cfg"], "dist_primary_kl", 3, 1)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cfg(**train: object) -> dict:
    model = {**TINY_MODEL, "head_dropout": 0.0, "tiny": {**TINY_MODEL["tiny"], "dropout": 0.0}}
    return config.resolve({"model": model, "train": {**TRAIN, "max_epochs": 2, **train}})


#: the release's gradual unfreezing, shrunk to the tiny backbone's two layers: the trainable set
#: changes between the epochs, and DDP must follow it
UNFREEZE = [{"epoch": 1, "layers": 1, "lr_factor": 1.0}, {"epoch": 2, "layers": 2, "lr_factor": 0.9}]


@pytest.mark.workflow
@pytest.mark.parametrize("unfreeze", [None, UNFREEZE], ids=["all_layers", "gradual_unfreezing"])
def test_two_gloo_ranks_match_one_process_with_double_accumulation(
    tmp_path: Path, unfreeze: list | None
) -> None:
    labels, manifest = make_corpus(tmp_path / "corpus", n=48)  # an even number of Train batches
    args = {
        "labels": str(labels),
        "manifest": str(manifest),
        "out": str(tmp_path / "ddp"),
        "cfg": _cfg(grad_accum=1, unfreeze=unfreeze),
    }
    env = {**os.environ, "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RANK, json.dumps(args)],
            env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(e[-3000:] for e in errs)
    single = train.from_config(
        labels, manifest, tmp_path / "single", _cfg(grad_accum=2, unfreeze=unfreeze), "dist_primary_kl", 3, 1
    )
    run = json.loads((tmp_path / "ddp" / "run.json").read_text())
    assert run["world_size"] == 2 and single["world_size"] == 1
    a = checkpoint.load(tmp_path / "ddp" / "best.safetensors").tensors
    b = checkpoint.load(tmp_path / "single" / "best.safetensors").tensors
    init = train.from_config(
        labels,
        manifest,
        tmp_path / "init",
        _cfg(max_epochs=1, lr_backbone=1e-12, lr_heads=1e-12, unfreeze=unfreeze),
        "dist_primary_kl",
        3,
        1,
    )
    assert init["epochs_run"] == 1
    b0 = checkpoint.load(tmp_path / "init" / "best.safetensors").tensors
    assert a.keys() == b.keys()
    floats = [k for k in a if a[k].is_floating_point()]
    assert all(torch.equal(a[k], b[k]) for k in a if k not in floats)
    worst = max(float((a[k] - b[k]).abs().max()) for k in floats)
    assert worst < 1e-4, worst  # the same steps, up to the order of float additions
    moved = max(float((a[k] - b0[k]).abs().max()) for k in floats)
    assert moved > 100 * worst, (moved, worst)  # and training really changed the weights
    la, lb = (pd.read_csv(tmp_path / d / "train_log.csv") for d in ("ddp", "single"))
    assert (la["batches_left_out"] == 0).all() and (2 * la["batches"] == lb["batches"]).all()
    pd.testing.assert_series_equal(la["train_loss"], lb["train_loss"], atol=1e-4, rtol=0)
    pd.testing.assert_series_equal(la["val_loss"], lb["val_loss"], atol=1e-4, rtol=0)
    if unfreeze is not None:  # the schedule ran: one layer, then two
        assert la["trainable_layers"].tolist() == lb["trainable_layers"].tolist() == [1, 2]

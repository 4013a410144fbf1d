"""The training stage: train the multitask model on one supervision variant with one seed.

The model is a backbone fine-tuned with its heads, or (``model.mode: frozen``)
a head trained on cached features of a frozen upstream. One epoch of either
is read in four files, top to bottom: this one (entry points, and
:func:`fit`, which runs the epochs), :mod:`sertools.training.loop` (one
epoch), :mod:`sertools.training.optimisation` (what updates the model) and
:mod:`sertools.training.state` (what is decided after each epoch). The
machinery that makes a run resumable, distributed and traceable is in
:mod:`sertools.training.runtime`.

Entry points:

* :func:`run` - the workflow's ``train`` and ``train_head`` rules: ``inputs``
  (``labels``, ``manifest``; a frozen-upstream variant also ``features_Train``
  and ``features_Development``), ``outputs`` (``best``, ``log_csv``, ``run``) and the rule's
  params as keywords;
* :func:`from_config` - the command line and tests: a whole resolved config,
  a variant name and a run directory;
* :func:`fit` - the training itself, top to bottom.

A run writes, next to ``run.json``: ``config.yaml``, ``env.json``,
``train_log.csv``, ``best.safetensors`` and ``resume/last.safetensors``
(:mod:`sertools.training.runtime.outputs`). It can be killed at any moment: rerun, it
resumes from the last completed epoch and ends with the same weights as an
uninterrupted run (docs/training.md, "Resume"). A finished run whose config
hash matches is not retrained: its outputs are rewritten from the checkpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from sertools import config as config_mod
from sertools import splits
from sertools.classes import MSP_PODCAST
from sertools.data import epoch_pool
from sertools.device import resolve_device, torch_settings
from sertools.features import store
from sertools.io import write_json
from sertools.model import backbone
from sertools.training.data import TrainingData, WaveformStats, load_training_data
from sertools.training.loop import Setup, run_epoch, write_best
from sertools.training.optimisation import Optimisation, build_optimisation
from sertools.training.runtime import distributed, provenance, tensorboard
from sertools.training.runtime.job import Job, make_job
from sertools.training.runtime.outputs import RunFiles, outputs_in, read_resume, write_config, write_log
from sertools.training.runtime.recoverables import Recoverables, RngState
from sertools.training.sample_weights import SampleWeighting
from sertools.training.state import LogRow, RunState

log = logging.getLogger(__name__)


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    model: Mapping[str, Any],
    train: Mapping[str, Any],
    variant: Mapping[str, Any],
    variant_name: str,
    seed: int,
    threads: int | None = None,
    stop_after_epochs: int | None = None,
) -> dict[str, Any]:
    """Train ``variant_name`` with ``seed``; returns the ``run.json`` summary.

    ``model``: the config's model section; ``train``: the train section with
    this variant's overrides applied (:func:`sertools.config.variant_train`);
    ``variant``: the variant's section (its own ``train`` key is not read
    again). ``threads``: the job's thread count, used when ``train.num_threads``
    is null. ``stop_after_epochs`` (tests): return right after that epoch's
    checkpoint, as if the job had been killed; not part of the config hash.
    """
    ctx = distributed.context_from_env()
    device = distributed.device_for(ctx, resolve_device(train["device"]))
    threads = train.get("num_threads") or threads
    with torch_settings(bool(train["deterministic"]), threads, device), distributed.session(ctx, device):
        features = store.paths_from_inputs(inputs)
        job = make_job(
            model, train, variant, variant_name, seed, inputs["labels"], inputs["manifest"], features
        )
        files = RunFiles.from_outputs(outputs)
        return fit(job, inputs["labels"], inputs["manifest"], files, device, ctx, stop_after_epochs, features)


def from_config(
    labels: str | Path,
    manifest: str | Path,
    out_dir: str | Path,
    cfg: Mapping[str, Any],
    variant: str,
    seed: int,
    threads: int | None = None,
    *,
    stop_after_epochs: int | None = None,
    features_dir: str | Path | None = None,
) -> dict[str, Any]:
    """:func:`run` with the sections of a resolved config and the run directory ``out_dir``.

    ``features_dir``: the directory of the upstream's ``<split>.safetensors``
    files (a frozen-upstream variant).
    """
    if variant not in cfg["variants"]:
        raise ValueError(f"unknown variant {variant!r}; configured: {sorted(cfg['variants'])}")
    inputs: dict[str, Any] = {"labels": labels, "manifest": manifest}
    if features_dir is not None:
        inputs.update(store.input_paths(features_dir, (splits.TRAIN, splits.DEVELOPMENT)))
    return run(
        inputs,
        outputs_in(out_dir),
        model=config_mod.variant_model(cfg, variant),
        train=config_mod.variant_train(cfg, variant),
        variant=cfg["variants"][variant],
        variant_name=variant,
        seed=seed,
        threads=threads,
        stop_after_epochs=stop_after_epochs,
    )


def fit(
    job: Job,
    labels: str | Path,
    manifest: str | Path,
    files: RunFiles,
    device: torch.device,
    ctx: distributed.DistContext,
    stop_after_epochs: int | None = None,
    features: Mapping[str, str | Path] | None = None,
) -> dict[str, Any]:
    """Train ``job``, resuming from its checkpoint if there is one; returns the summary.

    ``features``: split -> features file, for a frozen-upstream job.
    """
    started = time.monotonic()
    files.prepare(ctx)
    data = load_training_data(labels, manifest, job, device, features)
    optim, state, stats, resumed_from = resume_or_start(job, data, files, device, ctx)
    board = tensorboard.open_log(
        bool(job.train.get("tensorboard")) and ctx.is_main, files.tensorboard, state.log_rows
    )
    setup = Setup(
        job=job,
        data=data,
        optim=optim,
        sample_weighting=SampleWeighting.from_config(job.variant.get("entropy_curriculum")),
        files=files,
        resume=recoverables(optim, state, stats),
        best_meta=best_meta(job, optim, data, stats),
        device=device,
        ctx=ctx,
        board=board,
    )
    try:
        if resumed_from is not None:
            rewrite_outputs(setup, state)
        if ctx.is_main:
            write_description(job, files, device)
        announce_epoch_pool(job)
        if not run_epochs(setup, state, stop_after_epochs):
            return {"interrupted": True, "epochs_run": state.epochs_done, "config_hash": job.config_hash}
    finally:
        if board is not None:
            board.close()
    summary = summarise(setup, state, resumed_from, time.monotonic() - started)
    if ctx.is_main:
        write_json(files.run, summary)
    distributed.barrier(ctx)  # no rank leaves before rank 0's files exist
    log.info(
        "done: best epoch %s, %s = %.6g, %d epochs",
        state.best_epoch,
        state.rules.selection_metric,
        state.best_metric,
        state.epochs_done,
    )
    return summary


def run_epochs(setup: Setup, state: RunState, stop_after_epochs: int | None) -> bool:
    """The epochs left to run; False when ``stop_after_epochs`` stopped them before the end."""
    while not state.finished and state.epochs_done < setup.job.max_epochs:
        run_epoch(setup, state)
        if stop_after_epochs is not None and state.epochs_done >= stop_after_epochs and not state.finished:
            log.warning(
                "stopping after epoch %d as requested (stop_after_epochs); rerun to resume", state.epochs_done
            )
            return False
    return True


def resume_or_start(
    job: Job, data: TrainingData, files: RunFiles, device: torch.device, ctx: distributed.DistContext
) -> tuple[Optimisation, RunState, WaveformStats, int | None]:
    """Model, optimisers and run state restored from this job's checkpoint, else fresh.

    The last item is the epoch the run resumes after (None: a fresh start).
    """
    optim = build_optimisation(job, data.train_targets, device, ctx, data.feature_shape, data.classes)
    data.check_min_length(optim.min_samples)
    saved = read_resume(files.resume, job.config_hash)
    if saved is not None:
        state, stats = RunState.start(job.train, optim.model), WaveformStats()
        try:
            recoverables(optim, state, stats).restore(saved)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            # same configuration but a state that does not fit (e.g. the model code
            # changed): rebuild everything and start over
            log.warning("resume checkpoint %s does not fit this code, starting fresh: %s", files.resume, e)
            optim = build_optimisation(job, data.train_targets, device, ctx, data.feature_shape, data.classes)
        else:
            log.info(
                "resuming from %s after epoch %d (best epoch %s, %s = %.6g)",
                files.resume,
                state.epochs_done,
                state.best_epoch,
                state.rules.selection_metric,
                state.best_metric,
            )
            return optim, state, stats, state.epochs_done
    return optim, RunState.start(job.train, optim.model), WaveformStats.measure(optim.model, data), None


def recoverables(optim: Optimisation, state: RunState, stats: WaveformStats) -> Recoverables:
    """Everything the resume checkpoint holds; the one list both saving and restoring walk."""
    return Recoverables(
        {
            "model": optim.model,  # first: the run state reads the best weights from it
            **{f"optim.{group}": opt for group, opt in optim.optimizers.items()},
            **{f"newbob.{group}": sched for group, sched in state.newbob.items()},
            **({"scaler": optim.scaler} if optim.scaler is not None else {}),
            "waveform_stats": stats,
            "state": state,
            "rng": RngState(),
        }
    )


def rewrite_outputs(setup: Setup, state: RunState) -> None:
    """``best.safetensors`` and ``train_log.csv`` of a resumed run (Snakemake deletes a failed job's outputs)."""
    write_best(setup, state)
    if setup.ctx.is_main:
        write_log(setup.files.log, LogRow, state.log_rows)


def write_description(job: Job, files: RunFiles, device: torch.device) -> None:
    """``config.yaml`` (the job's settings and hash) and ``env.json`` (where and with what it ran)."""
    write_config(files.config, job.config_doc())
    env = provenance.collect(device)
    if not job.frozen:  # a frozen head's upstream is recorded with its features
        env["backbone"] = backbone.identity(job.model)
    write_json(files.env, env)


def best_meta(job: Job, optim: Optimisation, data: TrainingData, stats: WaveformStats) -> dict[str, Any]:
    """The metadata of ``best.safetensors`` apart from the epoch and its metric value.

    Prediction rebuilds the model from ``architecture`` and checks ``sample_rate``. ``classes`` names
    the classes of the model's logits, for a class set other than MSP-Podcast's only: an MSP-Podcast
    (or synthetic) checkpoint stays as it was written before the record, and a checkpoint without it
    predicts the known class set of its outputs (:func:`sertools.inference.bundle.checkpoint_classes`).
    """
    meta = {
        "architecture": optim.model.architecture(),
        "variant": job.variant_name,
        "variant_cfg": dict(job.variant),
        "seed": job.seed,
        "selection_metric": job.train["selection_metric"],
        "waveform_stats": stats.value,
        "sample_rate": data.sample_rate,
        "config_hash": job.config_hash,
    }
    if data.classes != MSP_PODCAST:
        meta["classes"] = list(data.classes.names)
    return meta


def announce_epoch_pool(job: Job) -> None:
    """Say in the log from which epoch the epoch pool is the whole training set."""
    cur = job.curriculum
    if cur["order"] == "none":
        return
    full = epoch_pool.full_epoch(job.max_epochs, cur["full_at"], cur["start_fraction"])
    if full >= job.max_epochs:
        log.warning(
            "the epoch pool never reaches the full training set within %d epochs: NewBob and early stopping never start",
            job.max_epochs,
        )
    else:
        log.info("epoch pool (curriculum): full training set from epoch %d of %d", full + 1, job.max_epochs)


def summarise(setup: Setup, state: RunState, resumed_from: int | None, seconds: float) -> dict[str, Any]:
    """The ``run.json`` summary."""
    job, data, amp = setup.job, setup.data, setup.optim.amp
    return {
        "variant": job.variant_name,
        "seed": job.seed,
        "model": config_mod.model_label(job.model),
        "best_epoch": state.best_epoch,
        "best_metric": state.best_metric,
        "selection_metric": state.rules.selection_metric,
        "epochs_run": state.epochs_done,
        "max_epochs": job.max_epochs,
        "stopped_early": state.stopped_early,
        "total_seconds": round(seconds, 3),
        "train_seconds": round(sum(float(row.seconds) for row in state.log_rows), 3),
        "config_hash": job.config_hash,
        "resumed_from_epoch": resumed_from,
        "device": str(setup.device),
        "amp": None if amp is None else str(amp).replace("torch.", ""),
        "n_train": len(data.train_set),
        "n_dev": len(data.dev_set),
        "labels_without_audio": data.labels_without_audio,
        "world_size": setup.ctx.world_size,
    }

"""One training epoch: plan, learning rates, train, validate, decide, save, log.

:func:`run_epoch` is the whole epoch in order; each step is a function below
it, in the order it runs. What the steps call lives in three more files:
:mod:`sertools.training.optimisation` (the model's updates and the objective),
:mod:`sertools.training.state` (the decisions after validation, and the log
row) and :mod:`sertools.training.train` (which builds the :class:`Setup` and
runs the epochs). An epoch's randomness is a pure function of (seed, epoch)
(:mod:`sertools.training.runtime.seeding`), so a resumed run replays the next
epoch bit-identically on the CPU.

Non-finite values. A batch whose loss is NaN/inf is skipped (no backward) and
counted; so is an optimiser step whose gradient norm is not finite (fp32;
under fp16 the GradScaler handles overflow itself). If more than
:data:`NONFINITE_LIMIT` of an epoch's batches are non-finite, training stops
with :class:`~sertools.training.runtime.errors.TrainingError` naming the epoch and
batch: a few bad batches are survivable noise, more means the run is diverging
and its checkpoints would be meaningless.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from sertools import measures
from sertools.classes import K
from sertools.data import batching, dataset, epoch_pool
from sertools.data import targets as data_targets
from sertools.model.inference import Inferred, autocast, batch_plan, infer, softmax
from sertools.training.data import TrainingData
from sertools.training.optimisation import PARAM_GROUPS, Objective, Optimisation
from sertools.training.runtime import distributed, outputs
from sertools.training.runtime.errors import TrainingError
from sertools.training.runtime.job import Job
from sertools.training.runtime.outputs import RunFiles
from sertools.training.runtime.recoverables import Recoverables
from sertools.training.runtime.seeding import epoch_seed, seed_epoch
from sertools.training.runtime.tensorboard import TensorBoardLog
from sertools.training.sample_weights import SampleWeighting
from sertools.training.state import LogRow, Outcome, RunState

log = logging.getLogger(__name__)

NONFINITE_LIMIT = 0.10  # largest tolerated fraction of non-finite batches per epoch


@dataclass(frozen=True, eq=False)
class Setup:
    """What stays fixed from epoch to epoch of one run (the run state, :class:`RunState`, is what changes)."""

    job: Job
    data: TrainingData
    optim: Optimisation
    sample_weighting: SampleWeighting  # per-sample weights of the categorical loss in training batches
    files: RunFiles
    resume: Recoverables  # the objects the resume checkpoint holds
    best_meta: Mapping[str, Any]  # best.safetensors metadata, apart from the epoch and its metric
    device: torch.device
    ctx: distributed.DistContext
    board: TensorBoardLog | None = None  # the run's TensorBoard log (train.tensorboard, writing rank only)


@dataclass(frozen=True, eq=False)
class EpochPlan:
    """Which utterances an epoch trains on, in which batches."""

    epoch: int  # 0-based
    pool: np.ndarray  # dataset indices the epoch pool allows
    is_full: bool  # the pool is the whole training set
    batches: list[np.ndarray]  # this rank's batches of dataset indices
    left_out: int  # batches left out so that every rank takes the same number of steps


def run_epoch(setup: Setup, state: RunState) -> None:
    """One epoch: plan, learning rates, train, validate, decide, save, log."""
    started = time.monotonic()
    epoch = state.epochs_done  # 0-based index of the epoch being run
    seed_epoch(setup.job.seed, epoch, setup.ctx.rank)
    plan = plan_epoch(setup, epoch)
    lrs = setup.optim.start_epoch(epoch, state.learning_rates())
    train_loss, nonfinite = train_epoch(setup, plan)
    val = distributed.broadcast(validate(setup) if setup.ctx.is_main else None, setup.ctx)
    outcome = state.update(val, plan.is_full)
    row = LogRow(
        epoch=epoch + 1,
        pool_size=len(plan.pool),
        is_full=plan.is_full,
        train_loss=train_loss,
        val_loss=val["val_loss"],
        val_macro_f1=val["val_macro_f1"],
        val_jsd=val["val_jsd"],
        val_kld=val["val_kld"],
        **{PARAM_GROUPS[group]: lr for group, lr in lrs.items()},  # lr_backbone, lr_heads
        trainable_layers=setup.optim.trainable_layers,
        padded_fraction=batching.padded_fraction(setup.data.train_lengths, plan.batches),
        batches=len(plan.batches),
        nonfinite_batches=nonfinite,
        batches_left_out=plan.left_out,
        seconds=round(time.monotonic() - started, 3),
    )
    state.log_rows.append(row)
    save_epoch(setup, state, outcome)
    report_epoch(setup, state, row, outcome)


# ----------------------------------------------------------------------------- plan


def plan_epoch(setup: Setup, epoch: int) -> EpochPlan:
    """The epoch pool of ``epoch``, in length-bucketed (or shuffled) batches, and this rank's share."""
    job, data = setup.job, setup.data
    pool, is_full = epoch_pool.from_config(
        job.curriculum, data.difficulty, data.train_targets.classes, epoch, job.max_epochs, job.seed
    )
    size, seed = int(job.train["batch_size"]), epoch_seed(job.seed, epoch)
    if job.train["batching"] == "shuffled":
        order = batching.shuffled_batches(len(pool), size, seed)
    else:
        order = batching.bucket_batches(
            data.train_lengths[pool], size, int(job.train["bucket_size_multiplier"]), seed
        )
    batches, left_out = distributed.shard([pool[b] for b in order], setup.ctx)
    if left_out:
        log.info(
            "epoch %d: %d batch(es) left out so that %d ranks take equal steps",
            epoch + 1,
            left_out,
            setup.ctx.world_size,
        )
    return EpochPlan(epoch, pool, bool(is_full), batches, left_out)


# ----------------------------------------------------------------------------- train


class NonFiniteCount:
    """Skipped updates of one epoch; more than :data:`NONFINITE_LIMIT` of its batches is fatal."""

    def __init__(self, epoch: int, n_batches: int) -> None:
        self.epoch, self.n_batches, self.count = epoch, n_batches, 0

    def add(self, what: str, batch_index: int) -> None:
        """Count one skipped update (``what`` was non-finite) and say so; raise past the limit."""
        self.count += 1
        log.warning(
            "epoch %d batch %d/%d: non-finite %s; update skipped",
            self.epoch + 1,
            batch_index + 1,
            self.n_batches,
            what,
        )
        if self.count > NONFINITE_LIMIT * self.n_batches:
            raise TrainingError(
                f"epoch {self.epoch + 1}: {self.count} of {self.n_batches} batches were non-finite "
                f"(latest: batch {batch_index + 1}, {what}); more than {NONFINITE_LIMIT:.0%} means the "
                "run diverged. Lower the learning rates, enable grad_clip or check the inputs"
            )


def train_epoch(setup: Setup, plan: EpochPlan) -> tuple[float, int]:
    """Train on this rank's batches; (mean loss per utterance over all ranks, non-finite count)."""
    optim = setup.optim
    optim.forward_model.train()
    setup.data.train_set.set_epoch(plan.epoch)
    optim.zero_grad()
    nonfinite = NonFiniteCount(plan.epoch, len(plan.batches))
    total = count = 0.0
    accumulated = 0
    for i, batch in enumerate(_training_batches(setup, plan)):
        loss = batch_loss(setup, batch, plan.epoch)
        if distributed.all_finite(loss, setup.ctx):  # one decision for all ranks
            optim.backward(loss)
            total += float(loss.detach()) * len(batch.index)
            count += len(batch.index)
            accumulated += 1
        else:
            nonfinite.add("loss", i)
        if optim.ends_accumulation(i, len(plan.batches)):
            if accumulated and not optim.step(accumulated):
                nonfinite.add("gradient norm", i)
            optim.zero_grad()
            accumulated = 0
    total, count = distributed.sum_across([total, count], setup.ctx, setup.device)
    return (total / count if count else float("nan")), nonfinite.count


def _training_batches(setup: Setup, plan: EpochPlan) -> Iterable[dataset.Batch]:
    """The epoch's padded Train batches, read in the plan's order."""
    loader = dataset.iterate_batches(
        setup.data.train_set, plan.batches, setup.optim.min_samples, setup.data.num_workers
    )
    # a progress bar in the job's log (stderr goes there); sparse so logs stay small
    return tqdm(
        loader,
        total=len(plan.batches),
        desc=f"epoch {plan.epoch + 1}",
        unit="batch",
        mininterval=30,
        file=sys.stderr,
    )


def batch_loss(setup: Setup, batch: dataset.Batch, epoch: int) -> torch.Tensor:
    """The objective on one padded batch of the 0-based ``epoch`` (forward pass under the run's autocast;
    the sample weighting, if any, weights the categorical loss)."""
    device, targets = setup.device, setup.data.train_targets
    idx = batch.index.numpy()
    cat = torch.from_numpy(targets.cat[idx]).to(device)
    dim_t = torch.from_numpy(targets.dims[idx]).to(device)
    weights = None
    if setup.sample_weighting.active:
        entropy = torch.from_numpy(setup.data.train_entropy[idx])
        weights = setup.sample_weighting.weights(entropy, epoch + 1).to(device)
    with autocast(device, setup.optim.amp):
        out = setup.optim.forward_model(batch.wave.to(device), batch.lengths.to(device))
    return setup.optim.objective(
        out.logits.float(), out.dims.float(), cat, dim_t, dims_logvar=out.dims_logvar, sample_weights=weights
    )


# ----------------------------------------------------------------------------- validate


def macro_f1(hard: np.ndarray, pred: np.ndarray, k: int = K) -> float:
    """Macro-F1 over the ``k`` classes on utterances with a consensus class (NaN if none)."""
    if not (hard >= 0).any():
        return float("nan")
    return float(measures.f1_scores(measures.confusion_matrix(hard, pred, k)).mean())


def validate(setup: Setup) -> dict[str, float]:
    """Development loss (utterances with a target, no sample weights; :func:`validation_loss`), macro-F1
    under the variant's hard-label scheme, JSD to the primary votes and KLD (nats, release clamping) to the
    variant's targets."""
    data, optim, train = setup.data, setup.optim, setup.job.train
    max_seconds = float(train["max_eval_batch_seconds"])
    plan = batch_plan(train, data.dev_table["file_id"].tolist())
    if plan is None and train["validation_loss"] == "batch_mean":
        plan = batching.eval_batches(np.asarray(data.dev_lengths) / data.dev_set.sample_rate, max_seconds)
    out = infer(
        optim.model,
        data.dev_set,
        data.dev_lengths,
        max_seconds,
        setup.device,
        optim.amp,
        optim.min_samples,
        plan,
    )
    rows, targets = data.dev_targets.rows, data.dev_targets
    probs = softmax(out.logits)
    val_loss = val_kld = float("nan")
    if len(rows):
        if train["validation_loss"] == "whole_set":
            groups = [rows]
        elif plan is not None:  # batch_mean: always planned above
            groups = _target_batches(plan, rows, len(probs))
        else:
            raise RuntimeError("train.validation_loss batch_mean without a batch plan")
        val_loss = validation_loss(optim.objective, out, targets, groups)
        reference = measures.onehot(targets.cat, probs.shape[1]) if targets.is_index else targets.cat
        val_kld = float(measures.kld_paper(reference, probs[rows]).mean())
    f1 = macro_f1(data.dev_hard, probs.argmax(axis=1), data.classes.k)
    jsd = float(measures.jsd(probs, data.dev_primary, base=2.0).mean())
    return {
        "val_loss": val_loss,
        "val_macro_f1": f1,
        "val_jsd": jsd,
        "val_kld": val_kld,
        "one_minus_macro_f1": 1.0 - f1,
    }


def _target_batches(plan: list[np.ndarray], rows: np.ndarray, n: int) -> list[np.ndarray]:
    """The Development items of each validation batch that have a target, batch by batch (empty ones left out)."""
    has_target = np.zeros(n, dtype=bool)
    has_target[rows] = True
    return [b[has_target[b]] for b in plan if has_target[b].any()]


def validation_loss(
    objective: Objective, out: Inferred, targets: data_targets.Targets, groups: list[np.ndarray]
) -> float:
    """Mean over ``groups`` (item indices with a target) of the objective on each group.

    One group of every target row is the loss over the whole set (``train.validation_loss: whole_set``);
    the validation batches give the release's mean of per-batch losses, each with its own batch CCC term
    (``batch_mean``).
    """
    position = np.full(len(out.logits), -1, dtype=np.int64)
    position[targets.rows] = np.arange(len(targets.rows))
    losses = []
    with torch.no_grad():
        for items in groups:
            t = position[items]
            logvar = None if out.dims_logvar is None else torch.from_numpy(out.dims_logvar[items])
            loss = objective(
                torch.from_numpy(out.logits[items]),
                torch.from_numpy(out.dims[items]),
                torch.from_numpy(targets.cat[t]),
                torch.from_numpy(targets.dims[t]),
                dims_logvar=logvar,
            )
            losses.append(float(loss))
    return float(np.mean(losses))


# ----------------------------------------------------------------------------- save and log


def save_epoch(setup: Setup, state: RunState, outcome: Outcome) -> None:
    """Best weights (if improved), log, then the resume checkpoint: this order is what makes a kill safe.
    The TensorBoard log, if any, comes after them."""
    if not setup.ctx.is_main:
        return
    if outcome.improved:
        write_best(setup, state)
    outputs.write_log(setup.files.log, LogRow, state.log_rows)
    setup.resume.save(setup.files.resume, {"config_hash": setup.job.config_hash})
    if setup.board is not None:  # last: a resumed run rewrites the whole TensorBoard log anyway
        setup.board.add(state.log_rows[-1])


def write_best(setup: Setup, state: RunState) -> None:
    """``best.safetensors`` from the state's best weights (rank 0 only)."""
    if setup.ctx.is_main and state.best_weights is not None:
        meta = {**setup.best_meta, "epoch": state.best_epoch, "metric_value": state.best_metric}
        outputs.write_best(setup.files.best, state.best_weights, meta)


def report_epoch(setup: Setup, state: RunState, row: LogRow, outcome: Outcome) -> None:
    """The epoch's lines in the job log."""
    rules = state.rules
    if not row.is_full:
        log.info(
            "epoch %d: epoch pool %d/%d not full; NewBob and early stopping are waiting",
            row.epoch,
            row.pool_size,
            len(setup.data.train_set),
        )
    log.info(
        "epoch %d/%d: pool %d%s, train loss %.4f, val loss %.4f, val macro-F1 %.4f, val JSD %.4f, "
        "lr %.3g/%.3g, %s%.1f s",
        row.epoch,
        rules.max_epochs,
        row.pool_size,
        "" if row.is_full else " (curriculum)",
        row.train_loss,
        row.val_loss,
        row.val_macro_f1,
        row.val_jsd,
        row.lr_backbone,
        row.lr_heads,
        "best, " if outcome.improved else "",
        row.seconds,
    )
    if outcome.annealed:
        log.info(
            "NewBob (%s) anneals the learning rate for the next epoch: %s",
            rules.newbob_metric,
            ", ".join(outcome.annealed),
        )
    if state.stopped_early:
        log.info(
            "early stopping: %d epochs without improvement of %s", state.bad_epochs, rules.selection_metric
        )

"""The run state: what changes from epoch to epoch besides the model's and optimisers' tensors.

:class:`RunState` counts the epochs and owns the decisions taken after each
validation (docs/training.md, "After each epoch"):

* best-model tracking: the epoch with the lowest ``selection_metric`` so far
  (the highest under ``selection_mode: max``, the release's choice of the worst
  validation KLD) and a CPU copy of its weights;
* NewBob annealing: one :class:`~sertools.training.optimisation.NewBob` per
  parameter group, driven by ``newbob_metric``;
* early stopping after ``early_stopping_patience`` epochs in which the metric
  did not go below its reference by more than ``early_stopping_min_delta``
  (the reference is the last value that did; with 0 it is the best so far).

While the epoch pool (:mod:`sertools.data.epoch_pool`) is not yet the whole
training set, NewBob and the early-stopping counter wait (those epochs still
compete for the best checkpoint).

The state also keeps the run's history, one :class:`LogRow` per epoch: the
rows of ``train_log.csv``. The record is defined here, not in the loop that
fills it, because the state stores the rows in the resume checkpoint and reads
them back. The state is a :class:`~sertools.training.runtime.recoverables.Recoverable`:
the resume checkpoint stores it, and the best weights only when they differ
from the current ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from sertools.training.optimisation import NewBob, newbob_schedulers
from sertools.training.runtime import checkpoint
from sertools.training.runtime.errors import TrainingError


@dataclass(frozen=True)
class LogRow:
    """One epoch of ``train_log.csv``: the field order is the column order, and nothing else names them."""

    epoch: int  # 1-based
    pool_size: int  # Train utterances the epoch pool allowed
    is_full: bool  # the pool was the whole training set
    train_loss: float  # mean per utterance over every rank
    val_loss: float
    val_macro_f1: float
    val_jsd: float
    val_kld: float
    lr_backbone: float  # the learning rates set for the epoch (NewBob times the unfreezing factor)
    lr_heads: float
    trainable_layers: int | None  # transformer layers training (None without gradual unfreezing)
    padded_fraction: float  # of the epoch's Train batches
    batches: int  # this rank's batches
    nonfinite_batches: int  # updates skipped as non-finite
    batches_left_out: int  # so that every data-parallel rank takes the same number of steps
    seconds: float  # wall time of the epoch


@dataclass(frozen=True)
class Rules:
    """The train settings the after-epoch decisions follow."""

    selection_metric: str
    newbob_metric: str
    patience: int
    max_epochs: int
    min_delta: float = 0.0
    selection_mode: str = "min"

    @classmethod
    def of(cls, train: Mapping[str, Any]) -> Rules:
        """The rules of a train section."""
        return cls(
            str(train["selection_metric"]),
            str(train["newbob_metric"]),
            int(train["early_stopping_patience"]),
            int(train["max_epochs"]),
            float(train["early_stopping_min_delta"]),
            str(train["selection_mode"]),
        )

    def better(self, value: float, best: float) -> bool:
        """Whether ``value`` of the selection metric beats ``best`` under ``selection_mode``."""
        return value > best if self.selection_mode == "max" else value < best


@dataclass(frozen=True)
class Outcome:
    """What :meth:`RunState.update` decided for one epoch."""

    improved: bool  # a new best: its weights are the ones to save
    annealed: tuple[str, ...]  # "<group> <old> -> <new>" for every learning rate NewBob lowered


@dataclass(eq=False)
class RunState:
    """Progress, best checkpoint, NewBob and early stopping of one run (see the module docstring)."""

    rules: Rules
    model: torch.nn.Module = field(repr=False)  # the weights a new best copies
    newbob: dict[str, NewBob]
    epochs_done: int = 0
    best_metric: float = math.inf
    best_epoch: int | None = None  # 1-based
    bad_epochs: int = 0
    stopping_reference: float = math.inf  # the value early stopping counts improvements against
    finished: bool = False
    stopped_early: bool = False
    log_rows: list[LogRow] = field(default_factory=list)
    best_weights: dict[str, torch.Tensor] | None = None

    @classmethod
    def start(cls, train: Mapping[str, Any], model: torch.nn.Module) -> RunState:
        """The state before the first epoch: NewBob at the configured learning rates."""
        rules = Rules.of(train)
        worst = -math.inf if rules.selection_mode == "max" else math.inf
        return cls(rules, model, newbob_schedulers(train), best_metric=worst)

    def learning_rates(self) -> dict[str, float]:
        """The learning rate of each parameter group for the next epoch."""
        return {group: sched.value for group, sched in self.newbob.items()}

    def update(self, val: Mapping[str, float], is_full: bool) -> Outcome:
        """Record one epoch's validation: best model, NewBob, early stopping, end of training."""
        epoch = self.epochs_done + 1
        rules = self.rules
        for name in (rules.selection_metric, rules.newbob_metric):
            if not math.isfinite(val[name]):
                raise TrainingError(
                    f"epoch {epoch}: validation metric {name} is {val[name]}; the run diverged"
                )
        self.epochs_done = epoch
        improved = rules.better(val[rules.selection_metric], self.best_metric)
        if improved:
            self.best_metric, self.best_epoch = val[rules.selection_metric], epoch
            self.best_weights = checkpoint.model_state(self.model)
        if val[rules.selection_metric] < self.stopping_reference - rules.min_delta:
            self.stopping_reference = val[rules.selection_metric]
            self.bad_epochs = 0
        elif is_full:
            self.bad_epochs += 1
        annealed = self._anneal(val[rules.newbob_metric]) if is_full else ()
        if is_full and self.bad_epochs >= rules.patience:
            self.finished = self.stopped_early = True
        if self.epochs_done >= rules.max_epochs:
            self.finished = True
        return Outcome(improved, annealed)

    def _anneal(self, metric: float) -> tuple[str, ...]:
        """Give each group's NewBob the epoch's metric; "<group> <old> -> <new>" for every rate lowered."""
        changes = []
        for group, sched in self.newbob.items():
            old, new = sched(metric)
            if new != old:
                changes.append(f"{group} {old:.4g} -> {new:.4g}")
        return tuple(changes)

    # -- as a recoverable (the NewBob schedulers are entries of their own) --------------------

    @property
    def best_is_current(self) -> bool:
        """Whether the best weights are the model's current ones (the checkpoint need not hold them twice)."""
        return self.best_epoch == self.epochs_done

    def save_state(self) -> tuple[dict[str, torch.Tensor], Any]:
        """The best weights when they are not the current ones, and everything else as JSON."""
        meta = {
            "epochs_done": self.epochs_done,
            "best_metric": self.best_metric,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "stopping_reference": self.stopping_reference,
            "finished": self.finished,
            "stopped_early": self.stopped_early,
            "log_rows": [asdict(row) for row in self.log_rows],
            "best_is_current": self.best_is_current,
        }
        best = None if self.best_is_current else self.best_weights
        return (dict(best) if best is not None else {}), meta

    def load_state(self, tensors: Mapping[str, torch.Tensor], meta: Any) -> None:
        """Restore what :meth:`save_state` wrote (after the model entry, which may hold the best weights)."""
        self.epochs_done = int(meta["epochs_done"])
        self.best_metric = float(meta["best_metric"])
        self.best_epoch = None if meta["best_epoch"] is None else int(meta["best_epoch"])
        self.bad_epochs = int(meta["bad_epochs"])
        self.stopping_reference = float(meta.get("stopping_reference", self.best_metric))
        self.finished = bool(meta["finished"])
        self.stopped_early = bool(meta["stopped_early"])
        self.log_rows = [LogRow(**row) for row in meta["log_rows"]]
        self.best_weights = None
        if self.best_epoch is not None:
            # the model entry is restored first: when the best weights are the current ones, it holds them
            current = bool(meta["best_is_current"])
            self.best_weights = (
                checkpoint.model_state(self.model) if current else {k: v.clone() for k, v in tensors.items()}
            )
            if not self.best_weights:
                raise KeyError("best weights missing from the resume checkpoint")

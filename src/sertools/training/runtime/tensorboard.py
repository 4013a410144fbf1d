"""The optional TensorBoard log of a run (``train.tensorboard``): the rows of ``train_log.csv`` as scalars.

Event files go to ``tensorboard/`` in the run directory
(:class:`sertools.training.runtime.outputs.RunFiles`), one run per directory,
so ``tensorboard --logdir results/train`` shows every variant and seed side by
side. Each epoch's log row (:class:`sertools.training.state.LogRow`, passed
in as any dataclass: the record belongs to the run state one layer up) becomes
scalars at step = its ``epoch``: ``train_loss`` -> ``train/loss``,
``val_<m>`` -> ``val/<m>``, the learning rates ``lr_<group>`` -> ``lr/<group>``
and every other numeric column ``epoch/<name>``; booleans are 0/1 and a None
(``trainable_layers`` without gradual unfreezing) is left out.

Resume. The log is rewritten whole whenever a run (re)starts: earlier event
files in the directory are removed and the rows the run state kept are written
again before the first new epoch. After a kill between an epoch's
``train_log.csv`` and its event, or a resume, every epoch is therefore shown once,
with the values ``train_log.csv`` has; and switching the key on for a finished
run writes its whole log without training (the key is not part of the config
hash, :mod:`sertools.training.runtime.job`).

The writer is :class:`torch.utils.tensorboard.SummaryWriter`, which needs the
``tensorboard`` package (the optional extra ``sertools[tensorboard]``); without
it a run that asks for the log stops before its first epoch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sertools.training.runtime.errors import TrainingError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

EVENT_GLOB = "events.out.tfevents.*"
#: column-name prefix -> TensorBoard tag group
GROUPS = (("train_", "train/"), ("val_", "val/"), ("lr_", "lr/"))


def scalars(row: DataclassInstance) -> dict[str, float]:
    """Tag -> value of one log row (``epoch`` is the step, not a scalar)."""
    out: dict[str, float] = {}
    for f in dataclasses.fields(row):
        value: Any = getattr(row, f.name)
        if f.name == "epoch" or value is None or not isinstance(value, int | float):
            continue
        tag = next(
            (group + f.name[len(prefix) :] for prefix, group in GROUPS if f.name.startswith(prefix)),
            f"epoch/{f.name}",
        )
        out[tag] = float(value)
    return out


class TensorBoardLog:
    """Event files of one run: the rows so far at opening, then one :meth:`add` per epoch."""

    def __init__(self, directory: Path, rows: Iterable[DataclassInstance] = ()) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:
            raise TrainingError(
                f"train.tensorboard is true but TensorBoard cannot be loaded ({e}); install the optional "
                "extra (pip install 'sertools[tensorboard]') or set train.tensorboard: false"
            ) from None
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in self.directory.glob(EVENT_GLOB):  # the log is rewritten whole (module docstring)
            old.unlink()
        self._writer = SummaryWriter(log_dir=str(self.directory))
        for row in rows:
            self._write(row)
        self._writer.flush()

    def _write(self, row: DataclassInstance) -> None:
        step = int(row.epoch)  # type: ignore[attr-defined]
        for tag, value in scalars(row).items():
            self._writer.add_scalar(tag, value, global_step=step)

    def add(self, row: DataclassInstance) -> None:
        """One epoch's row, flushed at once (a killed job keeps every epoch it logged)."""
        self._write(row)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def open_log(enabled: bool, directory: Path, rows: Iterable[DataclassInstance]) -> TensorBoardLog | None:
    """The run's TensorBoard log when ``enabled`` (``train.tensorboard`` on the writing rank), else None."""
    return TensorBoardLog(directory, rows) if enabled else None

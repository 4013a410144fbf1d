"""The files a training run writes, and the order that keeps them consistent after a crash.

In the run directory: ``best.safetensors`` (the best epoch's weights and what
prediction needs to rebuild the model), ``train_log.csv`` (one row per epoch,
:class:`sertools.training.state.LogRow`), ``run.json`` (the summary, written last),
``config.yaml`` (the job's settings and config hash), ``env.json``
(:func:`sertools.training.runtime.provenance.collect`), ``resume/last.safetensors``
(the resume checkpoint) and, with ``train.tensorboard``, ``tensorboard/``
(:mod:`sertools.training.runtime.tensorboard`). Every file is written atomically, and after each
epoch in the order best, log, resume checkpoint, so the resume checkpoint never
describes an epoch whose other outputs are missing (docs/training.md, "Resume").
Only rank 0 of a data-parallel run writes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from sertools.io import atomic_path, write_text

# The file names of a run (outputs_in, RunFiles) are read by the workflow's Snakefile
# (through sertools.study.layout); the modules that need torch are imported by the
# functions that write and read checkpoints, so that loading the workflow does not
# import torch (about 1 s per snakemake call).
if TYPE_CHECKING:
    import torch
    from _typeshed import DataclassInstance

    from sertools.training.runtime import checkpoint, distributed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunFiles:
    """Paths of a run's files: the rule's outputs, and the rest next to ``run.json``."""

    best: Path
    log: Path
    run: Path
    config: Path
    env: Path
    resume: Path
    tensorboard: Path  # the TensorBoard event files (train.tensorboard)

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any]) -> RunFiles:
        """From the train rule's outputs (``best``, ``log_csv``, ``run``)."""
        run = Path(outputs["run"])
        out = run.parent
        return cls(
            best=Path(outputs["best"]),
            log=Path(outputs["log_csv"]),
            run=run,
            config=out / "config.yaml",
            env=out / "env.json",
            resume=out / "resume" / "last.safetensors",
            tensorboard=out / "tensorboard",
        )

    @classmethod
    def in_dir(cls, out_dir: str | Path) -> RunFiles:
        """The standard layout of a run directory."""
        return cls.from_outputs(outputs_in(out_dir))

    def prepare(self, ctx: distributed.DistContext) -> None:
        """Create the directories; rank 0 removes temporaries an interrupted write left behind."""
        from sertools.training.runtime import distributed

        for target in (self.best, self.log, self.run):
            target.parent.mkdir(parents=True, exist_ok=True)
        if ctx.is_main:
            for target in (self.config, self.env, self.log, self.best, self.run, self.resume):
                for tmp in target.parent.glob(f".{target.name}.*.tmp*"):  # only our own names
                    tmp.unlink(missing_ok=True)
        distributed.barrier(ctx)


def outputs_in(out_dir: str | Path) -> dict[str, Path]:
    """The train rule's outputs for a run directory."""
    out = Path(out_dir)
    return {"best": out / "best.safetensors", "log_csv": out / "train_log.csv", "run": out / "run.json"}


def write_best(path: Path, weights: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
    """The best checkpoint: weights under ``model.`` and ``meta`` (see :mod:`sertools.training.runtime.checkpoint`)."""
    from sertools.training.runtime import checkpoint

    checkpoint.save(path, checkpoint.with_prefix(weights, "model."), meta, "best")


def write_log(path: Path, record: type[DataclassInstance], rows: Sequence[DataclassInstance]) -> None:
    """``train_log.csv``: one line per row; the columns are the fields of the dataclass ``record``, in order.

    The record type is passed, not imported: it belongs to the run state one level up
    (:class:`sertools.training.state.LogRow`), and with it the file has a header even before its first row.
    """
    columns = [f.name for f in dataclasses.fields(record)]
    with atomic_path(path) as tmp:
        pd.DataFrame([dataclasses.asdict(row) for row in rows], columns=columns).to_csv(tmp, index=False)


def write_config(path: Path, doc: Mapping[str, Any]) -> None:
    write_text(path, yaml.safe_dump(dict(doc), sort_keys=True))


def read_resume(path: Path, config_hash: str) -> checkpoint.Checkpoint | None:
    """The resume checkpoint if there is one of this job (same config hash); None, with a warning, otherwise."""
    from sertools.training.runtime import checkpoint

    if not path.exists():
        return None
    try:
        saved = checkpoint.load(path, kind="resume")
    except checkpoint.CheckpointError as e:
        log.warning("resume checkpoint unusable, starting fresh: %s", e)
        return None
    if saved.meta.get("config_hash") != config_hash:
        log.warning(
            "resume checkpoint %s has config hash %s, this run has %s: starting fresh",
            path,
            str(saved.meta.get("config_hash"))[:12],
            config_hash[:12],
        )
        return None
    return saved

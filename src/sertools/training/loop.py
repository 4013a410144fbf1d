"""Training loop with exact, crash-safe resume.

``train(labels, manifest, out_dir, cfg, variant, seed)`` fine-tunes the
multitask model of ``cfg["model"]`` on one supervision variant and writes, in
``out_dir``: ``config.yaml``, ``env.json``, ``train_log.csv``,
``best.safetensors``, ``run.json`` and ``resume/last.safetensors``.

Optimisation. Two AdamW optimizers (backbone at ``lr_backbone``, pooling /
layer weights / heads at ``lr_heads``), each with its own NewBob scheduler
driven by ``newbob_metric``; gradient clipping over all parameters; gradient
accumulation over ``grad_accum`` micro-batches of ``batch_size``; on CUDA,
bf16 autocast where supported, else fp16 with one GradScaler shared by both
optimizers (losses are always computed in fp32).

Curriculum. Each epoch trains on ``curriculum.epoch_pool``. NewBob and the
early-stopping counter start only once the pool is the whole training set
(earlier epochs still compete for the best checkpoint). Epochs are numbered
from 1 in logs and summaries.

Non-finite losses. A batch whose loss is NaN/inf is skipped (no backward) and
counted; so is an optimiser step whose gradient norm is non-finite (fp32; under
fp16 the GradScaler handles overflow itself). If more than 10 % of an epoch's
batches are non-finite, training stops with :class:`TrainingError` naming the
epoch and batch: a few bad batches are survivable noise, more means the run is
diverging and its checkpoints would be meaningless.

Reproducibility and resume. All randomness of epoch ``e`` (dropout, batch
plan, crops) is a pure function of ``(seed, e)``: the torch/python generators
are reseeded at the start of every epoch, the batch plan is seeded from
``(seed, e)`` and crops from ``(seed, e, item)``. After each epoch the state is
saved to ``resume/last.safetensors`` (model, both optimizers and schedulers,
early-stopping state, log rows, best weights, RNG states), *after*
``best.safetensors`` and ``train_log.csv``; every file is written atomically.
So whenever a job dies (SIGKILL mid-epoch, between the writes, or during one),
the last checkpoint describes a completed epoch ``e`` and a rerun replays epoch
``e + 1`` bit-identically on CPU; outputs written after that checkpoint are
simply rewritten with the same content. The resume checkpoint also carries the
best weights, so ``best.safetensors`` is restored even if Snakemake deleted it
as an incomplete output. The checkpoint is used only if its config hash (model
config, the variant's train config, the variant, the seed, the SHA-256 of the
label and manifest files, the source of the sertools modules that shape
training (every module it imports, :func:`sertools.deps.files`), the torch and transformers versions and
:data:`TRAINING_VERSION`) matches; otherwise training starts fresh and says so
in the log. A finished run whose hash matches is not retrained: its outputs are
rewritten from the checkpoint.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import random
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml
from tqdm import tqdm

from sertools import config as config_mod
from sertools import deps
from sertools.data import batching, curriculum
from sertools.data import dataset as data
from sertools.evaluation import predict
from sertools.evaluation import scores as metrics
from sertools.io import atomic_path, write_json, write_text
from sertools.model import losses
from sertools.model import network as model_mod
from sertools.training import checkpoint, distributed, provenance
from sertools.training.schedulers import NewBob, set_lr

log = logging.getLogger(__name__)

TRAINING_VERSION = 1  # bump when training semantics change: old resume checkpoints are then ignored
RANK_SEED_STRIDE = 1_000_003  # torch RNG of rank r in an epoch: epoch seed + r x stride
NONFINITE_LIMIT = 0.10  # largest tolerated fraction of non-finite batches per epoch
LOG_COLUMNS = (
    "epoch",
    "pool_size",
    "is_full",
    "train_loss",
    "val_loss",
    "val_macro_f1",
    "val_jsd",
    "lr_backbone",
    "lr_heads",
    "padded_fraction",
    "batches",
    "nonfinite_batches",
    "batches_left_out",
    "seconds",
)


class TrainingError(RuntimeError):
    """Training cannot go on (no data, diverging losses, ...)."""


# ----------------------------------------------------------------------------- small pure helpers


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def code_fingerprint() -> dict[str, str]:
    """SHA-256 of the sertools modules that decide the trained weights, plus torch/transformers versions.

    Snakemake reruns training when these files change; the fingerprint makes the
    rerun start fresh instead of resuming (or re-reporting) a run made by other code.
    """
    import transformers

    h = hashlib.sha256()
    for path in deps.files(__name__):
        h.update(path.relative_to(deps.ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return {
        "sertools_sha256": h.hexdigest(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def config_hash(
    model_cfg: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    variant: str,
    variant_cfg: Mapping[str, Any],
    seed: int,
    labels_sha256: str,
    manifest_sha256: str,
    code: Mapping[str, str] | None = None,
) -> str:
    """Hash of everything that determines the trained weights (see module docstring)."""
    doc = {
        "training_version": TRAINING_VERSION,
        "code": dict(code or {}),
        "model": model_cfg,
        "train": train_cfg,
        "variant": variant,
        "variant_cfg": {k: v for k, v in variant_cfg.items() if k != "train"},
        "seed": int(seed),
        "labels_sha256": labels_sha256,
        "manifest_sha256": manifest_sha256,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for epoch ``epoch`` (0-based) of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(epoch), 0x5E7]).generate_state(1, np.uint64)[0] >> 1)


def reseed(seed: int) -> None:
    """Seed torch (CPU and CUDA) and python ``random``."""
    torch.manual_seed(seed)
    random.seed(seed)


def macro_f1(hard: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 over the 9 classes on utterances with a consensus class (NaN if none)."""
    if not (hard >= 0).any():
        return float("nan")
    return float(metrics.f1_scores(metrics.confusion_matrix(hard, pred)).mean())


# ----------------------------------------------------------------------------- objective


@dataclass(frozen=True)
class Objective:
    """Categorical loss + ``dim_weight`` x dimensional loss, in fp32."""

    kind: str
    dim_kind: str
    dim_weight: float
    label_smoothing: float = 0.0
    class_weight: torch.Tensor | None = None

    def __call__(
        self, logits: torch.Tensor, dims: torch.Tensor, cat: torch.Tensor, dim_t: torch.Tensor
    ) -> torch.Tensor:
        weight = None if self.class_weight is None else self.class_weight.to(logits.device)
        cat_loss = losses.categorical_loss(self.kind, logits.float(), cat, weight, self.label_smoothing)
        if self.dim_weight == 0:
            return cat_loss
        ok = torch.isfinite(dim_t).all(dim=1)  # utterances without ratings do not enter the dim loss
        if not bool(ok.any()):
            return cat_loss
        dim_loss = losses.dimensional_loss(self.dim_kind, dims.float()[ok], dim_t[ok])
        return losses.total_loss(cat_loss, dim_loss, self.dim_weight)


# ----------------------------------------------------------------------------- state


@dataclass
class RunState:
    """Everything that evolves across epochs besides model and optimizer tensors."""

    epochs_done: int = 0
    best_metric: float = math.inf
    best_epoch: int | None = None  # 1-based
    bad_epochs: int = 0
    finished: bool = False
    stopped_early: bool = False
    log_rows: list[dict[str, Any]] = field(default_factory=list)
    best_weights: dict[str, torch.Tensor] | None = None

    def to_meta(self) -> dict[str, Any]:
        return {
            "epochs_done": self.epochs_done,
            "best_metric": self.best_metric,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "finished": self.finished,
            "stopped_early": self.stopped_early,
            "log_rows": self.log_rows,
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> RunState:
        return cls(
            epochs_done=int(meta["epochs_done"]),
            best_metric=float(meta["best_metric"]),
            best_epoch=None if meta["best_epoch"] is None else int(meta["best_epoch"]),
            bad_epochs=int(meta["bad_epochs"]),
            finished=bool(meta["finished"]),
            stopped_early=bool(meta["stopped_early"]),
            log_rows=list(meta["log_rows"]),
        )


@dataclass(frozen=True)
class Paths:
    out: Path

    @property
    def config(self) -> Path:
        return self.out / "config.yaml"

    @property
    def env(self) -> Path:
        return self.out / "env.json"

    @property
    def log(self) -> Path:
        return self.out / "train_log.csv"

    @property
    def best(self) -> Path:
        return self.out / "best.safetensors"

    @property
    def run(self) -> Path:
        return self.out / "run.json"

    @property
    def resume(self) -> Path:
        return self.out / "resume" / "last.safetensors"

    def clean_stale_temporaries(self) -> None:
        """Remove temp files an interrupted atomic write left behind (only our own names)."""
        for target in (self.config, self.env, self.log, self.best, self.run, self.resume):
            for tmp in target.parent.glob(f".{target.name}.*.tmp*"):
                tmp.unlink(missing_ok=True)


@contextmanager
def torch_settings(deterministic: bool, threads: int | None, device: torch.device) -> Iterator[None]:
    """Set determinism flags and thread count for the block; restore them afterwards."""
    old_det = torch.are_deterministic_algorithms_enabled()
    old_threads = torch.get_num_threads()
    old_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    old_fill = torch.utils.deterministic.fill_uninitialized_memory
    if device.type == "cuda" and deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS determinism
    try:
        # CUDA: warn instead of failing on an op without a deterministic kernel (CPU is exact)
        torch.use_deterministic_algorithms(deterministic, warn_only=device.type == "cuda")
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = not deterministic
        # Deterministic mode also NaN-fills every torch.empty (a debugging aid that
        # cost ~5% of a CPU step); no kernel used here reads uninitialised memory.
        torch.utils.deterministic.fill_uninitialized_memory = False
        if threads:
            torch.set_num_threads(int(threads))
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn
        torch.utils.deterministic.fill_uninitialized_memory = old_fill
        torch.set_num_threads(old_threads)


# ----------------------------------------------------------------------------- the trainer


class _Trainer:
    """One training run; ``run()`` does the work. Split into methods for readability only."""

    def __init__(
        self,
        labels_path: Path,
        manifest_path: Path,
        out_dir: Path,
        cfg: Mapping[str, Any],
        variant: str,
        seed: int,
        device: torch.device,
        ctx: distributed.DistContext | None = None,
    ) -> None:
        if variant not in cfg["variants"]:
            raise ValueError(f"unknown variant {variant!r}; configured: {sorted(cfg['variants'])}")
        self.cfg = cfg
        self.variant = variant
        self.seed = int(seed)
        self.vcfg = {k: v for k, v in cfg["variants"][variant].items() if k != "train"}
        self.tcfg = config_mod.variant_train(cfg, variant)
        self.model_cfg = copy.deepcopy(dict(cfg["model"]))
        self.paths = Paths(out_dir)
        self.device = device
        self.ctx = ctx or distributed.DistContext()
        self.amp = predict.amp_dtype(self.tcfg["amp"], device)
        self.labels_path, self.manifest_path = labels_path, manifest_path
        self.hash = config_hash(
            self.model_cfg,
            self.tcfg,
            variant,
            self.vcfg,
            self.seed,
            file_sha256(labels_path),
            file_sha256(manifest_path),
            code_fingerprint(),
        )
        self.curriculum_cfg = dict(self.vcfg.get("curriculum") or {})
        self.curriculum_cfg.setdefault("order", "none")

    # -- data --------------------------------------------------------------------------------

    def load_data(self) -> None:
        table, self.join_report = data.load_table(self.labels_path, self.manifest_path)
        train_df = table[table["split"] == "Train"].reset_index(drop=True)
        dev_df = table[table["split"] == "Development"].reset_index(drop=True)
        self.train_t = data.build_targets(train_df, self.vcfg)
        self.dev_t = data.build_targets(dev_df, self.vcfg)
        if len(self.train_t.rows) == 0:
            raise TrainingError(
                f"variant {self.variant!r}: no Train utterances with audio and a usable target"
            )
        if len(dev_df) == 0:
            raise TrainingError(
                "no Development utterances with audio: cannot validate or select a checkpoint"
            )
        needs_f1 = "one_minus_macro_f1" in (self.tcfg["selection_metric"], self.tcfg["newbob_metric"])
        if needs_f1 and not (data.hard_labels(dev_df) >= 0).any():
            raise TrainingError(
                "macro-F1 is the selection or NewBob metric but no Development utterance has a consensus class"
            )
        if len(self.dev_t.rows) == 0 and "val_loss" in (
            self.tcfg["selection_metric"],
            self.tcfg["newbob_metric"],
        ):
            raise TrainingError(
                f"variant {self.variant!r}: no Development utterance has a target, so val_loss is undefined"
            )
        self.sample_rate = predict.sample_rate_of(pd.concat([train_df, dev_df]), str(self.manifest_path))
        self.train_df, self.dev_df = train_df, dev_df
        rows = train_df.iloc[self.train_t.rows]
        crop = max(1, round(float(self.tcfg["max_train_duration_s"]) * self.sample_rate))
        self.train_ds = data.AudioDataset(
            rows["path"].tolist(), rows["frames"].tolist(), self.sample_rate, crop, self.seed
        )
        self.train_len = np.minimum(rows["frames"].to_numpy(dtype=np.int64), crop)
        self.dev_ds = data.AudioDataset(dev_df["path"].tolist(), dev_df["frames"].tolist(), self.sample_rate)
        # reader processes only pay off on a GPU with audio read from disk; crops do not
        # depend on them (pure functions of seed, epoch, item), so results are unchanged
        lazy_gpu = self.device.type == "cuda" and not self.train_ds.in_memory
        self.num_workers = min(4, max(1, (os.cpu_count() or 2) // 2)) if lazy_gpu else 0
        self.dev_len = dev_df["frames"].to_numpy(dtype=np.int64)
        self.dev_hard = data.hard_labels(dev_df)
        self.dev_primary = data.stack(dev_df["p_primary"], "p_primary")
        self.difficulty = (
            data.difficulty_scores(rows, self.curriculum_cfg.get("difficulty", "entropy_primary"))
            if self.curriculum_cfg["order"] != "none"
            else np.zeros(len(rows))
        )
        log.info(
            "data: %d Train utterances for variant %s (%d in Train with audio), %d Development; audio in memory: %s/%s",
            len(rows),
            self.variant,
            len(train_df),
            len(dev_df),
            self.train_ds.in_memory,
            self.dev_ds.in_memory,
        )

    # -- model and optimisation ------------------------------------------------------------

    def build(self) -> None:
        reseed(self.seed)
        self.model = model_mod.build_model(self.model_cfg)
        self.waveform_stats: dict[str, float] | None = None
        self.model.to(self.device)
        self.min_len = model_mod.min_input_samples(self.model)
        # the DDP wrapper only drives forward/backward; state and validation use self.model
        self.forward_model: torch.nn.Module = self.model
        if self.ctx.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # layerdrop and curricula can leave parameters without gradients in a step
            self.forward_model = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=ids, find_unused_parameters=True
            )
        data.check_min_frames(self.train_df.iloc[self.train_t.rows], self.min_len, self.sample_rate, "Train")
        data.check_min_frames(self.dev_df, self.min_len, self.sample_rate, "Development")
        backbone, heads = self.model.param_groups()
        self.params = [*backbone, *heads]
        t = self.tcfg
        self.opts: dict[str, torch.optim.Optimizer] = {}
        for name, params, lr in (("backbone", backbone, t["lr_backbone"]), ("heads", heads, t["lr_heads"])):
            if params:
                self.opts[name] = torch.optim.AdamW(params, lr=lr, weight_decay=t["weight_decay"])
        self.newbob = {
            name: NewBob(lr, t["newbob_factor"], t["newbob_threshold"], t["newbob_patience"])
            for name, lr in (("backbone", t["lr_backbone"]), ("heads", t["lr_heads"]))
        }
        self.scaler = torch.amp.GradScaler("cuda") if self.amp == torch.float16 else None
        weight = None
        if self.vcfg["loss"] == "cbce":
            weight = losses.class_weights(self.train_t.cat, t["cbce_weighting"], t["cbce_beta"])
            log.info("cbce class weights (%s): %s", t["cbce_weighting"], np.round(weight.numpy(), 4).tolist())
        self.objective = Objective(
            self.vcfg["loss"], t["dim_loss"], float(t["dim_weight"]), float(t["label_smoothing"]), weight
        )

    def set_waveform_stats(self, stats: Mapping[str, float] | None) -> None:
        if self.model.waveform_norm != "train_stats":
            return
        if stats is None:
            ds = data.AudioDataset(
                self.train_df["path"].tolist(),
                self.train_df["frames"].tolist(),
                self.sample_rate,
                in_memory=False,
            )
            mean, std = data.waveform_stats(ds)
            stats = {"mean": mean, "std": std}
            log.info("waveform statistics over %d Train utterances: mean %.6g, std %.6g", len(ds), mean, std)
        self.waveform_stats = {"mean": float(stats["mean"]), "std": float(stats["std"])}
        self.model.set_waveform_stats(self.waveform_stats["mean"], self.waveform_stats["std"])

    # -- checkpoints -------------------------------------------------------------------------

    def best_meta(self, state: RunState) -> dict[str, Any]:
        return {
            "architecture": self.model.architecture(),
            "variant": self.variant,
            "variant_cfg": self.vcfg,
            "seed": self.seed,
            "epoch": state.best_epoch,
            "selection_metric": self.tcfg["selection_metric"],
            "metric_value": state.best_metric,
            "waveform_stats": self.waveform_stats,
            "sample_rate": self.sample_rate,
            "config_hash": self.hash,
        }

    def write_best(self, state: RunState) -> None:
        if not self.ctx.is_main:
            return
        assert state.best_weights is not None
        checkpoint.save(
            self.paths.best,
            checkpoint.with_prefix(state.best_weights, "model."),
            self.best_meta(state),
            "best",
        )

    def write_log(self, state: RunState) -> None:
        if not self.ctx.is_main:
            return
        with atomic_path(self.paths.log) as tmp:
            pd.DataFrame(state.log_rows, columns=list(LOG_COLUMNS)).to_csv(tmp, index=False)

    def write_resume(self, state: RunState) -> None:
        if not self.ctx.is_main:
            return
        tensors = checkpoint.with_prefix(checkpoint.model_state(self.model), "model.")
        meta: dict[str, Any] = {"config_hash": self.hash, "state": state.to_meta(), "optimizers": {}}
        for name, opt in self.opts.items():
            t, m = checkpoint.flatten_optimizer(opt.state_dict(), f"optim.{name}.")
            tensors.update(t)
            meta["optimizers"][name] = m
        # best weights, unless they are the current ones (then "model." already holds them)
        meta["best_is_current"] = state.best_epoch == state.epochs_done
        if state.best_weights is not None and not meta["best_is_current"]:
            tensors.update(checkpoint.with_prefix(state.best_weights, "best_model."))
        meta["newbob"] = {k: s.state_dict() for k, s in self.newbob.items()}
        meta["scaler"] = self.scaler.state_dict() if self.scaler is not None else None
        meta["waveform_stats"] = self.waveform_stats
        rng_t, rng_m = checkpoint.capture_rng()
        tensors.update(rng_t)
        meta["rng"] = rng_m
        checkpoint.save(self.paths.resume, tensors, meta, "resume")

    def try_resume(self) -> tuple[RunState, int | None]:
        """Restore the last checkpoint if it belongs to this configuration, else start fresh."""
        if self.paths.resume.exists():
            try:
                ck = checkpoint.load(self.paths.resume, kind="resume")
            except checkpoint.CheckpointError as e:
                log.warning("resume checkpoint unusable, starting fresh: %s", e)
            else:
                if ck.meta.get("config_hash") != self.hash:
                    log.warning(
                        "resume checkpoint %s has config hash %s, this run has %s: starting fresh",
                        self.paths.resume,
                        str(ck.meta.get("config_hash"))[:12],
                        self.hash[:12],
                    )
                else:
                    try:
                        return self.restore(ck)
                    except (KeyError, TypeError, ValueError, RuntimeError) as e:
                        # same configuration but a state that does not fit (e.g. the model code
                        # changed): rebuild everything and start over
                        log.warning(
                            "resume checkpoint %s does not fit this code, starting fresh: %s",
                            self.paths.resume,
                            e,
                        )
                        self.build()
        self.set_waveform_stats(None)
        return RunState(), None

    def restore(self, ck: checkpoint.Checkpoint) -> tuple[RunState, int]:
        meta = ck.meta
        self.set_waveform_stats(meta.get("waveform_stats"))
        self.model.load_state_dict(checkpoint.strip_prefix(ck.tensors, "model."), strict=True)
        for name, opt in self.opts.items():
            prefix = f"optim.{name}."
            opt.load_state_dict(checkpoint.unflatten_optimizer(ck.tensors, meta["optimizers"][name], prefix))
        for name, sched in self.newbob.items():
            sched.load_state_dict(meta["newbob"][name])
        if self.scaler is not None and meta.get("scaler"):
            self.scaler.load_state_dict(meta["scaler"])
        state = RunState.from_meta(meta["state"])
        if state.best_epoch is not None:
            prefix = "model." if meta["best_is_current"] else "best_model."
            state.best_weights = {
                k: v.clone() for k, v in checkpoint.strip_prefix(ck.tensors, prefix).items()
            }
            if not state.best_weights:
                raise KeyError("best weights missing from the resume checkpoint")
        checkpoint.restore_rng(ck.tensors, meta["rng"])
        log.info(
            "resuming from %s after epoch %d (best epoch %s, %s = %.6g)",
            self.paths.resume,
            state.epochs_done,
            state.best_epoch,
            self.tcfg["selection_metric"],
            state.best_metric,
        )
        # outputs Snakemake may have deleted as incomplete are restored from the checkpoint
        if state.best_weights is not None:
            self.write_best(state)
        self.write_log(state)
        return state, state.epochs_done

    # -- one epoch ---------------------------------------------------------------------------

    def train_epoch(self, epoch: int, batches: list[np.ndarray]) -> tuple[float, int]:
        """Train on ``batches`` (dataset indices; under DDP this rank's share); returns
        (mean loss per utterance over all ranks, non-finite count)."""
        model, dev = self.forward_model, self.device
        ga = int(self.tcfg["grad_accum"])
        clip = self.tcfg["grad_clip"]
        model.train()
        self.train_ds.set_epoch(epoch)
        for opt in self.opts.values():
            opt.zero_grad(set_to_none=True)
        n_batches = len(batches)
        total = count = 0.0
        nonfinite = accumulated = 0

        def bad(where: str, bi: int) -> None:
            nonlocal nonfinite
            nonfinite += 1
            log.warning(
                "epoch %d batch %d/%d: non-finite %s; update skipped", epoch + 1, bi + 1, n_batches, where
            )
            if nonfinite > NONFINITE_LIMIT * n_batches:
                raise TrainingError(
                    f"epoch {epoch + 1}: {nonfinite} of {n_batches} batches were non-finite "
                    f"(latest: batch {bi + 1}, {where}); more than {NONFINITE_LIMIT:.0%} means the run diverged. "
                    "Lower the learning rates, enable grad_clip or check the inputs"
                )

        loader = data.iterate_batches(self.train_ds, batches, self.min_len, self.num_workers)
        # a progress bar in the job's log (stderr goes there); sparse so logs stay small
        bar = tqdm(
            loader, total=n_batches, desc=f"epoch {epoch + 1}", unit="batch", mininterval=30, file=sys.stderr
        )
        for bi, batch in enumerate(bar):
            idx = batch.index.numpy()
            cat = torch.from_numpy(self.train_t.cat[idx]).to(dev)
            dim_t = torch.from_numpy(self.train_t.dims[idx]).to(dev)
            with predict.autocast(dev, self.amp):
                out = model(batch.wave.to(dev), batch.lengths.to(dev))
            loss = self.objective(out.logits.float(), out.dims.float(), cat, dim_t)
            if distributed.all_finite(loss, self.ctx):  # one decision for all ranks
                scaled = loss / ga
                (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
                accumulated += 1
            else:
                bad("loss", bi)
            if (bi + 1) % ga == 0 or bi + 1 == n_batches:
                if accumulated and not self.step(accumulated, ga, clip):
                    bad("gradient norm", bi)
                for opt in self.opts.values():
                    opt.zero_grad(set_to_none=True)
                accumulated = 0
        total, count = distributed.sum_across([total, count], self.ctx, dev)
        return (total / count if count else float("nan")), nonfinite

    def step(self, accumulated: int, ga: int, clip: float | None) -> bool:
        """One optimiser step over the accumulated gradients; False if it was skipped as non-finite."""
        if self.scaler is not None:
            for opt in self.opts.values():
                self.scaler.unscale_(opt)
        if accumulated != ga:  # a short last group: average over the micro-batches it had
            for p in self.params:
                if p.grad is not None:
                    p.grad.mul_(ga / accumulated)
        norm = torch.nn.utils.clip_grad_norm_(self.params, float(clip) if clip is not None else math.inf)
        if self.scaler is not None:  # the scaler skips the step itself on inf/NaN gradients
            for opt in self.opts.values():
                self.scaler.step(opt)
            self.scaler.update()
            return True
        if not torch.isfinite(norm):
            return False
        for opt in self.opts.values():
            opt.step()
        return True

    def validate(self) -> dict[str, float]:
        logits, dims = predict.infer(
            self.model,
            self.dev_ds,
            self.dev_len,
            float(self.tcfg["max_eval_batch_seconds"]),
            self.device,
            self.amp,
            self.min_len,
        )
        rows = self.dev_t.rows
        val_loss = float("nan")
        if len(rows):
            with torch.no_grad():
                val_loss = float(
                    self.objective(
                        torch.from_numpy(logits[rows]),
                        torch.from_numpy(dims[rows]),
                        torch.from_numpy(self.dev_t.cat),
                        torch.from_numpy(self.dev_t.dims),
                    )
                )
        probs = predict.softmax(logits)
        f1 = macro_f1(self.dev_hard, probs.argmax(axis=1))
        jsd = float(metrics.jsd(probs, self.dev_primary, base=2.0).mean())
        return {"val_loss": val_loss, "val_macro_f1": f1, "val_jsd": jsd, "one_minus_macro_f1": 1.0 - f1}

    # -- the loop ----------------------------------------------------------------------------

    def run(self, stop_after_epochs: int | None) -> dict[str, Any]:
        t_start = time.monotonic()
        self.paths.out.mkdir(parents=True, exist_ok=True)
        if self.ctx.is_main:
            self.paths.clean_stale_temporaries()
        distributed.barrier(self.ctx)
        self.load_data()
        self.build()
        state, resumed_from = self.try_resume()
        self.write_config()
        if self.ctx.is_main:
            write_json(self.paths.env, provenance.collect(self.device))
        t = self.tcfg
        max_epochs = int(t["max_epochs"])
        if self.curriculum_cfg["order"] != "none":
            full = curriculum.full_epoch(
                max_epochs,
                self.curriculum_cfg.get("full_at", 0.4),
                self.curriculum_cfg.get("start_fraction", 0.33),
            )
            if full >= max_epochs:
                log.warning(
                    "curriculum never reaches the full training set within %d epochs: NewBob and early stopping never start",
                    max_epochs,
                )
            else:
                log.info("curriculum: full training set from epoch %d of %d", full + 1, max_epochs)
        while not state.finished and state.epochs_done < max_epochs:
            self.run_epoch(state, max_epochs)
            if (
                stop_after_epochs is not None
                and state.epochs_done >= stop_after_epochs
                and not state.finished
            ):
                log.warning(
                    "stopping after epoch %d as requested (stop_after_epochs); rerun to resume",
                    state.epochs_done,
                )
                return {"interrupted": True, "epochs_run": state.epochs_done, "config_hash": self.hash}
        summary = {
            "variant": self.variant,
            "seed": self.seed,
            "best_epoch": state.best_epoch,
            "best_metric": state.best_metric,
            "selection_metric": t["selection_metric"],
            "epochs_run": state.epochs_done,
            "max_epochs": max_epochs,
            "stopped_early": state.stopped_early,
            "total_seconds": round(time.monotonic() - t_start, 3),
            "train_seconds": round(sum(float(r["seconds"]) for r in state.log_rows), 3),
            "config_hash": self.hash,
            "resumed_from_epoch": resumed_from,
            "device": str(self.device),
            "amp": None if self.amp is None else str(self.amp).replace("torch.", ""),
            "n_train": len(self.train_ds),
            "n_dev": len(self.dev_ds),
            "labels_without_audio": self.join_report["labels_without_audio"],
            "world_size": self.ctx.world_size,
        }
        if self.ctx.is_main:
            write_json(self.paths.run, summary)
        distributed.barrier(self.ctx)  # no rank leaves before rank 0's files exist
        log.info(
            "done: best epoch %s, %s = %.6g, %d epochs",
            state.best_epoch,
            t["selection_metric"],
            state.best_metric,
            state.epochs_done,
        )
        return summary

    def write_config(self) -> None:
        if not self.ctx.is_main:
            return
        doc = {
            "model": self.model_cfg,
            "train": self.tcfg,
            "variant": {"name": self.variant, **self.vcfg},
            "seed": self.seed,
            "config_hash": self.hash,
        }
        write_text(self.paths.config, yaml.safe_dump(doc, sort_keys=True))

    def run_epoch(self, state: RunState, max_epochs: int) -> None:
        t0 = time.monotonic()
        t = self.tcfg
        epoch = state.epochs_done  # 0-based index of the epoch being run
        eseed = epoch_seed(self.seed, epoch)
        reseed(eseed + RANK_SEED_STRIDE * self.ctx.rank)  # dropout/masks differ by rank; plans do not
        pool, is_full = curriculum.epoch_pool_from_config(
            self.curriculum_cfg, self.difficulty, self.train_t.classes, epoch, max_epochs, self.seed
        )
        plan = batching.bucket_batches(
            self.train_len[pool], int(t["batch_size"]), int(t["bucket_size_multiplier"]), eseed
        )
        batches, left_out = distributed.shard([pool[b] for b in plan], self.ctx)
        if left_out:
            log.info(
                "epoch %d: %d batch(es) left out so that %d ranks take equal steps",
                epoch + 1,
                left_out,
                self.ctx.world_size,
            )
        lrs = {name: s.value for name, s in self.newbob.items()}
        for name, opt in self.opts.items():
            set_lr(opt, lrs[name])
        train_loss, nonfinite = self.train_epoch(epoch, batches)
        val = distributed.broadcast(self.validate() if self.ctx.is_main else None, self.ctx)
        metric = val[t["selection_metric"]]
        for name in (t["selection_metric"], t["newbob_metric"]):
            if not math.isfinite(val[name]):
                raise TrainingError(
                    f"epoch {epoch + 1}: validation metric {name} is {val[name]}; the run diverged"
                )
        state.epochs_done = epoch + 1
        improved = metric < state.best_metric
        if improved:
            state.best_metric, state.best_epoch = metric, epoch + 1
            state.best_weights = checkpoint.model_state(self.model)
            state.bad_epochs = 0
        elif is_full:
            state.bad_epochs += 1
        annealed = []
        if is_full:
            for name, sched in self.newbob.items():
                old, new = sched(val[t["newbob_metric"]])
                if new != old:
                    annealed.append(f"{name} {old:.4g} -> {new:.4g}")
        else:
            log.info(
                "epoch %d: curriculum pool %d/%d not full; NewBob and early stopping are waiting",
                epoch + 1,
                len(pool),
                len(self.train_ds),
            )
        if is_full and state.bad_epochs >= int(t["early_stopping_patience"]):
            state.finished = state.stopped_early = True
        if state.epochs_done >= max_epochs:
            state.finished = True
        seconds = time.monotonic() - t0
        state.log_rows.append(
            {
                "epoch": epoch + 1,
                "pool_size": len(pool),
                "is_full": bool(is_full),
                "train_loss": train_loss,
                "val_loss": val["val_loss"],
                "val_macro_f1": val["val_macro_f1"],
                "val_jsd": val["val_jsd"],
                "lr_backbone": lrs["backbone"],
                "lr_heads": lrs["heads"],
                "padded_fraction": batching.padded_fraction(self.train_len, batches),
                "batches": len(batches),
                "nonfinite_batches": nonfinite,
                "batches_left_out": left_out,
                "seconds": round(seconds, 3),
            }
        )
        # order matters for crash safety: best, log, then the resume checkpoint (see module docstring)
        if improved:
            self.write_best(state)
        self.write_log(state)
        self.write_resume(state)
        log.info(
            "epoch %d/%d: pool %d%s, train loss %.4f, val loss %.4f, val macro-F1 %.4f, val JSD %.4f, "
            "lr %.3g/%.3g, %s%.1f s",
            epoch + 1,
            max_epochs,
            len(pool),
            "" if is_full else " (curriculum)",
            train_loss,
            val["val_loss"],
            val["val_macro_f1"],
            val["val_jsd"],
            lrs["backbone"],
            lrs["heads"],
            "best, " if improved else "",
            seconds,
        )
        if annealed:
            log.info(
                "NewBob (%s) anneals the learning rate for the next epoch: %s",
                t["newbob_metric"],
                ", ".join(annealed),
            )
        if state.stopped_early:
            log.info(
                "early stopping: %d epochs without improvement of %s", state.bad_epochs, t["selection_metric"]
            )


def train(
    labels_path: str | Path,
    manifest_path: str | Path,
    out_dir: str | Path,
    cfg: Mapping[str, Any],
    variant: str,
    seed: int,
    threads: int | None = None,
    *,
    stop_after_epochs: int | None = None,
) -> dict[str, Any]:
    """Train ``variant`` with ``seed``; returns the ``run.json`` summary.

    ``threads``: the job's thread count (used when ``train.num_threads`` is null).
    ``stop_after_epochs`` (tests): return right after the checkpoint of that
    epoch, as if the job had been killed; not part of the config hash.
    """
    tcfg = config_mod.variant_train(cfg, variant) if variant in cfg["variants"] else cfg["train"]
    device = predict.resolve_device(tcfg["device"])
    n_threads = tcfg.get("num_threads") or threads
    ctx = distributed.context_from_env()
    device = distributed.device_for(ctx, device)
    with torch_settings(bool(tcfg["deterministic"]), n_threads, device):
        distributed.init(ctx, device)
        try:
            trainer = _Trainer(
                Path(labels_path), Path(manifest_path), Path(out_dir), cfg, variant, seed, device, ctx
            )
            return trainer.run(stop_after_epochs)
        finally:
            distributed.shutdown(ctx)

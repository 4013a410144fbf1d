"""What is optimised and how: the model, its two AdamW optimisers, the objective, AMP scaling.

Two AdamW optimisers, one for the backbone (``lr_backbone``) and one for the
pooling, layer weights and heads (``lr_heads``), both with ``weight_decay``.
Gradients accumulate over ``grad_accum`` micro-batches of ``batch_size``
(a short last group is rescaled to a mean over the micro-batches it had); the
norm over all parameters is clipped at ``grad_clip``. Under fp16 autocast one
GradScaler serves both optimisers and skips steps with inf/NaN gradients
itself; otherwise a step whose gradient norm is not finite is skipped and
reported (docs/training.md, "One optimisation step").

The objective is the variant's categorical loss plus ``dim_weight`` times the
dimensional loss, in fp32 (:mod:`sertools.model.losses`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from sertools.data import dataset
from sertools.model import losses
from sertools.model.network import SERModel, build_model, min_input_samples
from sertools.training import distributed
from sertools.training.device import amp_dtype
from sertools.training.job import Job
from sertools.training.schedulers import set_lr
from sertools.training.seeding import reseed

log = logging.getLogger(__name__)


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


def make_objective(job: Job, train_targets: dataset.Targets) -> Objective:
    """The job's objective; ``cbce`` weights come from the Train class counts."""
    t = job.train
    weight = None
    if job.variant["loss"] == "cbce":
        weight = losses.class_weights(train_targets.cat, t["cbce_weighting"], t["cbce_beta"])
        log.info("cbce class weights (%s): %s", t["cbce_weighting"], np.round(weight.numpy(), 4).tolist())
    return Objective(
        job.variant["loss"], t["dim_loss"], float(t["dim_weight"]), float(t["label_smoothing"]), weight
    )


@dataclass(frozen=True, eq=False)
class Optimisation:
    """The model and everything that updates it (built by :func:`build_optimisation`)."""

    model: SERModel
    forward_model: torch.nn.Module  # the DDP wrapper under data parallelism, else the model itself
    optimizers: Mapping[str, torch.optim.Optimizer]  # parameter group -> its AdamW
    params: list[torch.nn.Parameter]  # every trainable parameter (gradient clipping)
    scaler: torch.amp.GradScaler | None  # fp16 autocast only
    amp: torch.dtype | None  # autocast dtype of the forward pass (None: fp32)
    objective: Objective
    grad_accum: int
    grad_clip: float | None

    @property
    def min_samples(self) -> int:
        """The shortest input the model accepts (its receptive field)."""
        return min_input_samples(self.model)

    def set_learning_rates(self, lrs: Mapping[str, float]) -> None:
        for group, opt in self.optimizers.items():
            set_lr(opt, lrs[group])

    def zero_grad(self) -> None:
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)

    def backward(self, loss: torch.Tensor) -> None:
        """Accumulate the gradient of one micro-batch's loss (scaled under fp16)."""
        scaled = loss / self.grad_accum
        (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()

    def ends_accumulation(self, batch_index: int, n_batches: int) -> bool:
        """Whether an optimiser step follows micro-batch ``batch_index`` (0-based) of ``n_batches``."""
        return (batch_index + 1) % self.grad_accum == 0 or batch_index + 1 == n_batches

    def step(self, accumulated: int) -> bool:
        """One step over ``accumulated`` micro-batches' gradients; False if skipped as non-finite."""
        if self.scaler is not None:
            for opt in self.optimizers.values():
                self.scaler.unscale_(opt)
        if accumulated != self.grad_accum:  # a short last group: average over the micro-batches it had
            for p in self.params:
                if p.grad is not None:
                    p.grad.mul_(self.grad_accum / accumulated)
        clip = float(self.grad_clip) if self.grad_clip is not None else math.inf
        norm = torch.nn.utils.clip_grad_norm_(self.params, clip)
        if self.scaler is not None:  # the scaler skips the step itself on inf/NaN gradients
            for opt in self.optimizers.values():
                self.scaler.step(opt)
            self.scaler.update()
            return True
        if not torch.isfinite(norm):
            return False
        for opt in self.optimizers.values():
            opt.step()
        return True


def build_optimisation(
    job: Job, train_targets: dataset.Targets, device: torch.device, ctx: distributed.DistContext
) -> Optimisation:
    """A freshly initialised model (seeded with the job's seed) and its optimisers."""
    reseed(job.seed)
    model = build_model(job.model)
    model.to(device)
    forward_model: torch.nn.Module = model
    if ctx.enabled:
        ids = [device.index] if device.type == "cuda" else None
        # layerdrop and curricula can leave parameters without gradients in a step
        forward_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=ids, find_unused_parameters=True
        )
    backbone, heads = model.param_groups()
    t = job.train
    optimizers = {
        group: torch.optim.AdamW(params, lr=t[lr_key], weight_decay=t["weight_decay"])
        for group, params, lr_key in (("backbone", backbone, "lr_backbone"), ("heads", heads, "lr_heads"))
        if params
    }
    amp = amp_dtype(t["amp"], device)
    return Optimisation(
        model=model,
        forward_model=forward_model,
        optimizers=optimizers,
        params=[*backbone, *heads],
        scaler=torch.amp.GradScaler("cuda") if amp == torch.float16 else None,
        amp=amp,
        objective=make_objective(job, train_targets),
        grad_accum=int(t["grad_accum"]),
        grad_clip=t["grad_clip"],
    )

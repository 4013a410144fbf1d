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

A frozen-upstream head (``model.mode: frozen``) has no backbone parameters, so
it has only the heads' optimiser.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from sertools.classes import CLASSES, K
from sertools.data import dataset
from sertools.device import amp_dtype
from sertools.model import factory, losses, release_counts, release_losses
from sertools.training.runtime import distributed
from sertools.training.runtime.job import Job
from sertools.training.schedulers import set_lr
from sertools.training.runtime.seeding import reseed
from sertools.training.unfreezing import Unfreezing, freeze, layer_parameters, set_trainable_top

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Objective:
    """Categorical loss + ``dim_weight`` x dimensional loss, in fp32.

    ``class_weight``: the ``cbce`` weights, or the WKLD weights of ``kl``.
    ``sample_weights`` (the entropy curriculum, :mod:`sertools.training.entropy_curriculum`)
    reweight the categorical loss only: ``mean(c_i l_i)``, or for ``cbce`` with
    ``weighted_mean`` reduction ``sum(c_i w_yi l_i) / sum(c_i w_yi)``.
    """

    kind: str
    dim_kind: str
    dim_weight: float
    label_smoothing: float = 0.0
    class_weight: torch.Tensor | None = None
    cbce_reduction: str = "weighted_mean"
    target_floor: float = 0.0
    dim_attribute_weights: Mapping[str, float] | None = None
    dim_ccc_weight: float = 0.1

    def __call__(
        self,
        logits: torch.Tensor,
        dims: torch.Tensor,
        cat: torch.Tensor,
        dim_t: torch.Tensor,
        *,
        dims_logvar: torch.Tensor | None = None,
        sample_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        cat_loss = self.categorical(logits.float(), cat, sample_weights)
        if self.dim_weight == 0:
            return cat_loss
        ok = torch.isfinite(dim_t).all(dim=1)  # utterances without ratings do not enter the dim loss
        if not bool(ok.any()):
            return cat_loss
        logvar = None if dims_logvar is None else dims_logvar.float()[ok]
        dim_loss = self.dimensional(dims.float()[ok], dim_t[ok], logvar)
        return losses.total_loss(cat_loss, dim_loss, self.dim_weight)

    @property
    def per_sample(self) -> bool:
        """Whether the categorical loss is reduced from per-sample losses even without sample weights."""
        if self.kind == "cbce":
            return self.cbce_reduction == "mean"
        return self.kind == "kl" and (self.target_floor > 0 or self.class_weight is not None)

    def categorical(
        self, logits: torch.Tensor, cat: torch.Tensor, sample_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        weight = None if self.class_weight is None else self.class_weight.to(logits.device)
        if sample_weights is None and not self.per_sample:
            return losses.categorical_loss(self.kind, logits, cat, weight, self.label_smoothing)
        per = losses.categorical_per_sample(
            self.kind,
            logits,
            cat,
            class_weight=weight,
            label_smoothing=self.label_smoothing,
            target_floor=self.target_floor,
        )
        c = torch.ones_like(per) if sample_weights is None else sample_weights.to(per)
        if self.kind == "cbce" and self.cbce_reduction == "weighted_mean":
            w = weight.to(per)[cat.long()] * c
            return (c * per).sum() / w.sum().clamp_min(torch.finfo(torch.float32).tiny)
        return (c * per).mean()

    def dimensional(
        self, dims: torch.Tensor, target: torch.Tensor, logvar: torch.Tensor | None
    ) -> torch.Tensor:
        if self.dim_kind != "gaussian_nll_ccc":
            return losses.dimensional_loss(self.dim_kind, dims, target)
        if logvar is None:
            raise ValueError(
                "train.dim_loss gaussian_nll_ccc needs a model that predicts a log-variance (model.head: tc_gru)"
            )
        weights = dict(self.dim_attribute_weights or release_losses.DEFAULT_DIM_WEIGHTS)
        return release_losses.vad_loss(dims, logvar, target, weights, self.dim_ccc_weight)


def class_counts(job: Job, train_targets: dataset.Targets, kind: str) -> np.ndarray:
    """n_c behind ``cbce`` (``kind`` cbce) or WKLD (``kind`` wkld) weights: Train's own or the release's."""
    if job.train["class_counts"] == "release":
        return release_counts.release_counts(kind, CLASSES)
    classes = np.asarray(train_targets.classes)
    return np.bincount(classes[classes >= 0], minlength=K).astype(np.float64)


def make_objective(job: Job, train_targets: dataset.Targets) -> Objective:
    """The job's objective; ``cbce`` and WKLD weights come from the class counts (:func:`class_counts`)."""
    t, kind = job.train, job.variant["loss"]
    weight = None
    if kind == "cbce":
        if t["class_counts"] == "train":
            weight = losses.class_weights(train_targets.cat, t["cbce_weighting"], t["cbce_beta"])
        else:
            counts = class_counts(job, train_targets, "cbce")
            weight = losses.class_weights_from_counts(counts, t["cbce_weighting"], t["cbce_beta"])
        log.info("cbce class weights (%s): %s", t["cbce_weighting"], np.round(weight.numpy(), 4).tolist())
    elif kind == "kl" and t["kl_class_weighting"] == "inverse_frequency":
        counts = class_counts(job, train_targets, "wkld")
        if (counts == 0).any():
            log.warning(
                "WKLD: classes %s have no Train example; their count is taken as 1",
                np.flatnonzero(counts == 0).tolist(),
            )
        low, high = t["kl_class_weight_clamp"]
        w = release_losses.inverse_frequency_weights(np.maximum(counts, 1.0), clamp=(low, high))
        weight = torch.tensor(w, dtype=torch.float32)
        log.info("WKLD class weights: %s", np.round(w, 4).tolist())
    return Objective(
        kind,
        t["dim_loss"],
        float(t["dim_weight"]),
        float(t["label_smoothing"]),
        weight,
        cbce_reduction=t["cbce_reduction"],
        target_floor=float(t["kl_target_floor"]) if kind == "kl" else 0.0,
        dim_attribute_weights=dict(t["dim_attribute_weights"]),
        dim_ccc_weight=float(t["dim_ccc_weight"]),
    )


@dataclass(eq=False)
class Optimisation:
    """The model and everything that updates it (built by :func:`build_optimisation`)."""

    model: torch.nn.Module  # SERModel, or FeatureHeadModel for a frozen upstream
    forward_model: torch.nn.Module  # the DDP wrapper under data parallelism, else the model itself
    optimizers: Mapping[str, torch.optim.Optimizer]  # parameter group -> its AdamW
    params: list[torch.nn.Parameter]  # every trainable parameter (gradient clipping)
    scaler: torch.amp.GradScaler | None  # fp16 autocast only
    amp: torch.dtype | None  # autocast dtype of the forward pass (None: fp32)
    objective: Objective
    grad_accum: int
    grad_clip: float | None
    unfreezing: Unfreezing | None = None  # gradual unfreezing of the top transformer layers
    wrap: Callable[[torch.nn.Module], torch.nn.Module] | None = None  # the DDP wrapper's maker

    def start_epoch(self, epoch: int, lrs: Mapping[str, float]) -> dict[str, float]:
        """Trainable layers and learning rates of the 0-based ``epoch`` (NewBob's ``lrs`` times the
        unfreezing factor); returns the learning rates set.

        Under data parallelism a change of the trainable layers re-wraps the model: DDP registers
        its gradient hooks on the parameters that require a gradient when it wraps. Every rank
        starts the same epoch together, so the new wrapper's set-up collectives line up.
        """
        lrs = dict(lrs)
        if self.unfreezing is not None:
            before = self.trainable_layers
            set_trainable_top(self.model.encoder_layers(), self.unfreezing.layers(epoch + 1))
            lrs["backbone"] = lrs["backbone"] * self.unfreezing.lr_factor(epoch + 1)
            if self.wrap is not None and self.trainable_layers != before:
                self.forward_model = self.wrap(self.model)
        self.set_learning_rates(lrs)
        return lrs

    @property
    def trainable_layers(self) -> int | None:
        """Transformer layers training now (None without an unfreezing schedule)."""
        if self.unfreezing is None:
            return None
        return sum(any(p.requires_grad for p in layer.parameters()) for layer in self.model.encoder_layers())

    @property
    def min_samples(self) -> int:
        """The shortest input the model accepts (its receptive field)."""
        return factory.min_input_length(self.model)

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
    job: Job,
    train_targets: dataset.Targets,
    device: torch.device,
    ctx: distributed.DistContext,
    feature_shape: tuple[int, int] | None = None,
) -> Optimisation:
    """A freshly initialised model (seeded with the job's seed) and its optimisers.

    ``feature_shape``: (L, D) of the feature rows of a frozen-upstream job.
    """
    t = job.train
    unfreezing = Unfreezing.from_train(t)
    if unfreezing is not None and job.frozen:
        raise ValueError(
            "train.unfreeze: a frozen-upstream head (model.mode: frozen) has no layers to unfreeze"
        )
    reseed(job.seed)
    model = factory.build(job.model, feature_shape)
    model.to(device)
    if unfreezing is None:
        backbone, heads = model.param_groups()
    else:
        freeze(model.backbone)
        heads = model.param_groups()[1]
        backbone = layer_parameters(model.encoder_layers())
    wrap = None
    if ctx.enabled:
        ids = [device.index] if device.type == "cuda" else None

        def wrap(m: torch.nn.Module) -> torch.nn.Module:
            # layerdrop and curricula can leave parameters without gradients in a step
            return torch.nn.parallel.DistributedDataParallel(m, device_ids=ids, find_unused_parameters=True)

    forward_model = wrap(model) if wrap is not None else model
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
        unfreezing=unfreezing,
        wrap=wrap,
    )

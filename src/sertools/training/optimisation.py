"""What is optimised and how: parameter groups, AdamW, the objective, NewBob, gradual unfreezing.

Read top to bottom, in the order an epoch uses them (docs/training.md, "One
optimisation step" and "Learning rates: NewBob"):

* :data:`PARAM_GROUPS`: the backbone, and everything else (layer weights,
  pooling or TC-GRU, heads), each with its own learning rate;
* :class:`Optimisation`: what the loop calls. At the start of an epoch it sets
  the trainable layers and the learning rates; for every micro-batch it
  accumulates the gradient; after ``grad_accum`` micro-batches of
  ``batch_size`` it clips the norm over all trainable parameters at
  ``grad_clip`` and steps one AdamW per group (``weight_decay`` for both). A
  short last group of an epoch is rescaled to a mean over the micro-batches it
  had. Under fp16 autocast one GradScaler serves both optimisers and skips
  steps with inf/NaN gradients itself; otherwise a step whose gradient norm is
  not finite is skipped and reported. A frozen-upstream head
  (``model.mode: frozen``) has no backbone parameters, so it has only the
  heads' optimiser;
* :func:`build_optimisation`: the seeded model and its optimisers;
* :class:`Objective`: the variant's categorical loss plus ``dim_weight`` times
  the dimensional loss, in fp32 (:mod:`sertools.model.losses`);
* :class:`NewBob`: the learning-rate schedule of each group, which the run
  state (:mod:`sertools.training.state`) calls after validation;
* :class:`Unfreezing`: the paper release's gradual unfreezing of the top
  transformer layers (``train.unfreeze``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from sertools.classes import CLASSES, MSP_PODCAST, ClassSet
from sertools.data import targets as data_targets
from sertools.device import amp_dtype
from sertools.model import factory, frozen, losses, network, release_counts, release_losses
from sertools.training.runtime import distributed
from sertools.training.runtime.job import Job
from sertools.training.runtime.seeding import reseed

log = logging.getLogger(__name__)

#: parameter group -> the train key of its initial learning rate (and the log column of its current one)
PARAM_GROUPS: dict[str, str] = {"backbone": "lr_backbone", "heads": "lr_heads"}


@dataclass(eq=False)
class Optimisation:
    """The model and everything that updates it (built by :func:`build_optimisation`)."""

    model: network.SERModel | frozen.FeatureHeadModel  # FeatureHeadModel: a frozen upstream
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
            set_trainable_top(_fine_tuned(self.model).encoder_layers(), self.unfreezing.layers(epoch + 1))
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
        return sum(
            any(p.requires_grad for p in layer.parameters())
            for layer in _fine_tuned(self.model).encoder_layers()
        )

    @property
    def min_samples(self) -> int:
        """The shortest input the model accepts (its receptive field)."""
        return factory.min_input_length(self.model)

    def set_learning_rates(self, lrs: Mapping[str, float]) -> None:
        """Set each group's learning rate (``lrs`` may name groups without an optimiser)."""
        for group, opt in self.optimizers.items():
            set_lr(opt, lrs[group])

    def zero_grad(self) -> None:
        """Drop the accumulated gradients (set to None, as a fresh optimiser has them)."""
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
        if self.grad_clip is None:  # the norm only decides whether to step (scaling by 1.0 is a no-op)
            norm = torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None])
        else:
            norm = torch.nn.utils.clip_grad_norm_(self.params, float(self.grad_clip))
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
    train_targets: data_targets.Targets,
    device: torch.device,
    ctx: distributed.DistContext,
    feature_shape: tuple[int, int] | None = None,
    classes: ClassSet = MSP_PODCAST,
) -> Optimisation:
    """A freshly initialised model (seeded with the job's seed) and its optimisers.

    ``feature_shape``: (L, D) of the feature rows of a frozen-upstream job; ``classes``: the label
    table's class set (the model's outputs, the class weights).
    """
    t = job.train
    unfreezing = Unfreezing.from_train(t)
    if unfreezing is not None and job.frozen:
        raise ValueError(
            "train.unfreeze: a frozen-upstream head (model.mode: frozen) has no layers to unfreeze"
        )
    reseed(job.seed)
    model = factory.build(job.model, feature_shape, classes)
    model.to(device)
    if unfreezing is None:
        backbone, heads = model.param_groups()
    else:
        fine_tuned = _fine_tuned(model)
        freeze(fine_tuned.backbone)
        heads = fine_tuned.param_groups()[1]
        backbone = layer_parameters(fine_tuned.encoder_layers())
    wrap = ddp_wrapper(device) if ctx.enabled else None
    forward_model = wrap(model) if wrap is not None else model
    groups = {"backbone": backbone, "heads": heads}
    optimizers = {
        # foreach: one call per update step for all of a group's tensors (the per-tensor loop
        # gives the same numbers; on the CPU it costs a Python round trip per tensor)
        group: torch.optim.AdamW(groups[group], lr=t[key], weight_decay=t["weight_decay"], foreach=True)
        for group, key in PARAM_GROUPS.items()
        if groups[group]
    }
    amp = amp_dtype(t["amp"], device)
    return Optimisation(
        model=model,
        forward_model=forward_model,
        optimizers=optimizers,
        params=[*backbone, *heads],
        scaler=torch.amp.GradScaler("cuda") if amp == torch.float16 else None,
        amp=amp,
        objective=make_objective(job, train_targets, classes),
        grad_accum=int(t["grad_accum"]),
        grad_clip=t["grad_clip"],
        unfreezing=unfreezing,
        wrap=wrap,
    )


def _fine_tuned(model: torch.nn.Module) -> network.SERModel:
    """``model`` as the fine-tuned model whose transformer layers gradual unfreezing steps through
    (build_optimisation refuses unfreezing for a frozen-upstream head)."""
    if not isinstance(model, network.SERModel):
        raise TypeError(f"gradual unfreezing needs a fine-tuned SERModel, got {type(model).__name__}")
    return model


def ddp_wrapper(device: torch.device) -> Callable[[torch.nn.Module], torch.nn.Module]:
    """What wraps the model in DDP under data parallelism (again whenever unfreezing changes the trainable set)."""
    ids = [device.index] if device.type == "cuda" else None

    def wrap(model: torch.nn.Module) -> torch.nn.Module:
        # LayerDrop, or a batch without dimension ratings (no dimensional loss), leaves parameters
        # without a gradient in a step
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)

    return wrap


# ----------------------------------------------------------------------------- the objective


@dataclass(frozen=True)
class Objective:
    """Categorical loss + ``dim_weight`` x dimensional loss, in fp32.

    ``class_weight``: the ``cbce`` weights, or the WKLD weights of ``kl``.
    ``sample_weights`` (:mod:`sertools.training.sample_weights`) reweight the categorical loss only: ``mean(c_i l_i)``, or for ``cbce`` with
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
        if self.dim_weight == 0 or dim_t.shape[-1] == 0:  # a class set without A/V/D has no dim loss
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
            if weight is None:
                raise ValueError("the cbce loss needs its class weights (Objective.class_weight)")
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


def class_counts(
    job: Job, train_targets: data_targets.Targets, kind: str, classes: ClassSet = MSP_PODCAST
) -> np.ndarray:
    """n_c behind ``cbce`` (``kind`` cbce) or WKLD (``kind`` wkld) weights: Train's own or the release's
    (MSP-Podcast's counts: only for its class set)."""
    if job.train["class_counts"] == "release":
        if classes is not MSP_PODCAST:
            raise ValueError(
                f"train.class_counts release are the paper release's MSP-Podcast counts; the {classes.name} "
                "class set needs class_counts: train"
            )
        return release_counts.release_counts(kind, CLASSES)
    seen = np.asarray(train_targets.classes)
    return np.bincount(seen[seen >= 0], minlength=classes.k).astype(np.float64)


def make_objective(
    job: Job, train_targets: data_targets.Targets, classes: ClassSet = MSP_PODCAST
) -> Objective:
    """The job's objective; ``cbce`` and WKLD weights come from the class counts (:func:`class_counts`)
    over the ``classes`` of the label table."""
    t, kind = job.train, job.variant["loss"]
    weight = None
    if kind == "cbce":
        if t["class_counts"] == "train":
            weight = losses.class_weights(
                train_targets.cat, t["cbce_weighting"], t["cbce_beta"], num_classes=classes.k
            )
        else:
            counts = class_counts(job, train_targets, "cbce", classes)
            weight = losses.class_weights_from_counts(counts, t["cbce_weighting"], t["cbce_beta"])
        log.info("cbce class weights (%s): %s", t["cbce_weighting"], np.round(weight.numpy(), 4).tolist())
    elif kind == "kl" and t["kl_class_weighting"] == "inverse_frequency":
        counts = class_counts(job, train_targets, "wkld", classes)
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


# ----------------------------------------------------------------------------- NewBob


class _HasParamGroups(Protocol):
    param_groups: list[dict[str, Any]]


class NewBob:
    """Anneal a value by ``annealing_factor`` when the metric stops improving.

    SpeechBrain's NewBob scheduler, reimplemented with its semantics (docs/training.md,
    "Learning rates: NewBob"), including its less obvious parts:

    * the improvement is relative to the **last** metric, not the best so far;
    * the first call never anneals (there is no previous metric);
    * ``current_patient`` is not reset on good epochs, so with ``patient = p`` the
      value drops on the (p+1)-th insufficient epoch since the last anneal, whether
      or not those epochs were consecutive.

    The metric must be lower-is-better and positive (a loss, ``1 - F1``). One
    instance drives one parameter group (:func:`newbob_schedulers`).

    >>> s = NewBob(1.0, annealing_factor=0.5)
    >>> s(10.0), s(2.0), s(2.5)
    ((1.0, 1.0), (1.0, 1.0), (1.0, 0.5))
    """

    def __init__(
        self,
        initial_value: float,
        annealing_factor: float = 0.9,
        improvement_threshold: float = 0.0025,
        patient: int = 0,
    ) -> None:
        if not initial_value > 0:
            raise ValueError(f"NewBob: initial_value must be > 0, got {initial_value!r}")
        if not 0 < annealing_factor <= 1:
            raise ValueError(f"NewBob: annealing_factor must be in (0, 1], got {annealing_factor!r}")
        if patient < 0:
            raise ValueError(f"NewBob: patient must be >= 0, got {patient!r}")
        self.value = float(initial_value)
        self.annealing_factor = float(annealing_factor)
        self.improvement_threshold = float(improvement_threshold)
        self.patient = int(patient)
        self.current_patient = int(patient)
        self.metric_values: list[float] = []

    def __call__(self, metric_value: float) -> tuple[float, float]:
        """Record one epoch's metric; return ``(old_value, new_value)``."""
        metric_value = float(metric_value)
        if not math.isfinite(metric_value):
            raise ValueError(f"NewBob: metric must be finite, got {metric_value!r}")
        old = new = self.value
        if self.metric_values:
            prev = self.metric_values[-1]
            improvement = 0.0 if prev == 0 else (prev - metric_value) / prev
            if improvement < self.improvement_threshold:
                if self.current_patient == 0:
                    new = self.value * self.annealing_factor
                    self.current_patient = self.patient
                else:
                    self.current_patient -= 1
        self.metric_values.append(metric_value)
        self.value = new
        return old, new

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (value, metric history, patience counter, hyperparameters)."""
        return {
            "value": self.value,
            "metric_values": list(self.metric_values),
            "current_patient": self.current_patient,
            "annealing_factor": self.annealing_factor,
            "improvement_threshold": self.improvement_threshold,
            "patient": self.patient,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict`."""
        try:
            self.value = float(state["value"])
            self.metric_values = [float(m) for m in state["metric_values"]]
            self.current_patient = int(state["current_patient"])
            self.annealing_factor = float(state.get("annealing_factor", self.annealing_factor))
            self.improvement_threshold = float(state.get("improvement_threshold", self.improvement_threshold))
            self.patient = int(state.get("patient", self.patient))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"NewBob.load_state_dict: malformed state ({e!r})") from None

    def __repr__(self) -> str:
        return (
            f"NewBob(value={self.value:g}, factor={self.annealing_factor:g}, "
            f"threshold={self.improvement_threshold:g}, patient={self.patient}, "
            f"current_patient={self.current_patient}, n_metrics={len(self.metric_values)})"
        )


def newbob_schedulers(train: Mapping[str, Any]) -> dict[str, NewBob]:
    """One NewBob per parameter group, starting at the group's configured learning rate."""
    return {
        group: NewBob(train[key], train["newbob_factor"], train["newbob_threshold"], train["newbob_patience"])
        for group, key in PARAM_GROUPS.items()
    }


def set_lr(optimizer: _HasParamGroups | Iterable[dict[str, Any]], lr: float) -> None:
    """Set ``lr`` on every parameter group of ``optimizer`` (or on an iterable of groups)."""
    groups = optimizer.param_groups if hasattr(optimizer, "param_groups") else optimizer
    for group in groups:
        group["lr"] = float(lr)


# ----------------------------------------------------------------------------- gradual unfreezing


# ``train.unfreeze`` is a list of steps ``{epoch, layers, lr_factor}``. At the start of every
# (1-based) epoch the schedule sets which layers train: the top ``layers`` transformer layers of
# the latest step whose epoch has come, none before the first step. The CNN feature encoder, the
# feature projection, the positional convolution and the encoder's input LayerNorm never train
# (docs/paper_release.md, "Training").
#
# The state is a pure function of the epoch, so a resumed run sets the same layers as an
# uninterrupted one and nothing needs saving. The backbone's optimiser group holds the parameters
# of every transformer layer from the start; a frozen parameter has no gradient, so AdamW leaves
# it (and its weight decay) alone, as in the release.
#
# ``lr_factor`` multiplies the backbone learning rate that NewBob gives: only in the step's own
# epoch (``unfreeze_lr_factor_scope: epoch``, what the release does in effect, since NewBob
# overwrites the group's rate at the end of that epoch) or until the next step (``persistent``).

SCOPES = ("epoch", "persistent")


@dataclass(frozen=True)
class Step:
    """One step of an unfreezing schedule: from 1-based ``epoch`` on, the top ``layers`` layers train."""

    epoch: int  # 1-based
    layers: int
    lr_factor: float = 1.0


@dataclass(frozen=True)
class Unfreezing:
    """A validated gradual-unfreezing schedule (build it with :meth:`from_train`; see the comment above)."""

    steps: tuple[Step, ...]
    scope: str = "epoch"

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("train.unfreeze needs at least one step (or null for no schedule)")
        epochs = [s.epoch for s in self.steps]
        if epochs != sorted(set(epochs)) or epochs[0] < 1:
            raise ValueError(f"train.unfreeze epochs must be increasing and >= 1, got {epochs}")
        if self.scope not in SCOPES:
            raise ValueError(f"train.unfreeze_lr_factor_scope must be one of {SCOPES}, got {self.scope!r}")

    @classmethod
    def from_train(cls, train: Mapping[str, Any]) -> Unfreezing | None:
        """The schedule of a train section, or None when ``unfreeze`` is null."""
        steps: Sequence[Mapping[str, Any]] | None = train["unfreeze"]
        if steps is None:
            return None
        return cls(
            tuple(Step(int(s["epoch"]), int(s["layers"]), float(s.get("lr_factor", 1.0))) for s in steps),
            str(train["unfreeze_lr_factor_scope"]),
        )

    def current(self, epoch: int) -> Step | None:
        """The latest step whose epoch is at most the 1-based ``epoch`` (None before the first)."""
        done = [s for s in self.steps if s.epoch <= epoch]
        return done[-1] if done else None

    def layers(self, epoch: int) -> int:
        """Transformer layers (from the top) that train in the 1-based ``epoch``."""
        step = self.current(epoch)
        return 0 if step is None else step.layers

    def lr_factor(self, epoch: int) -> float:
        """The factor on the backbone's learning rate in the 1-based ``epoch``."""
        step = self.current(epoch)
        if step is None or (self.scope == "epoch" and step.epoch != epoch):
            return 1.0
        return step.lr_factor


def layer_parameters(layers: Iterable[nn.Module]) -> list[nn.Parameter]:
    """Every parameter of the transformer layers: the backbone's optimiser group under a schedule."""
    return [p for layer in layers for p in layer.parameters()]


def freeze(module: nn.Module) -> None:
    """Stop every parameter of ``module`` from training."""
    for p in module.parameters():
        p.requires_grad_(False)


def set_trainable_top(layers: Sequence[nn.Module] | nn.ModuleList, n: int) -> int:
    """Make the top ``n`` of ``layers`` trainable and the rest frozen; returns the number trainable."""
    n = max(0, min(int(n), len(layers)))
    for i, layer in enumerate(layers):
        for p in layer.parameters():
            p.requires_grad_(i >= len(layers) - n)
    return n

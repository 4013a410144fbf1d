"""Gradual unfreezing of the backbone's top transformer layers (the paper release's schedule).

``train.unfreeze`` is a list of steps ``{epoch, layers, lr_factor}``. At the
start of every (1-based) epoch the schedule sets which layers train: the top
``layers`` transformer layers of the latest step whose epoch has come, none
before the first step. The CNN feature encoder, the feature projection, the
positional convolution and the encoder's input LayerNorm never train
(docs/paper_release.md, "Training").

The state is a pure function of the epoch, so a resumed run sets the same
layers as an uninterrupted one and nothing needs saving. The backbone's
optimiser group holds the parameters of every transformer layer from the start;
a frozen parameter has no gradient, so AdamW leaves it (and its weight decay)
alone, as in the release.

``lr_factor`` multiplies the backbone learning rate that NewBob gives: only in
the step's own epoch (``unfreeze_lr_factor_scope: epoch``, what the release
does in effect, since NewBob overwrites the group's rate at the end of that
epoch) or until the next step (``persistent``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

SCOPES = ("epoch", "persistent")


@dataclass(frozen=True)
class Step:
    epoch: int  # 1-based
    layers: int
    lr_factor: float = 1.0


@dataclass(frozen=True)
class Unfreezing:
    """A validated unfreezing schedule (build it with :meth:`from_train`)."""

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
        steps: Sequence[Mapping[str, Any]] | None = train.get("unfreeze")
        if steps is None:
            return None
        return cls(
            tuple(Step(int(s["epoch"]), int(s["layers"]), float(s.get("lr_factor", 1.0))) for s in steps),
            str(train.get("unfreeze_lr_factor_scope", "epoch")),
        )

    def current(self, epoch: int) -> Step | None:
        """The latest step whose epoch is at most the 1-based ``epoch`` (None before the first)."""
        done = [s for s in self.steps if s.epoch <= epoch]
        return done[-1] if done else None

    def layers(self, epoch: int) -> int:
        step = self.current(epoch)
        return 0 if step is None else step.layers

    def lr_factor(self, epoch: int) -> float:
        step = self.current(epoch)
        if step is None or (self.scope == "epoch" and step.epoch != epoch):
            return 1.0
        return step.lr_factor


def layer_parameters(layers: Sequence[nn.Module]) -> list[nn.Parameter]:
    """Every parameter of the transformer layers: the backbone's optimiser group under a schedule."""
    return [p for layer in layers for p in layer.parameters()]


def freeze(module: nn.Module) -> None:
    for p in module.parameters():
        p.requires_grad_(False)


def set_trainable_top(layers: Sequence[nn.Module], n: int) -> int:
    """Make the top ``n`` of ``layers`` trainable and the rest frozen; returns the number trainable."""
    n = max(0, min(int(n), len(layers)))
    for i, layer in enumerate(layers):
        for p in layer.parameters():
            p.requires_grad_(i >= len(layers) - n)
    return n

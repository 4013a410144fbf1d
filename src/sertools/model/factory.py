"""Which model a ``model`` section or a saved architecture means: fine-tuned WavLM or a frozen-feature head.

``model.mode: finetune`` (default) is :class:`sertools.model.network.SERModel`
on waveforms; ``frozen`` is :class:`sertools.model.frozen.FeatureHeadModel` on
cached ``model.upstream`` features, whose shape comes from the features file.
Training and prediction build and rebuild models only through this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from sertools.classes import MSP_PODCAST, ClassSet
from sertools.model import frozen, network


def is_frozen(model_cfg: Mapping[str, Any]) -> bool:
    return model_cfg["mode"] == "frozen"


def build(
    model_cfg: Mapping[str, Any],
    feature_shape: tuple[int, int] | None = None,
    classes: ClassSet = MSP_PODCAST,
) -> network.SERModel | frozen.FeatureHeadModel:
    """A fresh model for a resolved ``model`` section; ``feature_shape`` (L, D) for a frozen head.

    ``classes``: the class set it predicts (one logit per class; a dimensional head only when the
    class set has A/V/D).
    """
    if not is_frozen(model_cfg):
        return network.build_model(model_cfg, classes)
    if feature_shape is None:
        raise ValueError("model.mode frozen needs the shape of its features")
    head = model_cfg["frozen"]
    return frozen.FeatureHeadModel(
        model_cfg["upstream"],
        *feature_shape,
        hidden=int(head["hidden"]),
        dropout=float(head["dropout"]),
        dim_scale=model_cfg["dim_scale"],
        num_classes=classes.k,
        dimensions=classes.dimensions,
    )


def from_architecture(arch: Mapping[str, Any]) -> nn.Module:
    """Random-init model of a saved architecture description (no download)."""
    if arch.get("kind") == frozen.KIND:
        return frozen.from_architecture(dict(arch))
    return network.model_from_architecture(arch)


def restore(
    arch: Mapping[str, Any], weights: Mapping[str, Tensor], waveform_stats: Mapping[str, float] | None = None
) -> nn.Module:
    """The model of a saved architecture with its saved weights (all of them, nothing else) and, for a
    fine-tuned model, its waveform statistics (``waveform_norm: train_stats``). Prediction from a
    checkpoint and from an exported folder (:mod:`sertools.inference.bundle`) both rebuild models here.

    Raises ValueError (the architecture) or RuntimeError (weights that do not fit it).
    """
    model = from_architecture(arch)
    model.load_state_dict(dict(weights), strict=True)
    if waveform_stats is not None and isinstance(model, network.SERModel):
        model.set_waveform_stats(waveform_stats["mean"], waveform_stats["std"])
    return model


def min_input_length(model: nn.Module) -> int:
    """The shortest input the model takes: the backbone's receptive field, or one feature row."""
    if isinstance(model, network.SERModel):
        return network.min_input_samples(model)
    return 1

"""The self-supervised backbone: where it comes from and what sertools changes inside it.

Sources (``model.backbone``): ``tiny`` is a small random-init WavLM built from
``model.tiny`` (offline, deterministic under ``torch.manual_seed``); anything
else is a pre-trained checkpoint, either a local directory saved by
transformers or a model-hub id. Both get the run's SpecAugment
(``mask_time_prob``) and LayerDrop settings (``layerdrop: null`` keeps the
checkpoint's own), and weights are kept in fp32.

Families (:mod:`sertools.model.families`): WavLM (Base, Base+, Large),
HuBERT, wav2vec 2.0 and data2vec-audio, which transformers builds with one
interface. A checkpoint's family is its config.json ``model_type``; layer
counts and widths are always read from its config (docs/upstreams.md lists what
was tested and what to set).

Inside the backbone sertools changes what would let padding in, and observes the layers:

* the time-GroupNorm of the first conv layer is swapped for the length-aware
  one of :mod:`sertools.model.group_norm` (:func:`install_length_aware_group_norm`)
  unless ``model.group_norm`` is ``padded``;
* under ``valid_frames`` too, a stack of positional convolutions (data2vec-audio's)
  has its padded frames zeroed between its layers, with hooks that live for one
  forward call (:func:`positional_conv_layers`, :func:`length_aware_norm`);
* the hidden state after every transformer layer is captured with hooks that
  live for one forward call (:func:`capture_layer_states`), so LayerDrop (a
  skipped layer acts as the identity) still yields all L + 1 states.
"""

from __future__ import annotations

import contextlib
import copy
import json
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from sertools.io import file_sha256, looks_like_path
from sertools.model.families import FAMILIES, family_of
from sertools.model.group_norm import LengthAwareGroupNorm

# transformers is imported where a backbone is built, not here: importing it takes
# about 2 s, and the jobs that train or predict from frozen features, and the
# workflow's own Snakefile, import this module without ever building one.
if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel, WavLMConfig


def family_classes(model_type: str) -> tuple[type[PretrainedConfig], type[PreTrainedModel]]:
    """(config class, base model class) of a family, imported from transformers on first use."""
    import transformers

    stem = FAMILIES[family_of(model_type)]
    return getattr(transformers, f"{stem}Config"), getattr(transformers, f"{stem}Model")


# --------------------------------------------------------------------------- where it comes from


def backbone_overrides(mask_time_prob: float, layerdrop: float | None) -> dict[str, Any]:
    """WavLMConfig fields the run sets on any backbone (SpecAugment, LayerDrop; ``layerdrop`` None keeps
    the backbone's own value)."""
    overrides: dict[str, Any] = {
        "mask_time_prob": float(mask_time_prob),
        "apply_spec_augment": mask_time_prob > 0,
    }
    if layerdrop is not None:
        overrides["layerdrop"] = float(layerdrop)
    return overrides


def tiny_backbone_config(
    tiny: Mapping[str, Any], mask_time_prob: float, layerdrop: float | None
) -> WavLMConfig:
    """WavLMConfig of the ``tiny`` random-init backbone, with clear errors on inconsistent sizes."""
    from transformers import WavLMConfig

    conv = [list(tiny[k]) for k in ("conv_dim", "conv_stride", "conv_kernel")]
    if not conv[0] or len({len(c) for c in conv}) != 1:
        raise ValueError(
            "model.tiny: conv_dim, conv_stride and conv_kernel must be non-empty and of equal length, "
            f"got {len(conv[0])}, {len(conv[1])}, {len(conv[2])}"
        )
    hidden = tiny["hidden_size"]
    for key in ("num_attention_heads", "num_conv_pos_embedding_groups"):
        if hidden % tiny[key] != 0:
            raise ValueError(f"model.tiny.{key}={tiny[key]} must divide hidden_size={hidden}")
    fields = dict(tiny)
    p = fields.pop("dropout", 0.1)
    drop = {"hidden_dropout": p, "attention_dropout": p, "activation_dropout": p}
    return WavLMConfig(**fields, **drop, **backbone_overrides(mask_time_prob, layerdrop))


def load_backbone(source: str, mask_time_prob: float, layerdrop: float | None) -> PreTrainedModel:
    """Pre-trained upstream (:data:`FAMILIES`) from a local checkpoint directory or a model-hub id."""
    overrides = backbone_overrides(mask_time_prob, layerdrop)
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"model.backbone {source!r} is not a saved transformers checkpoint directory "
                "(expected a directory holding config.json and the weights)"
            )
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
        family_of(model_type, f"model.backbone {source!r} (config.json)")
        return _pretrained(str(path), str(model_type), overrides).float()
    if looks_like_path(source):
        raise FileNotFoundError(f"model.backbone: local checkpoint directory {source!r} does not exist")
    from transformers import AutoConfig

    try:
        model_type = AutoConfig.from_pretrained(source).model_type
        family_of(model_type, f"model.backbone {source!r}")
        backbone = _pretrained(source, model_type, overrides)
    except OSError as e:
        raise RuntimeError(
            f"model.backbone: could not load model-hub id {source!r} ({type(e).__name__}); this machine may "
            "have no hub access. Download it where the hub is reachable (e.g. `hf download "
            f"{source} --local-dir DIR`, or <Family>Model.from_pretrained(...).save_pretrained(DIR)) "
            "and set model.backbone to that local directory"
        ) from e
    return backbone.float()  # fp32 master weights whatever the checkpoint's dtype


def _pretrained(source: str, model_type: str, overrides: Mapping[str, Any]) -> PreTrainedModel:
    """The base model of a checkpoint with the run's overrides set on its config first: from_pretrained
    would hand a field its config class lacks (data2vec-audio has no ``apply_spec_augment``, which its
    model reads with a default) to the model's constructor, which refuses it."""
    config_cls, model_cls = family_classes(model_type)
    config = config_cls.from_pretrained(source)
    for key, value in overrides.items():
        setattr(config, key, value)
    return model_cls.from_pretrained(source, config=config)


def make_backbone(model_cfg: Mapping[str, Any]) -> PreTrainedModel:
    """The backbone of a resolved ``model`` config section (``tiny`` or a pre-trained source)."""
    from transformers import WavLMModel

    source = model_cfg["backbone"]
    if source == "tiny":
        config = tiny_backbone_config(model_cfg["tiny"], model_cfg["mask_time_prob"], model_cfg["layerdrop"])
        return WavLMModel(config)
    return load_backbone(source, model_cfg["mask_time_prob"], model_cfg["layerdrop"])


def backbone_from_config(config: Mapping[str, Any]) -> PreTrainedModel:
    """A random-init backbone of exactly the shape of a saved ``config.to_dict()`` (its ``model_type``
    names the family; a description without one is WavLM's, the only family before there were others)."""
    config_cls, model_cls = family_classes(str(config.get("model_type") or "wavlm"))
    return model_cls(config_cls.from_dict(copy.deepcopy(dict(config))))


def identity(model_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's backbone was, for its provenance: ``tiny`` with its shape; a local checkpoint's
    resolved path and the SHA-256 of its config.json and weights file; a hub id as given (the
    revision it resolved to is not pinned)."""
    source = str(model_cfg["backbone"])
    if source == "tiny":
        return {"source": "tiny", "tiny": dict(model_cfg["tiny"])}
    path = Path(source).expanduser()
    if not path.is_dir():
        return {"source": source, "hub_id": True, "revision_pinned": False}
    out: dict[str, Any] = {"source": str(path.resolve())}
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        file = path / name
        if file.is_file():
            out[name] = {"bytes": file.stat().st_size, "sha256": file_sha256(file)}
    return out


# --------------------------------------------------------------------------- what sertools changes inside


def install_length_aware_group_norm(backbone: PreTrainedModel) -> None:
    """Swap the time-GroupNorm of the first conv layer (``feat_extract_norm == "group"``).

    Other feature encoders need nothing: ``layer`` (WavLM Large, wav2vec 2.0
    Large-LV60, HuBERT Large) and data2vec-audio, whose config has no
    ``feat_extract_norm``, normalise each frame over its channels, which padding
    cannot reach.
    """
    if getattr(backbone.config, "feat_extract_norm", None) != "group":
        return
    layer0 = backbone.get_submodule("feature_extractor.conv_layers.0")
    gn = getattr(layer0, "layer_norm", None)
    if not isinstance(gn, nn.GroupNorm):
        raise RuntimeError(
            f"unexpected {type(backbone).__name__} feature encoder layout (no GroupNorm in conv layer 0); "
            "this transformers version is not supported by sertools.model"
        )
    layer0.layer_norm = LengthAwareGroupNorm(gn)


def freeze_feature_encoder(backbone: PreTrainedModel) -> None:
    """Stop the CNN feature encoder's gradients (``model.freeze_feature_encoder``). HuBERT's base model
    lacks the ``freeze_feature_encoder()`` of the other families; what that method does is the encoder's
    own ``_freeze_parameters()``, which every family has."""
    method = getattr(backbone, "freeze_feature_encoder", None)
    if method is not None:
        method()
    else:
        # a transformers method, not an nn.Module one: the submodule's type does not declare it
        extractor: Any = backbone.feature_extractor
        extractor._freeze_parameters()


def length_aware_norm(
    backbone: PreTrainedModel, first_layer_frames: Tensor, frames: Tensor | None = None
) -> contextlib.ExitStack[bool | None]:
    """Context in which the first conv layer's GroupNorm knows each utterance's valid frames and, given
    ``frames`` (the valid frames after the feature encoder), a stack of positional convolutions masks
    its padded frames (:func:`positional_conv_layers`)."""
    stack = contextlib.ExitStack()
    # looked up, not stored: a second reference would register the module twice in the state dict
    gn = getattr(backbone.get_submodule("feature_extractor.conv_layers.0"), "layer_norm", None)
    if isinstance(gn, LengthAwareGroupNorm):
        stack.enter_context(gn.frame_lengths(first_layer_frames))
    if frames is not None:
        layers = positional_conv_layers(backbone)
        if layers:
            stack.enter_context(_masked_outputs(layers, frames))
    return stack


def encoder_layers(backbone: PreTrainedModel) -> nn.ModuleList:
    """The transformer layers, bottom to top (``backbone.encoder.layers``)."""
    layers = backbone.get_submodule("encoder.layers")
    if not isinstance(layers, nn.ModuleList):
        raise RuntimeError(
            f"unexpected {type(backbone).__name__} encoder layout (encoder.layers is not a ModuleList); "
            "this transformers version is not supported by sertools.model"
        )
    return layers


def positional_conv_layers(backbone: PreTrainedModel) -> list[nn.Module]:
    """The layers of a convolutional positional embedding of several layers (data2vec-audio's), else [].

    The encoder zeroes padded frames before its positional embedding, so one
    convolution (WavLM, HuBERT, wav2vec 2.0) sees at the end of an utterance
    the zeros an unpadded utterance is padded with. In a stack, the first layer's
    outputs at padded frames are not zero and the next layer reads them: the
    padding would reach the valid frames unless each layer's padded outputs are
    zeroed again (:func:`length_aware_norm`).
    """
    layers = getattr(getattr(backbone.encoder, "pos_conv_embed", None), "layers", None)
    return list(layers) if isinstance(layers, nn.ModuleList) else []


@contextlib.contextmanager
def _masked_outputs(layers: list[nn.Module], frames: Tensor) -> Iterator[None]:
    """Forward hooks that zero each layer's [B, C, T] output at t >= ``frames``."""

    def hook(_mod: nn.Module, _args: tuple, output: Tensor) -> Tensor:
        keep = (
            torch.arange(output.shape[-1], device=output.device)[None, :] < frames.to(output.device)[:, None]
        )
        return output * keep[:, None, :].to(output.dtype)

    handles = [layer.register_forward_hook(hook) for layer in layers]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def last_hidden_state(backbone: PreTrainedModel, x: Tensor, attn: Tensor | None) -> Tensor:
    """The backbone's output [B, T', D] for normalised waveforms ``x`` and a sample mask ``attn``."""
    # transformers' WavLM attention combines a bool padding mask with a float position
    # bias; torch warns about the mixed types on every call. Harmless: silence only that.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Support for mismatched key_padding_mask", category=UserWarning
        )
        return backbone(x, attention_mask=attn).last_hidden_state


class LayerStates:
    """Per-call store of the backbone's hidden states, filled by hooks."""

    def __init__(self, num_layers: int) -> None:
        self.initial: Tensor | None = None
        self.outputs: list[Tensor | None] = [None] * num_layers

    def as_list(self) -> list[Tensor]:
        """The encoder input and every layer's output (L + 1 states)."""
        if self.initial is None:
            raise RuntimeError("backbone hooks did not capture the encoder input")
        states = [self.initial]
        for out in self.outputs:  # a LayerDrop-skipped layer is the identity
            states.append(states[-1] if out is None else out)
        return states


@contextlib.contextmanager
def capture_layer_states(backbone: PreTrainedModel) -> Iterator[LayerStates]:
    """Hooks that record the encoder input and each layer's output during the block."""
    layers = encoder_layers(backbone)
    states = LayerStates(len(layers))

    def pre_hook(_mod: nn.Module, args: tuple, kwargs: dict) -> None:
        states.initial = args[0] if args else kwargs["hidden_states"]

    def make_hook(i: int) -> Callable[[nn.Module, tuple, Any], None]:
        def hook(_mod: nn.Module, _args: tuple, output: Any) -> None:
            states.outputs[i] = output[0] if isinstance(output, tuple) else output

        return hook

    handles = [layers[0].register_forward_pre_hook(pre_hook, with_kwargs=True)]
    handles += [layer.register_forward_hook(make_hook(i)) for i, layer in enumerate(layers)]
    try:
        yield states
    finally:
        for h in handles:
            h.remove()

"""Multitask WavLM model: categorical logits (9 classes) + arousal/valence/dominance.

Pipeline of ``SERModel.forward(wave, lengths)``:

1. waveform normalisation (``utterance`` / ``train_stats`` / ``none``); padded
   samples are zeroed afterwards;
2. WavLM backbone (sample-level attention mask passed when ``attention_mask``);
3. layer aggregation: softmax-weighted sum of all L + 1 hidden states
   (embedding output + every transformer layer) or the last hidden state;
4. masked pooling (attentive statistics or mean) over the valid frames only;
5. two heads: Dropout → Linear → LayerNorm → ReLU → Dropout → Linear.

Padding invariance. An utterance gives the same outputs (up to float rounding)
whatever it is padded to, in eval mode and with ``attention_mask`` true. Three
places would otherwise let padding leak in, and each is handled:

* the waveform statistics (``utterance`` norm) use the valid samples only;
* WavLM-Base's first conv layer has a GroupNorm over *time* (one mean/var per
  channel over the whole padded sequence). It is replaced by a numerically
  equivalent, length-aware GroupNorm that uses the valid frames of each
  utterance only. Pre-training cropped every batch to one length (no padding),
  so this is also what the pre-trained weights expect. Parameter names are
  unchanged, so checkpoints load as usual;
* pooling and the frame mask use the conv output-length formula
  (``WavLMModel._get_feat_extract_output_lengths``); WavLM itself zeroes padded
  frames before its positional convolution and masks padded keys in attention.

With ``attention_mask`` false, WavLM attends over padded frames (the behaviour
the transformers docs recommend for ``feat_extract_norm == "group"``), so
outputs then depend on the padding.

Layer-weight capture uses hooks installed for the duration of one forward call,
so LayerDrop (a skipped layer is the identity) still yields L + 1 states.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import WavLMConfig, WavLMModel

from sertools.classes import K

NUM_DIMS = 3
DIMENSIONS: tuple[str, ...] = ("arousal", "valence", "dominance")
ARCHITECTURE_VERSION = 1
UTTERANCE_NORM_EPS = 1e-7  # variance floor of per-utterance normalisation (as in HF's feature extractor)
STATS_STD_EPS = 1e-5  # variance floor inside attentive statistics pooling (as in the challenge baseline)

_LAYER_AGGREGATIONS = ("weighted_sum", "last")
_POOLINGS = ("attentive_stats", "mean")
_WAVEFORM_NORMS = ("utterance", "train_stats", "none")


class ModelOutput(NamedTuple):
    """Outputs of ``SERModel.forward``: ``logits`` [B, 9] and ``dims`` [B, 3] (normalised units)."""

    logits: Tensor
    dims: Tensor


# --------------------------------------------------------------------------- scales


def scale_to_dims(x: Any) -> Any:
    """Attribute scale 1..7 → normalised units u = (x − 1) / 6 (tensor, array or float)."""
    return (x - 1.0) / 6.0


def dims_to_scale(u: Any) -> Any:
    """Normalised units → attribute scale, clip(6u + 1, 1, 7) (tensor, array or float)."""
    x = u * 6.0 + 1.0
    if isinstance(x, Tensor):
        return x.clamp(1.0, 7.0)
    return np.clip(x, 1.0, 7.0)


# --------------------------------------------------------------------------- masks and lengths


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """Boolean [B, max_len] mask, True at positions < lengths[b]."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def _min_samples_for(kernels: list[int], strides: list[int]) -> int:
    """Smallest input length whose valid-conv stack yields one frame (the receptive field)."""
    n = 1
    for k, s in zip(reversed(kernels), reversed(strides), strict=True):
        n = (n - 1) * s + k
    return n


def min_input_samples(model: SERModel) -> int:
    """The smallest number of samples the conv feature encoder accepts."""
    cfg = model.backbone.config
    return _min_samples_for(list(cfg.conv_kernel), list(cfg.conv_stride))


def frames_for_samples(model: SERModel, lengths: Tensor | int) -> Tensor | int:
    """Number of backbone frames for ``lengths`` samples (same kind as the input: int or LongTensor)."""
    as_tensor = torch.as_tensor(lengths, dtype=torch.long)
    frames = model.backbone._get_feat_extract_output_lengths(as_tensor, add_adapter=False).to(torch.long)
    return int(frames) if isinstance(lengths, int) else frames


# --------------------------------------------------------------------------- building blocks


class LengthAwareGroupNorm(nn.Module):
    """GroupNorm over (channels-in-group, time) that uses the valid frames only.

    Holds the original GroupNorm's ``weight``/``bias`` under the same names. With
    no lengths set it is plain ``F.group_norm``. Lengths are set only for the
    duration of one forward call through ``frame_lengths()``.
    """

    def __init__(self, gn: nn.GroupNorm) -> None:
        super().__init__()
        self.num_groups = gn.num_groups
        self.num_channels = gn.num_channels
        self.eps = gn.eps
        self.weight = gn.weight
        self.bias = gn.bias
        self._lengths: Tensor | None = None

    @contextlib.contextmanager
    def frame_lengths(self, lengths: Tensor) -> Iterator[None]:
        self._lengths = lengths
        try:
            yield
        finally:
            self._lengths = None

    def forward(self, x: Tensor) -> Tensor:
        if self._lengths is None:
            return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        return masked_group_norm(x, self._lengths, self.num_groups, self.weight, self.bias, self.eps)


def masked_group_norm_reference(
    x: Tensor, lengths: Tensor, groups: int, weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor:
    """Plain-autograd masked GroupNorm: the readable definition that ``masked_group_norm`` must match."""
    b, c, t = x.shape
    mask = length_mask(lengths, t).to(x.dtype)[:, None, None, :]  # [B, 1, 1, T]
    xg = x.reshape(b, groups, c // groups, t)
    count = (lengths.to(x.dtype) * (c // groups))[:, None, None, None]
    mean = (xg * mask).sum(dim=(2, 3), keepdim=True) / count
    centred = (xg - mean) * mask
    var = (centred * centred).sum(dim=(2, 3), keepdim=True) / count
    out = ((xg - mean) * torch.rsqrt(var + eps)).reshape(b, c, t)
    if weight is not None:
        out = out * weight[None, :, None] + bias[None, :, None]
    return out


class _MaskedGroupNorm(torch.autograd.Function):
    """GroupNorm whose statistics use the valid frames only, with a hand-written backward.

    The first CNN layer's output is the largest activation of the model (channels x
    samples/5), so plain autograd through the masked statistics spent about half of a
    tiny-model training step in elementwise passes over it; fewer, fused passes here
    (speed-up against ``masked_group_norm_reference``: benchmarks/bench_group_norm.py).

    With y = (x - mu) / sigma per (utterance, group), statistics over the n valid
    positions V, out = gamma * y + beta on every position, and h = gamma * dL/dout:
        dL/dx_i = (h_i - [i in V] (sum_all h + y_i sum_all h*y) / n) / sigma
    (padded outputs depend on mu and sigma, so their gradient reaches valid inputs).
    """

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, lengths: Tensor, groups: int, weight: Tensor, bias: Tensor, eps: float
    ) -> Tensor:
        b, c, t = x.shape
        cg = c // groups
        valid = length_mask(lengths, t).to(x.dtype).repeat(1, cg)[:, :, None]  # [B, cg*T, 1]
        n = (lengths.to(x.dtype) * cg)[:, None, None]  # [B, 1, 1]
        xg = x.reshape(b, groups, cg * t)
        mean = torch.bmm(xg, valid) / n  # [B, G, 1]
        centred = xg - mean
        var = torch.bmm(centred.square(), valid) / n
        inv_std = torch.rsqrt(var + eps)  # [B, G, 1]
        scale = inv_std.repeat_interleave(cg, dim=1) * weight[None, :, None]  # [B, C, 1]
        out = torch.addcmul(bias[None, :, None], centred.view(b, c, t), scale)
        ctx.save_for_backward(x, valid, n, mean, inv_std, weight)
        ctx.groups = groups
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        x, valid, n, mean, inv_std, weight = ctx.saved_tensors
        b, c, t = x.shape
        groups = ctx.groups
        cg = c // groups
        y = ((x.reshape(b, groups, cg * t) - mean) * inv_std).view(b, c, t)
        grad_weight = (grad_out * y).sum(dim=(0, 2)) if ctx.needs_input_grad[3] else None
        grad_bias = grad_out.sum(dim=(0, 2)) if ctx.needs_input_grad[4] else None
        grad_x = None
        if ctx.needs_input_grad[0]:
            h = (grad_out * weight[None, :, None]).view(b, groups, cg * t)
            yg = y.view(b, groups, cg * t)
            sum_h = h.sum(dim=2, keepdim=True) / n  # [B, G, 1]
            sum_hy = (h * yg).sum(dim=2, keepdim=True) / n
            correction = torch.addcmul(sum_h, yg, sum_hy) * valid.view(b, 1, cg * t)
            grad_x = ((h - correction) * inv_std).view(b, c, t)
        return grad_x, None, None, grad_weight, grad_bias, None


def masked_group_norm(
    x: Tensor, lengths: Tensor, groups: int, weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor:
    """GroupNorm of [B, C, T] whose statistics ignore frames at or beyond ``lengths``."""
    if weight is None:
        weight = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
        bias = torch.zeros_like(weight)
    return _MaskedGroupNorm.apply(x, lengths, groups, weight, bias, eps)


class AttentiveStatsPooling(nn.Module):
    """Masked attentive statistics pooling: [weighted mean, weighted std] → 2D.

    Scores e_t = vᵀ tanh(W h_t + b); α = softmax over valid frames. The score
    vector uses nn.Linear's default init (near-uniform attention at start; the
    challenge baseline draws it from N(0, 1)). Statistics are in fp32.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.score = nn.Linear(dim, 1, bias=False)
        self.out_dim = 2 * dim

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        h = torch.where(mask[..., None], h.float(), 0.0)
        scores = self.score(torch.tanh(self.proj(h))).squeeze(-1).float()
        scores = scores.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(scores, dim=1).unsqueeze(-1)  # [B, T, 1]; zero on padding
        mean = (alpha * h).sum(dim=1)
        var = (alpha * (h - mean[:, None, :]).square()).sum(dim=1)
        std = var.clamp_min(STATS_STD_EPS).sqrt()
        return torch.cat([mean, std], dim=-1)


class MeanPooling(nn.Module):
    """Masked mean over valid frames."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        h = torch.where(mask[..., None], h.float(), 0.0)
        return h.sum(dim=1) / mask.sum(dim=1, keepdim=True).to(h.dtype)


def _head(in_dim: int, hidden: int, out_dim: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Dropout(dropout),
        nn.Linear(in_dim, hidden),
        nn.LayerNorm(hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, out_dim),
    )


# --------------------------------------------------------------------------- the model


class SERModel(nn.Module):
    """WavLM backbone + layer aggregation + masked pooling + categorical and dimensional heads.

    Build it with ``build_model`` (from the config) or ``model_from_architecture``
    (from a saved description); the constructor takes an already built backbone.
    """

    def __init__(
        self,
        backbone: WavLMModel,
        *,
        layer_aggregation: str = "weighted_sum",
        pooling: str = "attentive_stats",
        head_hidden: int = 128,
        head_dropout: float = 0.1,
        waveform_norm: str = "utterance",
        attention_mask: bool = True,
        freeze_feature_encoder: bool = True,
        backbone_source: str = "tiny",
    ) -> None:
        super().__init__()
        _check_choice("layer_aggregation", layer_aggregation, _LAYER_AGGREGATIONS)
        _check_choice("pooling", pooling, _POOLINGS)
        _check_choice("waveform_norm", waveform_norm, _WAVEFORM_NORMS)
        if head_hidden < 1:
            raise ValueError(f"model.head_hidden must be >= 1, got {head_hidden}")
        if not 0.0 <= head_dropout <= 1.0:
            raise ValueError(f"model.head_dropout must be in [0, 1], got {head_dropout}")

        self.backbone = backbone
        self.layer_aggregation = layer_aggregation
        self.pooling_kind = pooling
        self.head_hidden = head_hidden
        self.head_dropout = head_dropout
        self.waveform_norm = waveform_norm
        self.use_attention_mask = attention_mask
        self.freeze_feature_encoder = freeze_feature_encoder
        self.backbone_source = backbone_source

        _install_length_aware_group_norm(backbone)
        if freeze_feature_encoder:
            backbone.freeze_feature_encoder()

        cfg = backbone.config
        num_states = cfg.num_hidden_layers + 1
        # zeros → softmax gives uniform 1/(L+1), like transformers' use_weighted_layer_sum
        self.layer_weights = (
            nn.Parameter(torch.zeros(num_states)) if layer_aggregation == "weighted_sum" else None
        )
        pool_cls = AttentiveStatsPooling if pooling == "attentive_stats" else MeanPooling
        self.pool = pool_cls(cfg.hidden_size)
        self.cat_head = _head(self.pool.out_dim, head_hidden, K, head_dropout)
        self.dim_head = _head(self.pool.out_dim, head_hidden, NUM_DIMS, head_dropout)

        self.register_buffer("wave_mean", torch.zeros(()))
        self.register_buffer("wave_std", torch.ones(()))
        self.register_buffer("wave_stats_set", torch.zeros((), dtype=torch.bool))
        self._min_samples = _min_samples_for(list(cfg.conv_kernel), list(cfg.conv_stride))

    # ------------------------------------------------------------------ public API

    @property
    def embed_dim(self) -> int:
        """Width of the pooled representation."""
        return self.pool.out_dim

    def set_waveform_stats(self, mean: float, std: float) -> None:
        """Global waveform mean/std used by ``waveform_norm: train_stats`` (saved in the state dict)."""
        mean, std = float(mean), float(std)
        if not np.isfinite(mean) or not np.isfinite(std) or std <= 0.0:
            raise ValueError(
                f"waveform stats need a finite mean and a finite std > 0, got mean={mean}, std={std}"
            )
        self.wave_mean.fill_(mean)
        self.wave_std.fill_(std)
        self.wave_stats_set.fill_(True)

    def normalize_waveform(self, wave: Tensor, lengths: Tensor) -> Tensor:
        """Apply the configured waveform normalisation; padded samples come out as 0."""
        mask = length_mask(lengths, wave.shape[1])
        stats_set = self.waveform_norm != "train_stats" or bool(self.wave_stats_set)
        return normalize_waveform(
            wave, mask, self.waveform_norm, mean=self.wave_mean, std=self.wave_std, stats_set=stats_set
        )

    def embed(self, wave: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Pooled utterance representation [B, embed_dim] (fp32)."""
        lengths = self._check_inputs(wave, lengths)
        x = self.normalize_waveform(wave, lengths)
        sample_mask = length_mask(lengths, x.shape[1])
        frames = frames_for_samples(self, lengths)
        self._check_spec_augment(int(frames.max()))
        first_layer = _conv_out_lengths(lengths, self.backbone.config, layers=1)
        attn = sample_mask.to(torch.long) if self.use_attention_mask else None
        with self._norm_context(first_layer):
            hidden = self._backbone_states(x, attn)
        frame_mask = length_mask(frames, hidden.shape[1])
        return self.pool(hidden, frame_mask)

    def forward(self, wave: Tensor, lengths: Tensor | None = None) -> ModelOutput:
        """Logits [B, 9] and normalised dimensions [B, 3] for a padded batch.

        ``wave``: float [B, T]; ``lengths``: valid samples per row (None: all T).
        """
        z = self.embed(wave, lengths)
        return ModelOutput(logits=self.cat_head(z), dims=self.dim_head(z))

    def param_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(trainable backbone parameters, everything else: layer weights, pooling, heads)."""
        backbone_ids = {id(p) for p in self.backbone.parameters()}
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        rest = [p for p in self.parameters() if id(p) not in backbone_ids and p.requires_grad]
        return backbone, rest

    def architecture(self) -> dict[str, Any]:
        """JSON-serialisable description; ``model_from_architecture`` rebuilds it offline."""
        return {
            "version": ARCHITECTURE_VERSION,
            "backbone_source": self.backbone_source,
            "backbone_config": self.backbone.config.to_dict(),
            "layer_aggregation": self.layer_aggregation,
            "pooling": self.pooling_kind,
            "head_hidden": self.head_hidden,
            "head_dropout": self.head_dropout,
            "waveform_norm": self.waveform_norm,
            "attention_mask": self.use_attention_mask,
            "freeze_feature_encoder": self.freeze_feature_encoder,
            "num_classes": K,
            "dimensions": list(DIMENSIONS),
        }

    def layer_weight_values(self) -> Tensor | None:
        """Softmax-normalised layer weights (None for ``last``), for logging."""
        return None if self.layer_weights is None else torch.softmax(self.layer_weights.detach(), dim=0)

    # ------------------------------------------------------------------ internals

    def _check_inputs(self, wave: Tensor, lengths: Tensor | None) -> Tensor:
        if not isinstance(wave, Tensor) or wave.dim() != 2 or not wave.is_floating_point():
            shape = tuple(wave.shape) if isinstance(wave, Tensor) else type(wave).__name__
            raise ValueError(f"wave must be a float tensor [batch, samples], got {shape}")
        b, t = wave.shape
        if lengths is None:
            return torch.full((b,), t, dtype=torch.long, device=wave.device)
        if not isinstance(lengths, Tensor) or lengths.shape != (b,) or lengths.is_floating_point():
            shape = tuple(lengths.shape) if isinstance(lengths, Tensor) else type(lengths).__name__
            raise ValueError(f"lengths must be an integer tensor of shape ({b},), got {shape}")
        lengths = lengths.to(device=wave.device, dtype=torch.long)
        lo, hi = int(lengths.min()), int(lengths.max())
        if hi > t:
            raise ValueError(f"lengths exceed the padded length {t}: max length {hi}")
        if lo < self._min_samples:
            raise ValueError(
                f"utterance of {lo} samples is shorter than the backbone's receptive field "
                f"({self._min_samples} samples); pad or drop it"
            )
        return lengths

    def _check_spec_augment(self, max_frames: int) -> None:
        cfg = self.backbone.config
        if (
            self.training
            and cfg.apply_spec_augment
            and cfg.mask_time_prob > 0
            and max_frames < cfg.mask_time_length
        ):
            raise ValueError(
                f"SpecAugment needs at least mask_time_length={cfg.mask_time_length} frames, "
                f"the batch has {max_frames}; use longer training crops or model.mask_time_prob: 0"
            )

    def _norm_context(self, first_layer_frames: Tensor) -> contextlib.AbstractContextManager[None]:
        # looked up, not stored: a second reference would register the module twice in the state dict
        gn = getattr(self.backbone.feature_extractor.conv_layers[0], "layer_norm", None)
        if not isinstance(gn, LengthAwareGroupNorm):
            return contextlib.nullcontext()
        return gn.frame_lengths(first_layer_frames)

    def _run_backbone(self, x: Tensor, attn: Tensor | None) -> Tensor:
        # transformers' WavLM attention combines a bool padding mask with a float position
        # bias; torch warns about the mixed types on every call. Harmless: silence only that.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Support for mismatched key_padding_mask", category=UserWarning
            )
            return self.backbone(x, attention_mask=attn).last_hidden_state

    def _backbone_states(self, x: Tensor, attn: Tensor | None) -> Tensor:
        """The aggregated hidden states [B, T', D]."""
        if self.layer_weights is None:
            return self._run_backbone(x, attn)
        with _capture_layer_states(self.backbone) as states:
            last = self._run_backbone(x, attn)
        # last entry tied to last_hidden_state (post final LayerNorm in stable-layer-norm variants)
        hidden = [*states.as_list()[:-1], last]
        weights = torch.softmax(self.layer_weights, dim=0)
        out = weights[0] * hidden[0]
        for w, h in zip(weights[1:], hidden[1:], strict=True):
            out = out + w * h
        return out


def _check_choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"model.{key} must be one of {list(allowed)}, got {value!r}")


def _conv_out_lengths(lengths: Tensor, cfg: WavLMConfig, layers: int) -> Tensor:
    """Output lengths after the first ``layers`` conv layers (valid convolutions)."""
    out = lengths
    for k, s in list(zip(cfg.conv_kernel, cfg.conv_stride, strict=True))[:layers]:
        out = torch.div(out - k, s, rounding_mode="floor") + 1
    return out


def normalize_waveform(
    wave: Tensor,
    mask: Tensor,
    kind: str,
    *,
    mean: Tensor | float = 0.0,
    std: Tensor | float = 1.0,
    stats_set: bool = True,
) -> Tensor:
    """Normalise a padded batch; statistics use valid samples only; padding is zeroed.

    ``utterance``: (x − μ_i) / sqrt(σ²_i + 1e-7) over each row's valid samples;
    ``train_stats``: (x − mean) / std with global stats; ``none``: unchanged.
    """
    _check_choice("waveform_norm", kind, _WAVEFORM_NORMS)
    x = torch.where(mask, wave, 0.0)  # padding (even NaN) never reaches the statistics
    if kind == "utterance":
        m = mask.to(x.dtype)
        n = m.sum(dim=1, keepdim=True)
        mu = x.sum(dim=1, keepdim=True) / n
        centred = (x - mu) * m
        var = (centred * centred).sum(dim=1, keepdim=True) / n
        return centred * torch.rsqrt(var + UTTERANCE_NORM_EPS)
    if kind == "train_stats":
        if not stats_set:
            raise ValueError(
                "waveform_norm is train_stats but set_waveform_stats(mean, std) was never called"
            )
        return torch.where(mask, (x - mean) / std, 0.0)
    return x


class _LayerStates:
    """Per-call store of the backbone's hidden states, filled by hooks."""

    def __init__(self, num_layers: int) -> None:
        self.initial: Tensor | None = None
        self.outputs: list[Tensor | None] = [None] * num_layers

    def as_list(self) -> list[Tensor]:
        if self.initial is None:
            raise RuntimeError("backbone hooks did not capture the encoder input")
        states = [self.initial]
        for out in self.outputs:  # a LayerDrop-skipped layer is the identity
            states.append(states[-1] if out is None else out)
        return states


@contextlib.contextmanager
def _capture_layer_states(backbone: WavLMModel) -> Iterator[_LayerStates]:
    layers = backbone.encoder.layers
    states = _LayerStates(len(layers))

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


def _install_length_aware_group_norm(backbone: WavLMModel) -> None:
    """Swap the time-GroupNorm of the first conv layer (``feat_extract_norm == "group"``)."""
    if backbone.config.feat_extract_norm != "group":
        return
    layer0 = backbone.feature_extractor.conv_layers[0]
    gn = getattr(layer0, "layer_norm", None)
    if not isinstance(gn, nn.GroupNorm):
        raise RuntimeError(
            "unexpected WavLM feature encoder layout (no GroupNorm in conv layer 0); "
            "this transformers version is not supported by sertools.model"
        )
    layer0.layer_norm = LengthAwareGroupNorm(gn)


# --------------------------------------------------------------------------- construction


def _backbone_overrides(mask_time_prob: float, layerdrop: float) -> dict[str, Any]:
    return {
        "mask_time_prob": float(mask_time_prob),
        "apply_spec_augment": mask_time_prob > 0,
        "layerdrop": float(layerdrop),
    }


def tiny_backbone_config(tiny: Mapping[str, Any], mask_time_prob: float, layerdrop: float) -> WavLMConfig:
    """WavLMConfig of the ``tiny`` random-init backbone, with clear errors on inconsistent sizes."""
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
    return WavLMConfig(**fields, **drop, **_backbone_overrides(mask_time_prob, layerdrop))


def _looks_like_path(s: str) -> bool:
    return s.startswith(("/", ".", "~")) or "\\" in s or s.count("/") != 1


def load_backbone(source: str, mask_time_prob: float, layerdrop: float) -> WavLMModel:
    """Pre-trained WavLM from a local checkpoint directory or a model-hub id."""
    overrides = _backbone_overrides(mask_time_prob, layerdrop)
    path = Path(source).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"model.backbone {source!r} is not a saved transformers checkpoint directory "
                "(expected a directory holding config.json and the weights)"
            )
        return WavLMModel.from_pretrained(str(path), **overrides).float()
    if _looks_like_path(source):
        raise FileNotFoundError(f"model.backbone: local checkpoint directory {source!r} does not exist")
    try:
        backbone = WavLMModel.from_pretrained(source, **overrides)
    except OSError as e:
        raise RuntimeError(
            f"model.backbone: could not load model-hub id {source!r} ({type(e).__name__}); this machine may "
            "have no hub access. Download it where the hub is reachable (e.g. `hf download "
            f"{source} --local-dir DIR`, or WavLMModel.from_pretrained(...).save_pretrained(DIR)) "
            "and set model.backbone to that local directory"
        ) from e
    return backbone.float()  # fp32 master weights whatever the checkpoint's dtype


def build_model(model_cfg: Mapping[str, Any]) -> SERModel:
    """The model described by the config's ``model`` section (missing keys take schema defaults).

    ``tiny`` is random-init and deterministic under ``torch.manual_seed``.
    """
    from sertools import config as config_mod

    cfg = config_mod.resolve({"model": copy.deepcopy(dict(model_cfg))})["model"]
    source = cfg["backbone"]
    if source == "tiny":
        backbone = WavLMModel(tiny_backbone_config(cfg["tiny"], cfg["mask_time_prob"], cfg["layerdrop"]))
    else:
        backbone = load_backbone(source, cfg["mask_time_prob"], cfg["layerdrop"])
    return SERModel(
        backbone,
        layer_aggregation=cfg["layer_aggregation"],
        pooling=cfg["pooling"],
        head_hidden=cfg["head_hidden"],
        head_dropout=cfg["head_dropout"],
        waveform_norm=cfg["waveform_norm"],
        attention_mask=cfg["attention_mask"],
        freeze_feature_encoder=cfg["freeze_feature_encoder"],
        backbone_source=source,
    )


_ARCH_KEYS = (
    "backbone_config",
    "layer_aggregation",
    "pooling",
    "head_hidden",
    "head_dropout",
    "waveform_norm",
    "attention_mask",
    "freeze_feature_encoder",
)


def model_from_architecture(arch: Mapping[str, Any]) -> SERModel:
    """Random-init model with exactly the architecture of ``SERModel.architecture()`` (no download)."""
    missing = [k for k in _ARCH_KEYS if k not in arch]
    if missing:
        raise ValueError(f"architecture description lacks key(s) {missing}")
    if arch.get("version", ARCHITECTURE_VERSION) != ARCHITECTURE_VERSION:
        raise ValueError(
            f"architecture version {arch.get('version')} is not supported (expected {ARCHITECTURE_VERSION})"
        )
    if arch.get("num_classes", K) != K or list(arch.get("dimensions", DIMENSIONS)) != list(DIMENSIONS):
        raise ValueError(
            f"architecture has {arch.get('num_classes')} classes / dimensions {arch.get('dimensions')}; "
            f"this sertools uses {K} classes and {list(DIMENSIONS)}"
        )
    backbone = WavLMModel(WavLMConfig.from_dict(copy.deepcopy(dict(arch["backbone_config"]))))
    return SERModel(
        backbone,
        layer_aggregation=arch["layer_aggregation"],
        pooling=arch["pooling"],
        head_hidden=int(arch["head_hidden"]),
        head_dropout=float(arch["head_dropout"]),
        waveform_norm=arch["waveform_norm"],
        attention_mask=bool(arch["attention_mask"]),
        freeze_feature_encoder=bool(arch["freeze_feature_encoder"]),
        backbone_source=str(arch.get("backbone_source", "unknown")),
    )

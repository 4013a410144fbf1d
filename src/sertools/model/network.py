"""Multitask SSL model: categorical logits (9 classes) + arousal/valence/dominance.

Pipeline of ``SERModel.forward(wave, lengths)``:

1. waveform normalisation (``utterance`` / ``train_stats`` / ``none``); padded
   samples are zeroed afterwards;
2. the self-supervised backbone, WavLM or another family of
   :mod:`sertools.model.families` (:mod:`sertools.model.backbone`; sample-level
   attention mask passed when ``attention_mask``);
3. layer aggregation: softmax-weighted sum of all L + 1 hidden states
   (embedding output + every transformer layer) or the last hidden state;
4. ``head: pooling`` (default): masked pooling (attentive statistics or mean)
   over the valid frames only, then two heads: Dropout → Linear → LayerNorm →
   ReLU → Dropout → Linear;
   ``head: tc_gru`` (the paper release, :mod:`sertools.model.tcgru`): a TC-GRU
   head over the valid frames of the aggregated features replaces pooling, then
   a categorical head (Linear → LayerNorm → GELU → Dropout → Linear) and a
   Gaussian dimensional head giving a mean and a log-variance per attribute.

The dimensional outputs (and the targets they train on) live in the scale
``dim_scale`` (``unit``, ``1_7`` or ``neg1_1``; :mod:`sertools.data.dim_scale`):
``to_model_scale`` and ``to_rating_scale`` convert to and from 1-7 ratings.

Padding invariance. An utterance gives the same outputs (up to float rounding)
whatever it is padded to, in eval mode and with ``attention_mask`` true. Three
places would otherwise let padding leak in, and each is handled:

* the waveform statistics (``utterance`` norm) use the valid samples only;
* WavLM-Base's first conv layer has a GroupNorm over *time*; it is replaced by
  the length-aware GroupNorm of :mod:`sertools.model.group_norm` (and
  data2vec-audio's stack of positional convolutions has its padded frames
  zeroed between layers, :func:`sertools.model.backbone.positional_conv_layers`);
* pooling (or the TC-GRU head) and the frame mask use the conv output-length
  formula (:mod:`sertools.model.lengths`); WavLM itself zeroes padded frames
  before its positional convolution and masks padded keys in attention.

``group_norm: padded`` keeps transformers' stock GroupNorm (the paper release):
its statistics then include the batch's zero padding, so an utterance's outputs
change with the lengths of its batch-mates.

With ``attention_mask`` false, WavLM attends over padded frames (the behaviour
the transformers docs recommend for ``feat_extract_norm == "group"``), so
outputs then depend on the padding.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, overload

import numpy as np
import torch
from torch import Tensor, nn

from sertools import config as config_mod
from sertools.classes import DIMENSIONS, MSP_PODCAST, ClassSet, K
from sertools.data.dim_scale import check_scale
from sertools.model import backbone as backbones
from sertools.model.lengths import conv_out_lengths, length_mask, min_samples_for
from sertools.model.tcgru import GaussianDims, TCGRUHead, mlp_head

if TYPE_CHECKING:
    from transformers import PreTrainedModel

NUM_DIMS = len(DIMENSIONS)
#: version 2 adds ``head``, ``tc_gru`` and ``dim_scale``; version 1 descriptions mean pooling / unit
ARCHITECTURE_VERSION = 2
SUPPORTED_ARCHITECTURE_VERSIONS = (1, 2)
UTTERANCE_NORM_EPS = 1e-7  # variance floor of per-utterance normalisation (as in HF's feature extractor)
STATS_STD_EPS = 1e-5  # variance floor inside attentive statistics pooling (as in the challenge baseline)

_LAYER_AGGREGATIONS = ("weighted_sum", "last")
_POOLINGS = ("attentive_stats", "mean")
_WAVEFORM_NORMS = ("utterance", "train_stats", "none")
_HEADS = ("pooling", "tc_gru")
GROUP_NORMS = ("valid_frames", "padded")
#: the paper release's TC-GRU settings (the schema's ``model.tc_gru`` defaults)
TC_GRU_DEFAULTS: Mapping[str, int | float] = {
    "hidden": 256,
    "kernel_size": 3,
    "layers": 2,
    "dropout": 0.3,
    "head_hidden": 256,
    "head_dropout": 0.2,
}


class ModelOutput(NamedTuple):
    """Outputs of ``SERModel.forward``.

    ``logits`` [B, K] (K classes: 9 for MSP-Podcast); ``dims`` [B, 3]: the point
    prediction (the mean for the Gaussian head) in the model's ``dim_scale``, [B, 0]
    for a class set without A/V/D; ``dims_logvar`` [B, 3]: the log-variance of the
    Gaussian head (``head: tc_gru``), None for ``pooling`` and without A/V/D.
    """

    logits: Tensor
    dims: Tensor
    dims_logvar: Tensor | None = None


# --------------------------------------------------------------------------- building blocks


def _check_choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"model.{key} must be one of {list(allowed)}, got {value!r}")


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


def _check_options(
    layer_aggregation: str, pooling: str, waveform_norm: str, head_hidden: int, head_dropout: float
) -> None:
    _check_choice("layer_aggregation", layer_aggregation, _LAYER_AGGREGATIONS)
    _check_choice("pooling", pooling, _POOLINGS)
    _check_choice("waveform_norm", waveform_norm, _WAVEFORM_NORMS)
    if head_hidden < 1:
        raise ValueError(f"model.head_hidden must be >= 1, got {head_hidden}")
    if not 0.0 <= head_dropout <= 1.0:
        raise ValueError(f"model.head_dropout must be in [0, 1], got {head_dropout}")


def tc_gru_settings(settings: Mapping[str, Any] | None) -> dict[str, int | float]:
    """``settings`` over :data:`TC_GRU_DEFAULTS`, typed and checked (ValueError names the key)."""
    given = dict(settings or {})
    unknown = sorted(set(given) - set(TC_GRU_DEFAULTS))
    if unknown:
        raise ValueError(f"model.tc_gru: unknown key(s) {unknown} (allowed: {list(TC_GRU_DEFAULTS)})")
    out: dict[str, int | float] = {}
    for key, default in TC_GRU_DEFAULTS.items():
        value = given.get(key, default)
        out[key] = int(value) if isinstance(default, int) else float(value)
    for key in ("hidden", "kernel_size", "layers", "head_hidden"):
        if out[key] < 1:
            raise ValueError(f"model.tc_gru.{key} must be >= 1, got {out[key]}")
    if out["kernel_size"] % 2 != 1:
        raise ValueError(f"model.tc_gru.kernel_size must be odd, got {out['kernel_size']}")
    for key in ("dropout", "head_dropout"):
        if not 0.0 <= out[key] <= 1.0:
            raise ValueError(f"model.tc_gru.{key} must be in [0, 1], got {out[key]}")
    return out


# --------------------------------------------------------------------------- the model


class SERModel(nn.Module):
    """WavLM backbone + layer aggregation + pooling or TC-GRU head + categorical and dimensional heads.

    Build it with ``build_model`` (from the config) or ``model_from_architecture``
    (from a saved description); the constructor takes an already built backbone.
    ``pooling``, ``head_hidden`` and ``head_dropout`` configure ``head="pooling"``;
    ``tc_gru`` (keys of :data:`TC_GRU_DEFAULTS`, missing ones take the defaults)
    configures ``head="tc_gru"``, whose TC-GRU module is ``self.pool``.
    """

    def __init__(
        self,
        backbone: PreTrainedModel,
        *,
        layer_aggregation: str = "weighted_sum",
        pooling: str = "attentive_stats",
        head_hidden: int = 128,
        head_dropout: float = 0.1,
        waveform_norm: str = "utterance",
        attention_mask: bool = True,
        freeze_feature_encoder: bool = True,
        backbone_source: str = "tiny",
        head: str = "pooling",
        tc_gru: Mapping[str, Any] | None = None,
        dim_scale: str = "unit",
        group_norm: str = "valid_frames",
        num_classes: int = K,
        dimensions: tuple[str, ...] = DIMENSIONS,
    ) -> None:
        super().__init__()
        check_outputs(num_classes, dimensions)
        self.num_classes, self.dimensions = int(num_classes), tuple(dimensions)
        _check_options(layer_aggregation, pooling, waveform_norm, head_hidden, head_dropout)
        _check_choice("head", head, _HEADS)
        _check_choice("group_norm", group_norm, GROUP_NORMS)
        check_scale(dim_scale)
        tc_settings = tc_gru_settings(tc_gru) if head == "tc_gru" else None
        self.backbone = backbone
        self.layer_aggregation = layer_aggregation
        self.pooling_kind = pooling
        self.head_hidden = head_hidden
        self.head_dropout = head_dropout
        self.waveform_norm = waveform_norm
        self.use_attention_mask = attention_mask
        self.freeze_feature_encoder = freeze_feature_encoder
        self.backbone_source = backbone_source
        self.head_kind = head
        self.tc_gru_settings = tc_settings
        self.dim_scale = dim_scale
        self.group_norm = group_norm

        if group_norm == "valid_frames":
            backbones.install_length_aware_group_norm(backbone)
        if freeze_feature_encoder:
            backbones.freeze_feature_encoder(backbone)

        cfg = backbone.config
        num_states = cfg.num_hidden_layers + 1
        # zeros → softmax gives uniform 1/(L+1), like transformers' use_weighted_layer_sum
        self.layer_weights = (
            nn.Parameter(torch.zeros(num_states)) if layer_aggregation == "weighted_sum" else None
        )
        self.pool: AttentiveStatsPooling | MeanPooling | TCGRUHead
        self.dim_head: nn.Module | None = None  # none for a class set without A/V/D
        if tc_settings is None:  # pooling: creation order (hence seeded init) as before the TC-GRU option
            pool_cls = AttentiveStatsPooling if pooling == "attentive_stats" else MeanPooling
            self.pool = pool_cls(cfg.hidden_size)
            self.cat_head = _head(self.pool.out_dim, head_hidden, self.num_classes, head_dropout)
            if self.dimensions:
                self.dim_head = _head(self.pool.out_dim, head_hidden, len(self.dimensions), head_dropout)
        else:
            self.pool = TCGRUHead(
                cfg.hidden_size,
                hidden=int(tc_settings["hidden"]),
                kernel_size=int(tc_settings["kernel_size"]),
                gru_layers=int(tc_settings["layers"]),
                dropout=float(tc_settings["dropout"]),
            )
            h, p = int(tc_settings["head_hidden"]), float(tc_settings["head_dropout"])
            self.cat_head = mlp_head(self.pool.out_dim, self.num_classes, hidden=h, dropout=p)
            if self.dimensions:
                self.dim_head = GaussianDims(self.pool.out_dim, hidden=h, dropout=p)

        self.wave_mean: Tensor
        self.wave_std: Tensor
        self.wave_stats_set: Tensor
        self.register_buffer("wave_mean", torch.zeros(()))
        self.register_buffer("wave_std", torch.ones(()))
        self.register_buffer("wave_stats_set", torch.zeros((), dtype=torch.bool))
        self._min_samples = min_samples_for(list(cfg.conv_kernel), list(cfg.conv_stride))

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
        """Pooled (or TC-GRU) utterance representation [B, embed_dim] (fp32)."""
        x, attn, frames, first_layer = self._backbone_inputs(wave, lengths)
        self._check_spec_augment(int(frames.max()))
        with backbones.length_aware_norm(self.backbone, first_layer, self._valid(frames)):
            hidden = self._backbone_states(x, attn)
        if self.head_kind == "tc_gru":
            return self.pool(hidden, frames).float()
        frame_mask = length_mask(frames, hidden.shape[1])
        return self.pool(hidden, frame_mask)

    def layer_states(self, wave: Tensor, lengths: Tensor | None = None) -> tuple[list[Tensor], Tensor]:
        """Every hidden state of the backbone - the encoder input (CNN output after the feature
        projection) and each transformer layer's output, L + 1 tensors [B, T', D] - and the valid
        frames per row. The frozen-upstream features (:mod:`sertools.features.wavlm`) pool these."""
        x, attn, frames, first_layer = self._backbone_inputs(wave, lengths)
        with (
            backbones.length_aware_norm(self.backbone, first_layer, self._valid(frames)),
            backbones.capture_layer_states(self.backbone) as states,
        ):
            last = backbones.last_hidden_state(self.backbone, x, attn)
        return [*states.as_list()[:-1], last], frames

    def forward(self, wave: Tensor, lengths: Tensor | None = None) -> ModelOutput:
        """Logits [B, 9], dimensions [B, 3] in ``dim_scale`` (and their log-variance) for a padded batch.

        ``wave``: float [B, T]; ``lengths``: valid samples per row (None: all T).
        ``dims_logvar`` is None for ``head: pooling``.
        """
        z = self.embed(wave, lengths)
        if self.dim_head is None:
            return ModelOutput(logits=self.cat_head(z), dims=z.new_zeros(z.shape[0], 0))
        if self.head_kind == "tc_gru":
            mean, logvar = self.dim_head(z)
            return ModelOutput(logits=self.cat_head(z), dims=mean, dims_logvar=logvar)
        return ModelOutput(logits=self.cat_head(z), dims=self.dim_head(z))

    def param_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(trainable backbone parameters, everything else: layer weights, pooling or TC-GRU, heads)."""
        backbone_ids = {id(p) for p in self.backbone.parameters()}
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        rest = [p for p in self.parameters() if id(p) not in backbone_ids and p.requires_grad]
        return backbone, rest

    def encoder_layers(self) -> nn.ModuleList:
        """The backbone's transformer layers, bottom to top (``backbone.encoder.layers``)."""
        return backbones.encoder_layers(self.backbone)

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
            "head": self.head_kind,
            "tc_gru": None if self.tc_gru_settings is None else dict(self.tc_gru_settings),
            "dim_scale": self.dim_scale,
            "group_norm": self.group_norm,
            "num_classes": self.num_classes,
            "dimensions": list(self.dimensions),
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

    def _backbone_inputs(
        self, wave: Tensor, lengths: Tensor | None
    ) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
        """Normalised waveforms, the sample attention mask (or None), valid frames per row and
        valid frames of the first conv layer (its length-aware GroupNorm)."""
        lengths = self._check_inputs(wave, lengths)
        x = self.normalize_waveform(wave, lengths)
        sample_mask = length_mask(lengths, x.shape[1])
        frames = frames_for_samples(self, lengths)
        cfg = self.backbone.config
        first_layer = conv_out_lengths(lengths, cfg.conv_kernel, cfg.conv_stride, layers=1)
        attn = sample_mask.to(torch.long) if self.use_attention_mask else None
        return x, attn, frames, first_layer

    def _valid(self, frames: Tensor) -> Tensor | None:
        """``frames`` for the backbone's positional-convolution mask under ``group_norm: valid_frames``
        (data2vec-audio's stack, :func:`sertools.model.backbone.positional_conv_layers`), else None."""
        return frames if self.group_norm == "valid_frames" else None

    def _check_spec_augment(self, max_frames: int) -> None:
        cfg = self.backbone.config
        if (
            self.training
            and getattr(cfg, "apply_spec_augment", True)  # data2vec-audio's config has no such field
            and cfg.mask_time_prob > 0
            and max_frames < cfg.mask_time_length
        ):
            raise ValueError(
                f"SpecAugment needs at least mask_time_length={cfg.mask_time_length} frames, "
                f"the batch has {max_frames}; use longer training crops or model.mask_time_prob: 0"
            )

    def _backbone_states(self, x: Tensor, attn: Tensor | None) -> Tensor:
        """The aggregated hidden states [B, T', D]."""
        if self.layer_weights is None:
            return backbones.last_hidden_state(self.backbone, x, attn)
        with backbones.capture_layer_states(self.backbone) as states:
            last = backbones.last_hidden_state(self.backbone, x, attn)
        # last entry tied to last_hidden_state (post final LayerNorm in stable-layer-norm variants)
        hidden = [*states.as_list()[:-1], last]
        weights = torch.softmax(self.layer_weights, dim=0)
        out = weights[0] * hidden[0]
        for w, h in zip(weights[1:], hidden[1:], strict=True):
            out = out + w * h
        return out


def min_input_samples(model: SERModel) -> int:
    """The smallest number of samples the conv feature encoder accepts."""
    cfg = model.backbone.config
    return min_samples_for(list(cfg.conv_kernel), list(cfg.conv_stride))


@overload
def frames_for_samples(model: SERModel, lengths: int) -> int: ...
@overload
def frames_for_samples(model: SERModel, lengths: Tensor) -> Tensor: ...
def frames_for_samples(model: SERModel, lengths: Tensor | int) -> Tensor | int:
    """Number of backbone frames for ``lengths`` samples (same kind as the input: int or LongTensor)."""
    # the conv arithmetic of every family's _get_feat_extract_output_lengths (whose signatures differ)
    cfg = model.backbone.config
    as_tensor = torch.as_tensor(lengths, dtype=torch.long)
    frames = conv_out_lengths(as_tensor, cfg.conv_kernel, cfg.conv_stride, layers=len(cfg.conv_kernel))
    return int(frames) if isinstance(lengths, int) else frames


# --------------------------------------------------------------------------- construction


def build_model(model_cfg: Mapping[str, Any], classes: ClassSet = MSP_PODCAST) -> SERModel:
    """The model described by the config's ``model`` section (missing keys take schema defaults),
    predicting ``classes`` (a dimensional head only when the class set has A/V/D).

    ``tiny`` is random-init and deterministic under ``torch.manual_seed``.
    """
    cfg = config_mod.resolve({"model": copy.deepcopy(dict(model_cfg))})["model"]
    return SERModel(
        backbones.make_backbone(cfg),
        layer_aggregation=cfg["layer_aggregation"],
        pooling=cfg["pooling"],
        head_hidden=cfg["head_hidden"],
        head_dropout=cfg["head_dropout"],
        waveform_norm=cfg["waveform_norm"],
        attention_mask=cfg["attention_mask"],
        freeze_feature_encoder=cfg["freeze_feature_encoder"],
        backbone_source=cfg["backbone"],
        head=cfg["head"],
        tc_gru=cfg["tc_gru"],
        dim_scale=cfg["dim_scale"],
        group_norm=cfg["group_norm"],
        num_classes=classes.k,
        dimensions=classes.dimensions,
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
_ARCH_KEYS_V2 = ("head", "tc_gru", "dim_scale")


def _check_architecture(arch: Mapping[str, Any]) -> None:
    version = arch.get("version", 1)  # descriptions have always carried a version; none: the oldest
    if version not in SUPPORTED_ARCHITECTURE_VERSIONS:
        raise ValueError(
            f"architecture version {version} is not supported "
            f"(expected one of {list(SUPPORTED_ARCHITECTURE_VERSIONS)})"
        )
    required = _ARCH_KEYS + (_ARCH_KEYS_V2 if version >= 2 else ())
    missing = [k for k in required if k not in arch]
    if missing:
        raise ValueError(f"architecture description lacks key(s) {missing}")
    architecture_outputs(arch)


def check_outputs(num_classes: int, dimensions: Sequence[str]) -> None:
    """Refuse outputs no class set has: fewer than 2 classes, or dimensions other than all of
    :data:`sertools.classes.DIMENSIONS` or none."""
    if int(num_classes) < 2:
        raise ValueError(f"a model needs at least 2 classes, got {num_classes}")
    if tuple(dimensions) not in (DIMENSIONS, ()):
        raise ValueError(f"dimensions must be {list(DIMENSIONS)} or none, got {list(dimensions)}")


def architecture_outputs(arch: Mapping[str, Any]) -> tuple[int, tuple[str, ...]]:
    """The number of classes and the dimensions of an architecture description (before they were
    recorded: MSP-Podcast's 9 and A/V/D), checked by :func:`check_outputs`."""
    num_classes = int(arch.get("num_classes", K))
    dimensions = tuple(str(d) for d in arch.get("dimensions", DIMENSIONS))
    try:
        check_outputs(num_classes, dimensions)
    except ValueError as e:
        raise ValueError(f"architecture description: {e}") from None
    return num_classes, dimensions


def architecture_dim_scale(arch: Mapping[str, Any]) -> str:
    """The ``dim_scale`` of an architecture description (``unit`` for descriptions before version 2)."""
    return check_scale(str(arch.get("dim_scale") or "unit"))


def model_from_architecture(arch: Mapping[str, Any]) -> SERModel:
    """Random-init model with exactly the architecture of ``SERModel.architecture()`` (no download).

    Version 1 descriptions (no ``head``, ``tc_gru``, ``dim_scale``) mean the pooling
    head and the ``unit`` scale; a description without ``group_norm`` means ``valid_frames``.
    """
    _check_architecture(arch)
    num_classes, dimensions = architecture_outputs(arch)
    backbone = backbones.backbone_from_config(arch["backbone_config"])
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
        head=str(arch.get("head") or "pooling"),
        tc_gru=arch.get("tc_gru"),
        dim_scale=architecture_dim_scale(arch),
        group_norm=str(arch.get("group_norm") or "valid_frames"),
        num_classes=num_classes,
        dimensions=dimensions,
    )

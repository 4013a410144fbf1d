"""The self-supervised upstream families sertools builds through ``model.backbone``.

One table, :data:`FAMILIES`: a checkpoint's config.json ``model_type`` -> the
stem of its transformers classes (``<stem>Config``, ``<stem>Model``). Every
family listed has WavLM's interface - a CNN feature encoder
(``feature_extractor.conv_layers``), a transformer encoder (``encoder.layers``),
``freeze_feature_encoder()`` and the config fields ``conv_kernel``,
``conv_stride``, ``num_hidden_layers``, ``hidden_size``, ``mask_time_prob`` and
``layerdrop`` - which is all :mod:`sertools.model.backbone` and
:mod:`sertools.model.network` use (docs/upstreams.md: what was tested).

This module imports neither torch nor transformers: ``sertools check``, which
the workflow's Snakefile runs when it loads, reads it.
"""

from __future__ import annotations

from collections.abc import Mapping

#: config.json ``model_type`` -> the transformers class-name stem of its config and base model
FAMILIES: Mapping[str, str] = {
    "wavlm": "WavLM",
    "hubert": "Hubert",
    "wav2vec2": "Wav2Vec2",
    "data2vec-audio": "Data2VecAudio",
}


def family_of(model_type: object, where: str = "model.backbone") -> str:
    """``model_type`` itself if it is one of :data:`FAMILIES`, else ValueError naming them."""
    if model_type not in FAMILIES:
        raise ValueError(
            f"{where}: model_type {model_type!r} is not a supported upstream "
            f"(supported: {', '.join(FAMILIES)}; docs/upstreams.md)"
        )
    return str(model_type)

"""The WavLM backbone: tiny config, local and hub sources, layer-state capture, run-time overrides."""

from __future__ import annotations

import pytest
import torch
from tinymodel import build, noise
from transformers import AutoConfig, WavLMModel

from sertools.model import backbone as B
from sertools.model.network import SERModel, build_model

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask:UserWarning")


@pytest.fixture(scope="module")
def model() -> SERModel:
    return build().eval()


def test_layer_weights_uniform_and_weighted_sum_matches_transformers(model: SERModel) -> None:
    L = model.backbone.config.num_hidden_layers
    torch.testing.assert_close(model.layer_weight_values(), torch.full((L + 1,), 1.0 / (L + 1)))
    x = noise(2000, 15)[None]
    attn = torch.ones(1, 2000, dtype=torch.long)
    ours = model._backbone_states(x, attn)
    ref = model.backbone(x, attention_mask=attn, output_hidden_states=True).hidden_states
    assert len(ref) == L + 1
    torch.testing.assert_close(ours, torch.stack(ref).mean(0), atol=1e-6, rtol=0)


def test_layerdrop_in_training_still_aggregates_all_states() -> None:
    m = build(layerdrop=1.0).train()  # every layer after the first is skipped
    assert m.backbone.config.layerdrop == 1.0
    out = m(torch.stack([noise(2000, 16), noise(2000, 17)]), torch.tensor([2000, 1700]))
    assert torch.isfinite(out.logits).all()


def test_spec_augment_config_and_short_input_error() -> None:
    m = build(mask_time_prob=0.3)
    assert m.backbone.config.apply_spec_augment and m.backbone.config.mask_time_prob == 0.3
    assert not build().backbone.config.apply_spec_augment
    m.train()
    with pytest.raises(ValueError, match="mask_time_length"):
        m(noise(1000, 18)[None])  # 3 frames < mask_time_length
    out = m(noise(4000, 18)[None])  # 12 frames
    assert torch.isfinite(out.logits).all()


def test_config_errors(tmp_path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="num_attention_heads"):
        build_model({"tiny": {"num_attention_heads": 3}})
    with pytest.raises(ValueError, match="equal length"):
        build_model({"tiny": {"conv_kernel": [10, 8, 4]}})
    with pytest.raises(ValueError, match="pooling"):
        build_model({"pooling": "max"})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_model({"backbone": str(tmp_path / "missing")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        build_model({"backbone": str(tmp_path / "empty")})

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(WavLMModel, "from_pretrained", offline)
    monkeypatch.setattr(AutoConfig, "from_pretrained", offline)  # a hub id's family is read first
    with pytest.raises(RuntimeError, match="local directory"):
        build_model({"backbone": "microsoft/wavlm-base"})


def test_local_checkpoint_directory_loads_weights(tmp_path) -> None:
    src = build(seed=7)
    src.backbone.save_pretrained(str(tmp_path / "ckpt"))
    m = build_model({"backbone": str(tmp_path / "ckpt"), "layerdrop": 0.2})
    assert m.backbone.config.layerdrop == 0.2 and not m.backbone.config.apply_spec_augment
    sa, sb = src.backbone.state_dict(), m.backbone.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert m.architecture()["backbone_source"] == str(tmp_path / "ckpt")


def test_layer_state_capture_gives_every_state_and_removes_its_hooks(model: SERModel) -> None:
    x = noise(2000, 22)[None]
    layers = model.backbone.encoder.layers
    hooks = [(len(layer._forward_pre_hooks), len(layer._forward_hooks)) for layer in layers]
    with B.capture_layer_states(model.backbone) as states:
        last = B.last_hidden_state(model.backbone, x, None)
    ref = model.backbone(x, output_hidden_states=True).hidden_states
    captured = states.as_list()
    assert len(captured) == len(ref) == model.backbone.config.num_hidden_layers + 1
    for ours, theirs in zip(captured[:-1], ref[:-1], strict=True):
        torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(last, ref[-1])
    assert [(len(layer._forward_pre_hooks), len(layer._forward_hooks)) for layer in layers] == hooks


def test_the_first_group_norm_is_length_aware() -> None:
    m = build()
    assert isinstance(m.backbone.feature_extractor.conv_layers[0].layer_norm, B.LengthAwareGroupNorm)
    cfg = B.tiny_backbone_config({**_tiny(), "dropout": 0.3}, mask_time_prob=0.2, layerdrop=0.1)
    assert (cfg.hidden_dropout, cfg.layerdrop, cfg.mask_time_prob, cfg.apply_spec_augment) == (
        0.3,
        0.1,
        0.2,
        True,
    )


def _tiny() -> dict:
    from sertools import config

    return dict(config.resolve({})["model"]["tiny"])


def test_identity_records_a_local_checkpoint_by_hash(tmp_path) -> None:
    """A run's env.json names the exact weights: a saved checkpoint by its files' SHA-256."""
    import hashlib

    from sertools.model import backbone as backbone_mod

    ckpt = tmp_path / "wavlm"
    ckpt.mkdir()
    (ckpt / "config.json").write_text('{"model_type": "wavlm"}')
    (ckpt / "model.safetensors").write_bytes(b"weights")
    ident = backbone_mod.identity({"backbone": str(ckpt)})
    assert ident["source"] == str(ckpt.resolve())
    assert ident["model.safetensors"] == {"bytes": 7, "sha256": hashlib.sha256(b"weights").hexdigest()}
    assert backbone_mod.identity({"backbone": "microsoft/wavlm-base"})["revision_pinned"] is False

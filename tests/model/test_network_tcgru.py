"""The paper release's model (``model.head: tc_gru``) on the tiny WavLM config, and architecture versions."""

from __future__ import annotations

import pytest
import torch
from test_network import roundtrip
from tinymodel import build, noise

from sertools.model import network as M
from sertools.model.tcgru import GaussianDims, TCGRUHead

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask:UserWarning")

SMALL_TC_GRU = {
    "hidden": 24,
    "kernel_size": 3,
    "layers": 2,
    "dropout": 0.3,
    "head_hidden": 20,
    "head_dropout": 0.2,
}


def build_tc(seed: int = 0, **overrides: object) -> M.SERModel:
    return build(seed, head="tc_gru", tc_gru=SMALL_TC_GRU, **overrides)


def test_tc_gru_model_builds_from_config() -> None:
    m = build_tc(layer_aggregation="last", dim_scale="neg1_1")
    assert m.head_kind == "tc_gru" and m.dim_scale == "neg1_1"
    assert isinstance(m.pool, TCGRUHead) and isinstance(m.dim_head, GaussianDims)
    assert m.pool.conv.in_channels == m.backbone.config.hidden_size == 64
    assert m.pool.conv.out_channels == 24 and m.pool.conv.kernel_size == (3,)
    assert m.pool.gru.num_layers == 2 and m.pool.gru.dropout == pytest.approx(0.3)
    assert m.cat_head[0].out_features == 20 and m.cat_head[-1].out_features == 9
    assert m.cat_head[3].p == pytest.approx(0.2)
    assert m.dim_head.net[-1].out_features == 6
    assert m.embed_dim == 24
    assert m.layer_weights is None


def test_release_defaults() -> None:
    m = build(head="tc_gru")
    assert m.tc_gru_settings == dict(M.TC_GRU_DEFAULTS)
    assert m.pool.out_dim == 256 and m.pool.gru.num_layers == 2
    assert m.cat_head[0].out_features == 256 and m.cat_head[3].p == pytest.approx(0.2)
    assert m.pool.conv_dropout.p == pytest.approx(0.3)


def test_defaults_keep_the_pooling_model() -> None:
    m = build()
    assert m.head_kind == "pooling" and m.dim_scale == "unit" and m.tc_gru_settings is None
    arch = m.architecture()
    assert arch["head"] == "pooling" and arch["tc_gru"] is None and arch["dim_scale"] == "unit"
    out = m.eval()(noise(2000, 1)[None])
    assert out.dims_logvar is None


def test_output_shapes() -> None:
    m = build_tc().eval()
    wave = torch.stack([noise(3000, 1), noise(3000, 2), noise(3000, 3)])
    out = m(wave, torch.tensor([3000, 1800, 900]))
    assert isinstance(out, M.ModelOutput)
    assert out.logits.shape == (3, 9) and out.dims.shape == (3, 3) and out.dims_logvar.shape == (3, 3)
    assert out.logits.dtype == out.dims.dtype == out.dims_logvar.dtype == torch.float32
    assert all(torch.isfinite(t).all() for t in out)
    assert m.embed(wave, torch.tensor([3000, 1800, 900])).shape == (3, 24)


@pytest.mark.parametrize("aggregation", ("weighted_sum", "last"))
def test_padding_invariance(aggregation: str) -> None:
    m = build_tc(layer_aggregation=aggregation).eval()
    u = noise(1500, 3)
    alone = m(u[None], torch.tensor([1500]))
    for pad_to, seed in ((2600, 4), (5000, 5)):
        batch = torch.zeros(2, pad_to)
        batch[0, :1500] = u
        batch[0, 1500:] = 7.0  # garbage in the padding must not matter
        batch[1] = noise(pad_to, seed)
        out = m(batch, torch.tensor([1500, pad_to]))
        for name in ("logits", "dims", "dims_logvar"):
            torch.testing.assert_close(getattr(out, name)[0], getattr(alone, name)[0], atol=1e-5, rtol=0)


def test_architecture_roundtrip_reproduces_outputs(tmp_path) -> None:
    m = build_tc(seed=3, dim_scale="1_7", freeze_feature_encoder=False)
    arch = m.architecture()
    assert arch["version"] == M.ARCHITECTURE_VERSION
    assert arch["head"] == "tc_gru" and arch["tc_gru"] == SMALL_TC_GRU and arch["dim_scale"] == "1_7"
    a, b = roundtrip(m, tmp_path)
    assert torch.equal(a.dims_logvar, b.dims_logvar)


def test_version_1_architecture_means_pooling_and_unit() -> None:
    m = build(seed=4)
    arch = m.architecture()
    for key in ("head", "tc_gru", "dim_scale"):
        del arch[key]
    arch["version"] = 1
    m2 = M.model_from_architecture(arch)
    assert m2.head_kind == "pooling" and m2.dim_scale == "unit"
    m2.load_state_dict(m.state_dict(), strict=True)
    assert M.architecture_dim_scale(arch) == "unit"
    del arch["version"]  # no version at all: the oldest format
    assert M.model_from_architecture(arch).head_kind == "pooling"


def test_architecture_version_checks() -> None:
    arch = build().architecture()
    with pytest.raises(ValueError, match="version 3"):
        M.model_from_architecture({**arch, "version": 3})
    del arch["dim_scale"]
    with pytest.raises(ValueError, match="dim_scale"):
        M.model_from_architecture(arch)


def test_param_groups_and_encoder_layers() -> None:
    m = build_tc()
    backbone, rest = m.param_groups()
    ids_b, ids_r = {id(p) for p in backbone}, {id(p) for p in rest}
    assert not ids_b & ids_r
    assert ids_b | ids_r == {id(p) for p in m.parameters() if p.requires_grad}
    heads = [m.layer_weights, *m.pool.parameters(), *m.cat_head.parameters(), *m.dim_head.parameters()]
    assert {id(p) for p in heads} == ids_r
    layers = m.encoder_layers()
    assert layers is m.backbone.encoder.layers and len(layers) == m.backbone.config.num_hidden_layers == 2
    assert {id(p) for layer in layers for p in layer.parameters()} <= ids_b


def test_gradients_reach_every_head() -> None:
    m = build_tc()
    out = m(torch.stack([noise(2000, 10), noise(2000, 11)]), torch.tensor([2000, 1500]))
    (out.logits.sum() + out.dims.sum() + out.dims_logvar.sum()).backward()
    for module in (m.pool, m.cat_head, m.dim_head):
        assert all(p.grad is not None for p in module.parameters())


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"model\.head must be one of"):
        M.SERModel(build().backbone, head="attention")
    with pytest.raises(ValueError, match="dim_scale"):
        M.SERModel(build().backbone, dim_scale="0_1")
    with pytest.raises(ValueError, match="tc_gru"):
        build(head="tc_gru", tc_gru={"hidden": 0})  # the schema refuses it first
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        M.tc_gru_settings({"kernel_size": 4})
    with pytest.raises(ValueError, match="unknown key"):
        M.tc_gru_settings({"width": 4})
    with pytest.raises(ValueError, match="head_dropout"):
        M.tc_gru_settings({"head_dropout": 1.5})

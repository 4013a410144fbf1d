"""The multitask model on the tiny (random-init, offline) WavLM config."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from tinymodel import build, noise

from sertools.model import network as M
from sertools.model.lengths import length_mask

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask:UserWarning")

AGGREGATIONS = ("weighted_sum", "last")
POOLINGS = ("attentive_stats", "mean")


@pytest.fixture(scope="module")
def model() -> M.SERModel:
    return build().eval()


def test_output_shapes(model: M.SERModel) -> None:
    wave = torch.stack([noise(3000, 1), noise(3000, 2)])
    out = model(wave, torch.tensor([3000, 1800]))
    assert isinstance(out, M.ModelOutput)
    assert out.logits.shape == (2, 9) and out.dims.shape == (2, 3)
    assert out.logits.dtype == torch.float32
    emb = model.embed(wave, torch.tensor([3000, 1800]))
    assert emb.shape == (2, model.embed_dim) == (2, 2 * 64)
    assert torch.isfinite(emb).all()


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_invariance(aggregation: str, pooling: str) -> None:
    m = build(layer_aggregation=aggregation, pooling=pooling).eval()
    u = noise(1500, 3)
    alone = m(u[None], torch.tensor([1500]))
    results = []
    for pad_to, seed in ((2600, 4), (5000, 5)):
        batch = torch.zeros(2, pad_to)
        batch[0, :1500] = u
        batch[0, 1500:] = 7.0  # garbage in the padding must not matter
        batch[1] = noise(pad_to, seed)
        lengths = torch.tensor([1500, pad_to])
        results.append((m(batch, lengths), m.embed(batch, lengths)))
    ref_emb = m.embed(u[None], torch.tensor([1500]))
    for out, emb in results:
        torch.testing.assert_close(out.logits[0], alone.logits[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(out.dims[0], alone.dims[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(emb[0], ref_emb[0], atol=1e-5, rtol=0)


def test_utterance_normalisation_ignores_padding() -> None:
    u = noise(100, 6) * 3 + 2
    batch = torch.full((2, 160), float("nan"))  # even NaN padding must not leak
    batch[0, :100] = u
    batch[1] = noise(160, 7)
    mask = length_mask(torch.tensor([100, 160]), 160)
    out = M.normalize_waveform(batch, mask, "utterance")
    alone = M.normalize_waveform(u[None], torch.ones(1, 100, dtype=torch.bool), "utterance")
    torch.testing.assert_close(out[0, :100], alone[0], atol=1e-6, rtol=0)
    assert torch.all(out[0, 100:] == 0)
    valid = out[0, :100].double()
    assert abs(float(valid.mean())) < 1e-6
    assert abs(float(valid.var(unbiased=False)) - 1.0) < 1e-5
    expected = (u - u.mean()) / u.std(unbiased=False)
    torch.testing.assert_close(out[0, :100], expected, atol=1e-5, rtol=0)


def test_train_stats_and_none_normalisation() -> None:
    m = build(waveform_norm="train_stats").eval()
    wave = torch.stack([noise(2000, 8), noise(2000, 9)])
    lengths = torch.tensor([2000, 1200])
    with pytest.raises(ValueError, match="set_waveform_stats"):
        m(wave, lengths)
    with pytest.raises(ValueError, match="std > 0"):
        m.set_waveform_stats(0.0, 0.0)
    m.set_waveform_stats(0.05, 0.3)
    x = m.normalize_waveform(wave, lengths)
    torch.testing.assert_close(x[0], (wave[0] - 0.05) / 0.3)
    assert torch.all(x[1, 1200:] == 0)
    torch.testing.assert_close(x[1, :1200], (wave[1, :1200] - 0.05) / 0.3)
    assert "wave_mean" in m.state_dict()
    mask = length_mask(lengths, 2000)
    raw = M.normalize_waveform(wave, mask, "none")
    assert torch.equal(raw[0], wave[0]) and torch.all(raw[1, 1200:] == 0)


def test_param_groups_partition_trainable_params() -> None:
    for freeze in (True, False):
        m = build(freeze_feature_encoder=freeze)
        backbone, rest = m.param_groups()
        ids_b, ids_r = {id(p) for p in backbone}, {id(p) for p in rest}
        trainable = {id(p) for p in m.parameters() if p.requires_grad}
        assert not ids_b & ids_r
        assert ids_b | ids_r == trainable
        assert ids_b <= {id(p) for p in m.backbone.parameters()}
        assert id(m.layer_weights) in ids_r
        assert {id(p) for p in m.cat_head.parameters()} | {id(p) for p in m.pool.parameters()} <= ids_r
        conv = list(m.backbone.feature_extractor.parameters())
        assert conv and all(p.requires_grad is (not freeze) for p in conv)
        assert all((id(p) in ids_b) is (not freeze) for p in conv)


def test_frozen_encoder_gets_no_gradient_but_heads_do() -> None:
    m = build()
    out = m(torch.stack([noise(2000, 10), noise(2000, 11)]), torch.tensor([2000, 1500]))
    (out.logits.sum() + out.dims.sum()).backward()
    assert all(p.grad is None for p in m.backbone.feature_extractor.parameters())
    assert m.layer_weights.grad is not None and torch.any(m.layer_weights.grad != 0)
    assert m.backbone.encoder.layers[0].attention.q_proj.weight.grad is not None


def roundtrip(m: M.SERModel, tmp_path) -> tuple[M.ModelOutput, M.ModelOutput]:
    """Outputs of ``m`` and of its rebuild from architecture() + saved weights on one padded batch."""
    arch = json.loads(json.dumps(m.architecture()))
    path = tmp_path / "model.safetensors"
    save_file(m.state_dict(), str(path))
    torch.manual_seed(99)
    m2 = M.model_from_architecture(arch)
    m2.load_state_dict(load_file(str(path)), strict=True)
    assert m2.architecture() == m.architecture()
    m.eval()
    m2.eval()
    wave = torch.stack([noise(2400, 12), noise(2400, 13)])
    lengths = torch.tensor([2400, 1000])
    assert [p.requires_grad for p in m.parameters()] == [p.requires_grad for p in m2.parameters()]
    a, b = m(wave, lengths), m2(wave, lengths)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.dims, b.dims)
    return a, b


def test_architecture_roundtrip_reproduces_outputs(tmp_path) -> None:
    m = build(seed=3, pooling="mean", waveform_norm="train_stats", freeze_feature_encoder=False)
    m.set_waveform_stats(0.01, 0.25)
    a, b = roundtrip(m, tmp_path)
    assert a.dims_logvar is None and b.dims_logvar is None


def test_model_from_architecture_rejects_incomplete_description(model: M.SERModel) -> None:
    arch = model.architecture()
    del arch["pooling"]
    with pytest.raises(ValueError, match="pooling"):
        M.model_from_architecture(arch)


def test_deterministic_init_and_forward() -> None:
    a, b, c = build(seed=5), build(seed=5), build(seed=6)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    a.eval()
    wave = noise(2000, 14)[None]
    assert torch.equal(a(wave).logits, a(wave).logits)


def test_min_input_samples_and_frames(model: M.SERModel) -> None:
    n = M.min_input_samples(model)
    assert n == 345  # backwards from 1 frame, n ← (n − 1)·s + k: 1 → 4 → 16 → 68 → 345
    assert M.frames_for_samples(model, n) == 1
    out = model(noise(n, 19)[None], torch.tensor([n]))
    assert torch.isfinite(out.logits).all()
    with pytest.raises(ValueError, match="receptive field"):
        model(noise(n, 19)[None, : n - 1], torch.tensor([n - 1]))
    lengths = torch.tensor([345, 1000, 1665, 1666, 4321])
    frames = M.frames_for_samples(model, lengths)
    for length, f in zip(lengths.tolist(), frames.tolist(), strict=True):
        hidden = model.backbone(noise(length, 20)[None]).last_hidden_state
        assert hidden.shape[1] == f


def test_input_validation(model: M.SERModel) -> None:
    wave = noise(2000, 21)[None]
    with pytest.raises(ValueError, match="exceed"):
        model(wave, torch.tensor([2001]))
    with pytest.raises(ValueError, match="lengths"):
        model(wave, torch.tensor([2000, 2000]))
    with pytest.raises(ValueError, match="wave"):
        model(wave[0], torch.tensor([2000]))

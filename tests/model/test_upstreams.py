"""Every SSL family through model.backbone: tiny random-init checkpoints of each, no download.

For each family (and its Large layout: layer-normed feature encoder, stable layer norm) a
checkpoint directory saved by transformers is loaded as ``model.backbone``; the model must
capture every layer's state, stay padding-invariant with the length-aware GroupNorm where
the family has one, rebuild from its saved architecture, train a step, and give frozen
features of the shape its config says.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from tinymodel import noise

from sertools import check, config
from sertools.features import wavlm
from sertools.model import backbone as B
from sertools.model.families import FAMILIES
from sertools.model.group_norm import LengthAwareGroupNorm
from sertools.model.network import build_model, frames_for_samples, model_from_architecture

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask:UserWarning")

TINY = {
    "hidden_size": 16,
    "num_hidden_layers": 3,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "conv_dim": [8, 8, 8],
    "conv_stride": [5, 4, 4],
    "conv_kernel": [10, 8, 4],
    "num_conv_pos_embeddings": 8,
    "num_conv_pos_embedding_groups": 2,
}
LARGE = {"feat_extract_norm": "layer", "do_stable_layer_norm": True}
#: (family, extra config): Base layouts and the Large ones (WavLM Large, HuBERT Large, wav2vec 2.0 LV-60)
CASES = [
    ("wavlm", {}),
    ("wavlm", LARGE),
    ("hubert", {}),
    ("hubert", LARGE),
    ("wav2vec2", {}),
    ("wav2vec2", LARGE),
    ("data2vec-audio", {"num_conv_pos_embeddings": 5}),
]
IDS = [f"{f}{'-large' if extra.get('do_stable_layer_norm') else ''}" for f, extra in CASES]


def save_tiny(directory: Path, family: str, extra: dict, seed: int = 0) -> Path:
    config_cls, model_cls = B.family_classes(family)
    torch.manual_seed(seed)
    model_cls(config_cls(**{**TINY, **extra})).save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def checkpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    family, extra = request.param
    return family, save_tiny(tmp_path_factory.mktemp(family), family, extra)


def test_family_loads_from_its_config_and_captures_every_layer(checkpoint: tuple[str, Path]) -> None:
    family, path = checkpoint
    m = build_model({"backbone": str(path), "layer_aggregation": "weighted_sum"}).eval()
    assert type(m.backbone) is B.family_classes(family)[1]
    assert m.backbone.config.model_type == family
    assert m.layer_weights is not None and len(m.layer_weights) == TINY["num_hidden_layers"] + 1
    x = noise(3000, 1)[None]
    states, frames = m.layer_states(x)
    xn = m.normalize_waveform(x, torch.tensor([3000]))  # what the model feeds its backbone
    ref = m.backbone(xn, attention_mask=torch.ones_like(x, dtype=torch.long), output_hidden_states=True)
    assert len(states) == len(ref.hidden_states) == TINY["num_hidden_layers"] + 1
    for ours, theirs in zip(states[:-1], ref.hidden_states[:-1], strict=True):
        torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(states[-1], ref.last_hidden_state)
    lengths = torch.tensor([3000, 1234, 400])
    assert torch.equal(frames_for_samples(m, lengths), m.backbone._get_feat_extract_output_lengths(lengths))
    assert int(frames[0]) == states[0].shape[1]


def test_padding_invariance_and_the_length_aware_group_norm(checkpoint: tuple[str, Path]) -> None:
    """GroupNorm over time (feat_extract_norm group) is swapped; per-frame layer norms need nothing."""
    _family, path = checkpoint
    m = build_model({"backbone": str(path)}).eval()
    gn = getattr(m.backbone.feature_extractor.conv_layers[0], "layer_norm", None)
    grouped = getattr(m.backbone.config, "feat_extract_norm", None) == "group"
    assert isinstance(gn, LengthAwareGroupNorm) == grouped
    a, b = noise(2400, 2), noise(4000, 3)
    batch = torch.zeros(2, 4000)
    batch[0, :2400], batch[1] = a, b
    with torch.no_grad():
        together = m(batch, torch.tensor([2400, 4000]))
        alone = m(a[None])
    torch.testing.assert_close(together.logits[0], alone.logits[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(together.dims[0], alone.dims[0], atol=1e-5, rtol=1e-4)


def test_architecture_round_trip_and_a_training_step(checkpoint: tuple[str, Path]) -> None:
    _family, path = checkpoint
    m = build_model({"backbone": str(path), "head": "tc_gru", "tc_gru": {"hidden": 8, "head_hidden": 8}})
    arch = json.loads(json.dumps(m.architecture()))  # what a checkpoint stores
    again = model_from_architecture(arch)
    assert type(again.backbone) is type(m.backbone)
    again.load_state_dict(m.state_dict(), strict=True)
    m.eval(), again.eval()
    x = noise(3000, 4)[None]
    with torch.no_grad():
        torch.testing.assert_close(again(x).logits, m(x).logits)
    m.train()
    out = m(torch.stack([noise(3000, 5), noise(3000, 6)]), torch.tensor([3000, 2000]))
    (out.logits.logsumexp(dim=1).mean() + out.dims.square().mean()).backward()
    backbone, _heads = m.param_groups()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone)
    assert len(m.encoder_layers()) == TINY["num_hidden_layers"]


def test_frozen_features_and_preflight(checkpoint: tuple[str, Path], tmp_path: Path) -> None:
    family, path = checkpoint
    model_cfg = config.resolve({"model": {"backbone": str(path)}})["model"]
    import soundfile as sf

    wav = tmp_path / "u.wav"
    sf.write(wav, noise(4000, 7).numpy(), 16000, subtype="FLOAT")
    settings = {**config.resolve({})["features"]["wavlm"], "std_pooling": True}
    feats, names = wavlm.extract([str(wav)], [4000], 16000, model_cfg, settings, torch.device("cpu"))
    assert feats.shape == (1, TINY["num_hidden_layers"] + 1, 2 * TINY["hidden_size"]) and len(names) == 4
    assert np.isfinite(feats).all()
    found = check.backbone_findings({"model": {"backbone": str(path)}, "variants": {}})
    assert [f.ok for f in found] == [True, True], found
    assert f"model_type {family!r}, 3 layers, hidden size 16" in found[0].detail


def test_an_unsupported_family_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "whisper").mkdir()
    (tmp_path / "whisper" / "config.json").write_text('{"model_type": "whisper", "num_hidden_layers": 4}')
    with pytest.raises(ValueError, match="model_type 'whisper' is not a supported upstream"):
        build_model({"backbone": str(tmp_path / "whisper")})
    found = check.backbone_findings({"model": {"backbone": str(tmp_path / "whisper")}, "variants": {}})
    assert found[0].ok is False and "data2vec-audio" in found[0].detail
    assert set(FAMILIES) == {"wavlm", "hubert", "wav2vec2", "data2vec-audio"}


def test_model_and_feature_modules_leave_transformers_unimported() -> None:
    """The Snakefile and the frozen-feature jobs import these; transformers costs ~2 s to import."""
    code = (
        "import sys\n"
        "import sertools.model.backbone, sertools.model.network, sertools.model.factory\n"
        "import sertools.features.extract, sertools.features.store, sertools.check\n"
        "import sertools.evaluation.predict, sertools.inference.infer, sertools.inference.export\n"
        "print('transformers' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert "transformers" in sys.modules or transformers  # this process may; the subprocess may not

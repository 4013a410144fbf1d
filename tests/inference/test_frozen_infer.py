"""`infer` on frozen-upstream heads: it computes the eGeMAPS or SSL features itself, as the features stage did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tinyrun import TINY_MODEL, TRAIN, run_and_predict

import sertools
from sertools import config
from sertools.classes import CLASSES
from sertools.features import extract
from sertools.inference import bundle, export

PROBS = [f"p_{c}" for c in CLASSES]
SPLITS = ("Train", "Development", "Test1")


def frozen_cfg(upstream: str) -> dict:
    head = {
        "targets": "primary",
        "loss": "kl",
        "model": {"mode": "frozen", "upstream": upstream, "frozen": {"hidden": 16}},
    }
    return config.resolve(
        {
            "model": TINY_MODEL,
            "train": {**TRAIN, "max_epochs": 2, "eval_batching": "file_order"},
            "variants": {"head": head},
            "evaluation": {"baseline_variant": "head"},
        }
    )


def write_features(manifest: Path, out: Path, upstream: str, cfg: dict) -> Path:
    settings = {**cfg["features"][upstream], **({"dtype": "float32"} if upstream == "wavlm" else {})}
    for split in SPLITS:
        extract.run(
            {"manifest": manifest},
            {"features": out / f"{split}.safetensors", "summary": out / f"{split}.json"},
            upstream=upstream,
            split=split,
            settings=settings,
            model=cfg["model"],
            threads=1,
        )
    return out


@pytest.fixture(scope="module", params=["egemaps", "wavlm"])
def head_run(
    request: pytest.FixtureRequest, corpus: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, Path]:
    upstream = request.param
    root = tmp_path_factory.mktemp(f"frozen_{upstream}")
    cfg = frozen_cfg(upstream)
    feats = write_features(corpus[1], root / "features", upstream, cfg)
    run_and_predict(corpus, root / "run", cfg, variant="head", features_dir=feats)
    return upstream, root / "run", feats


def test_infer_computes_the_features_and_gives_the_dump(
    head_run: tuple[str, Path, Path], corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    upstream, run, feats = head_run
    export.export(run, tmp_path / "model", features_dir=feats)
    manifest = pd.read_parquet(corpus[1])
    paths = manifest.loc[manifest["split"] == "Test1", "path"].tolist()
    table = sertools.load_model(tmp_path / "model").predict_files(paths).table
    dump = pd.read_parquet(run / "test1.parquet").set_index("file_id")
    ours = table.set_index(table["path"].map(lambda p: Path(p).name)).loc[dump.index]
    diff = np.abs(ours[PROBS].to_numpy(np.float64) - np.stack(dump["probs"]).astype(np.float64)).max()
    assert diff <= (0.0 if upstream == "egemaps" else 1e-6), diff
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    assert meta["kind"] == "frozen_head" and meta["upstream"]["name"] == upstream
    if upstream == "wavlm":
        assert (tmp_path / "model" / "upstream.safetensors").is_file()
        assert meta["upstream"]["layer_names"][0] == "cnn_projection"
        assert meta["upstream"]["model"]["backbone"] == "tiny"
    else:
        assert (
            len(meta["upstream"]["feature_names"]) == 88
            and not (tmp_path / "model" / "upstream.safetensors").exists()
        )
    assert {f"{d}_var" for d in ("arousal", "valence", "dominance")} <= set(table.columns)


def test_a_frozen_ssl_head_needs_the_features_it_trained_on(
    head_run: tuple[str, Path, Path], tmp_path: Path
) -> None:
    upstream, run, _ = head_run
    if upstream != "wavlm":
        pytest.skip("eGeMAPS needs no recorded settings")
    with pytest.raises(bundle.BundleError, match="--features-dir"):
        export.export(run, tmp_path / "model", features_dir=tmp_path / "nowhere")

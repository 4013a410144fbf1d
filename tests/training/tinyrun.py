"""A tiny corpus and tiny-model settings that train in seconds (shared by the training tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from sertools import config
from sertools.evaluation import predict
from sertools.training import train
from sertools.training.runtime import checkpoint

SR = 16000
CODES = "ASHUFDCNO"
VARIANT = "hard_cbce"
SEED = 3
THREADS = 2
TINY_MODEL = {
    "tiny": {
        "hidden_size": 16,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "conv_dim": [8, 8, 8, 8],
        "num_conv_pos_embedding_groups": 2,
        "num_buckets": 8,
        "max_bucket_distance": 16,
    },
    "head_hidden": 16,
    "head_dropout": 0.2,
}
TRAIN = {
    "batch_size": 4,
    "grad_accum": 2,
    "max_epochs": 3,
    "lr_backbone": 1e-4,
    "lr_heads": 2e-3,
    "max_train_duration_s": 0.6,
    "max_eval_batch_seconds": 4.0,
    "early_stopping_patience": 5,
}


def make_corpus(root: Path, n: int = 42, seed: int = 0) -> tuple[Path, Path]:
    """Label table + manifest + 0.5-0.9 s wavs: Train 2/3, Development 1/6, Test1 the rest, Test2 empty."""
    rng = np.random.default_rng(seed)
    n_train, n_dev = n * 2 // 3, n // 6
    splits = ["Train"] * n_train + ["Development"] * n_dev + ["Test1"] * (n - n_train - n_dev)
    labels, manifest = [], []
    (root / "audio").mkdir(parents=True, exist_ok=True)
    for i, split in enumerate(splits):
        file_id = f"utt_{i:04d}.wav"
        votes = rng.multinomial(6, rng.dirichlet(np.full(9, 0.6))).astype(float)
        top = np.flatnonzero(votes == votes.max())
        hard = int(top[0]) if len(top) == 1 else None
        p = votes / votes.sum()
        nz = p[p > 0]
        entropy = float(-(nz * np.log(nz)).sum() / np.log(9))
        frames = int(rng.uniform(0.5, 0.9) * SR)
        t = np.arange(frames) / SR
        tone = 150 + 40 * (hard if hard is not None else 4)
        wav = 0.3 * np.sin(2 * np.pi * tone * t) + 0.05 * rng.standard_normal(frames)
        path = root / "audio" / file_id
        sf.write(path, wav.astype(np.float32), SR, subtype="FLOAT")
        a, v, d = rng.uniform(1, 7, 3)
        labels.append(
            {
                "file_id": file_id,
                "split": split,
                "speaker": f"spk{i % 5}",
                "consensus": CODES[hard] if hard is not None else "X",
                "hard_label": hard,
                "votes_primary": votes.astype(int).tolist(),
                "votes_merged": votes.tolist(),
                "p_primary": p.tolist(),
                "p_merged": p.tolist(),
                "entropy_primary": entropy,
                "entropy_merged": entropy,
                "agreement": float(p.max()),
                "n_annotators": 6,
                "arousal": a,
                "valence": v,
                "dominance": d,
            }
        )
        manifest.append(
            {
                "file_id": file_id,
                "split": split,
                "path": str(path),
                "duration_s": frames / SR,
                "frames": frames,
                "sample_rate": SR,
            }
        )
    lab = pd.DataFrame(labels)
    lab["hard_label"] = lab["hard_label"].astype("Int64")
    lab.to_parquet(root / "labels.parquet", index=False)
    pd.DataFrame(manifest).to_parquet(root / "manifest.parquet", index=False)
    return root / "labels.parquet", root / "manifest.parquet"


def make_cfg(**train: Any) -> dict[str, Any]:
    return config.resolve({"model": TINY_MODEL, "train": {**TRAIN, **train}})


def run_and_predict(corpus: tuple[Path, Path], out: Path, cfg: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """Train into ``out`` (``from_config``), then write dev.parquet and test1.parquet there."""
    labels, manifest = corpus
    features_dir = kw.get("features_dir")  # a frozen-upstream variant: its features directory
    summary = train.from_config(labels, manifest, out, cfg, kw.pop("variant", VARIANT), SEED, THREADS, **kw)
    if not summary.get("interrupted"):
        predict.predict(
            out / "best.safetensors",
            labels,
            manifest,
            ["Development", "Test1"],
            [out / "dev.parquet", out / "test1.parquet"],
            cfg,
            features_dir=features_dir,
        )
    return summary


def assert_same_predictions(a: Path, b: Path, same_hash: bool = True) -> None:
    """Same predictions, best checkpoint (tensors and metadata) and log (but its seconds) in two runs."""
    for name in ("dev.parquet", "test1.parquet"):
        pa, pb = pd.read_parquet(a / name), pd.read_parquet(b / name)
        assert pa["file_id"].tolist() == pb["file_id"].tolist()
        assert np.array_equal(np.stack(pa["probs"]), np.stack(pb["probs"])), name
        assert np.array_equal(
            pa[["arousal", "valence", "dominance"]].to_numpy(),
            pb[["arousal", "valence", "dominance"]].to_numpy(),
        )
    wa = checkpoint.load(a / "best.safetensors")
    wb = checkpoint.load(b / "best.safetensors")
    if not same_hash:
        wa.meta.pop("config_hash"), wb.meta.pop("config_hash")
    assert wa.meta == wb.meta
    assert wa.tensors.keys() == wb.tensors.keys()
    assert all(torch.equal(wa.tensors[k], wb.tensors[k]) for k in wa.tensors)
    la, lb = pd.read_csv(a / "train_log.csv"), pd.read_csv(b / "train_log.csv")
    pd.testing.assert_frame_equal(la.drop(columns="seconds"), lb.drop(columns="seconds"))

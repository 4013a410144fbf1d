"""CPU training throughput of the default tiny model on the synthetic corpus.

    python benchmarks/bench_train.py [--utterances 300] [--epochs 2] [--threads 2] [--batch-size 8]

Builds a synthetic corpus (sertools.corpus.synthetic, 1.5-3 s utterances) in a temporary
directory, runs the label and manifest stages, trains the schema's default
``tiny`` backbone with the ``dist_primary_kl`` variant on CPU, and prints
training utterances/s, validation utterances/s and seconds/epoch.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from sertools import config as config_mod
from sertools.corpus import msp
from sertools.corpus.synthetic import generate as synth
from sertools.data import manifest
from sertools.labels import build
from sertools.training import loop, train


def stages(corpus: Path, labels: Path, man: Path, cfg: dict[str, Any]) -> None:
    """The label and manifest stages of ``corpus``: label table ``labels``, manifest ``man``."""
    build.run(
        msp.label_files(corpus, cfg["labels"]["detailed_source"]),
        {"table": labels, "summary": labels.with_suffix(".json")},
        labels=cfg["labels"],
    )
    manifest.run(
        {"labels": labels, "audio": corpus / "Audios"},
        {"manifest": man, "summary": man.with_suffix(".json")},
        manifest=cfg["manifest"],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--utterances", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--variant", default="dist_primary_kl")
    args = ap.parse_args()

    cfg = config_mod.resolve(
        {
            "train": {
                "max_epochs": args.epochs,
                "batch_size": args.batch_size,
                "early_stopping_patience": args.epochs,
            }
        }
    )
    timings: dict[str, list[float]] = {"train": [], "validate": []}
    real_train, real_validate = loop.train_epoch, loop.validate

    def timed_train(*a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        out = real_train(*a, **kw)
        timings["train"].append(time.perf_counter() - t0)
        return out

    def timed_validate(*a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        out = real_validate(*a, **kw)
        timings["validate"].append(time.perf_counter() - t0)
        return out

    # loop.run_epoch looks both up in the module at every epoch
    loop.train_epoch, loop.validate = timed_train, timed_validate
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synth.generate(root / "corpus", args.utterances, seed=7)
        stages(root / "corpus", root / "labels.parquet", root / "manifest.parquet", cfg)
        man = pd.read_parquet(root / "manifest.parquet")
        t0 = time.perf_counter()
        summary = train.from_config(
            root / "labels.parquet",
            root / "manifest.parquet",
            root / "run",
            cfg,
            args.variant,
            0,
            threads=args.threads,
        )
        total = time.perf_counter() - t0
        log = pd.read_csv(root / "run" / "train_log.csv")

    n_train, n_dev = summary["n_train"], summary["n_dev"]
    train_s = sum(timings["train"]) / len(timings["train"])
    val_s = sum(timings["validate"]) / len(timings["validate"])
    dur = man.groupby("split")["duration_s"].mean()
    print(
        f"torch {torch.__version__}, {args.threads} threads, CPU; model: default tiny backbone ({cfg['model']['tiny']})"
    )
    print(
        f"corpus: {args.utterances} utterances, Train mean {dur.get('Train', float('nan')):.2f} s; variant {args.variant}"
    )
    print(
        f"Train {n_train} utterances (crops <= {cfg['train']['max_train_duration_s']} s), Development {n_dev}"
    )
    print(f"batch size {args.batch_size}, epochs {summary['epochs_run']}")
    print(f"training:   {train_s:.2f} s/epoch, {n_train / train_s:.1f} utterances/s")
    print(
        f"RESULT|tiny model CPU training, batch {args.batch_size}, {args.threads} threads|{n_train / train_s:.0f} utt/s|-|-"
    )
    print(f"validation: {val_s:.2f} s/epoch, {n_dev / val_s:.1f} utterances/s")
    print(f"seconds/epoch (train + validation + checkpoints, from train_log): {log['seconds'].mean():.2f}")
    print(f"padded fraction (bucketed): {log['padded_fraction'].mean():.4f}; whole run {total:.1f} s")
    compare_batching(args.threads, args.variant, timings)


def compare_batching(threads: int, variant: str, timings: dict[str, list[float]]) -> None:
    """Random vs length-bucketed batches on MSP-Podcast-like durations (2.75-11 s, 6-s crops)."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synth.generate(root / "corpus", 200, seed=5, min_duration_s=2.75, max_duration_s=11.0)
        base = config_mod.resolve({})
        stages(root / "corpus", root / "labels.parquet", root / "m.parquet", base)
        for name, mult in (("random", 1), ("bucketed", 20)):
            cfg = config_mod.resolve(
                {
                    "train": {
                        "max_epochs": 2,
                        "batch_size": 8,
                        "early_stopping_patience": 2,
                        "max_train_duration_s": 6.0,
                        "bucket_size_multiplier": mult,
                    }
                }
            )
            timings["train"].clear()
            summary = train.from_config(
                root / "labels.parquet", root / "m.parquet", root / name, cfg, variant, 0, threads=threads
            )
            log = pd.read_csv(root / name / "train_log.csv")
            rate = summary["n_train"] / (sum(timings["train"]) / len(timings["train"]))
            results[name] = (rate, float(log["padded_fraction"].mean()))
            print(
                f"{name:>8} batches (multiplier {mult}): {rate:.1f} utt/s, padded fraction {results[name][1]:.3f}"
            )
    (r_rate, r_pad), (b_rate, b_pad) = results["random"], results["bucketed"]
    print(
        f"RESULT|tiny model CPU training, MSP-like 2.75-11 s (6-s crops), bucketed batches of 8|"
        f"{b_rate:.1f} utt/s, padded {b_pad:.3f}|padded <= 0.05|random batches {r_rate:.1f} utt/s, padded {r_pad:.3f} "
        f"({b_rate / r_rate:.2f}x throughput)"
    )


if __name__ == "__main__":
    main()

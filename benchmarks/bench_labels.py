"""Label stage at MSP-Podcast 2.0 scale: time, peak memory, and ratio to a per-row reference.

    python benchmarks/bench_labels.py [--utterances 267905] [--seed 0]

Generates a labels-only synthetic corpus (cached under benchmarks/out/), runs
the label stage in a fresh subprocess (so peak RSS is the stage's own), then
runs a straightforward per-row reference (csv module + dicts) on the same files,
checks both give the same vote counts, and prints the speed ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from sertools import config as config_mod
from sertools.classes import CLASSES, K, primary_index
from sertools.labels import table

OUT = Path(__file__).resolve().parent / "out"


def naive_votes(corpus: Path, labels_cfg: dict) -> dict[str, tuple[list[float], list[float]]]:
    """Per-row reference: primary and merged vote counts per file, in plain Python."""
    word_map = {w.lower(): CLASSES.index(c) for w, c in labels_cfg["secondary_map"].items()}
    seen = set()
    prim: dict[str, list[float]] = defaultdict(lambda: [0.0] * K)
    merged: dict[str, list[float]] = defaultdict(lambda: [0.0] * K)
    with open(corpus / "Labels" / "labels_detailed.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            key = (row["FileName"], row["WorkerID"])
            p = primary_index(row["EmoClass_Major"])
            try:
                ratings = [float(row[c]) for c in ("EmoAct", "EmoVal", "EmoDom")]
            except ValueError:
                continue
            if p is None or key in seen or not all(1 <= r <= 7 for r in ratings):
                continue
            seen.add(key)
            prim[row["FileName"]][p] += 1
            merged[row["FileName"]][p] += 1
            mentioned = set()
            for w in row["EmoClass_Second"].split(","):
                w = w.strip()
                if not w:
                    continue
                idx = word_map.get(w.lower())
                if idx is None:
                    idx = primary_index(w)
                mentioned.add(CLASSES.index("Other") if idx is None else idx)
            for idx in mentioned:
                if idx != p or labels_cfg["count_secondary_equal_to_primary"]:
                    merged[row["FileName"]][idx] += labels_cfg["secondary_weight"]
    return {f: (prim[f], merged[f]) for f in prim}


STAGE = """
import json, resource, sys, time
from sertools import config
from sertools.corpus import msp
from sertools.labels import build
cfg = config.resolve({})["labels"]
t0 = time.perf_counter()
raw = msp.read_labels(sys.argv[1], cfg["detailed_source"])
t1 = time.perf_counter()
df, _ = build.build_labels(raw, cfg)
t2 = time.perf_counter()
files = msp.label_files(sys.argv[1], cfg["detailed_source"])
build.run(files, {"table": sys.argv[2], "summary": sys.argv[3]}, labels=cfg)
t3 = time.perf_counter()
print(json.dumps({"read": t1 - t0, "build": t2 - t1, "seconds": t3 - t2,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--utterances", type=int, default=267905)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from sertools.corpus.synthetic import generate

    corpus = OUT / f"labels_only_{args.utterances}_{args.seed}"
    if not (corpus / "Labels" / "labels_detailed.csv").exists():
        t = time.perf_counter()
        generate.generate(corpus, utterances=args.utterances, seed=args.seed, labels_only=True)
        print(f"synthetic labels-only corpus: {time.perf_counter() - t:.1f} s")
    with open(corpus / "Labels" / "labels_detailed.csv", "rb") as fh:
        rows = sum(1 for _ in fh) - 1

    out, summ = OUT / "labels.parquet", OUT / "labels_summary.json"
    proc = subprocess.run(
        [sys.executable, "-c", STAGE, str(corpus), str(out), str(summ)],
        capture_output=True,
        text=True,
        check=True,
    )
    fast = json.loads(proc.stdout.strip().splitlines()[-1])

    cfg = config_mod.resolve({})["labels"]
    t = time.perf_counter()
    ref = naive_votes(corpus, cfg)
    naive_s = time.perf_counter() - t

    df = pd.read_parquet(out)
    exp_p = np.array([ref[f][0] for f in df["file_id"]])
    exp_m = np.array([ref[f][1] for f in df["file_id"]])
    assert np.array_equal(table.matrix(df, "votes_primary"), exp_p), "fast and reference primary votes differ"
    assert np.allclose(table.matrix(df, "votes_merged"), exp_m), "fast and reference merged votes differ"

    s = json.loads(summ.read_text())
    print(f"utterances {s['utterances_read']:,}, annotation rows {rows:,}")
    print(f"label stage (vectorised, whole stage incl. reliability + parquet): {fast['seconds']:.2f} s")
    print(
        f"  of which reading the CSVs {fast['read']:.2f} s, counting + validation + reliability {fast['build']:.2f} s"
    )
    print(f"label stage peak RSS: {fast['peak_rss_mib']:.0f} MiB")
    print(f"per-row reference (vote counting only): {naive_s:.2f} s")
    print(f"ratio reference / stage: {naive_s / fast['seconds']:.1f}x")
    print(
        f"RESULT|label stage, {s['utterances_read']:,} utt / {rows:,} rows|{fast['seconds']:.2f} s|<= 10 s|"
        f"per-row reference that only counts votes: {naive_s:.2f} s ({naive_s / fast['seconds']:.1f}x the whole stage)"
    )
    print(f"RESULT|label stage peak RSS|{fast['peak_rss_mib']:.0f} MiB|<= 2048 MiB|-")


if __name__ == "__main__":
    main()

"""Padding waste of training batches with and without length bucketing.

    python benchmarks/bench_batching.py [--n 20000] [--batch-size 32] [--multiplier 20]

Durations follow an MSP-Podcast-like distribution (log-normal, median 5 s,
truncated to 2.7-11 s). Prints the padded fraction (padding / padded tensor
size) of random batches (multiplier 1) and of bucketed batches, on the raw
durations and after the training crop (train.max_train_duration_s = 6 s), and
the ratio random / bucketed. Also times the batch planning.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sertools.data.batching import bucket_batches, eval_batches, padded_fraction


def msp_like_durations(n: int, seed: int = 0) -> np.ndarray:
    """Log-normal durations (median 5 s, sigma 0.45) truncated to [2.7, 11] s by resampling."""
    rng = np.random.default_rng(seed)
    out = np.empty(0)
    while len(out) < n:
        d = rng.lognormal(np.log(5.0), 0.45, 2 * n)
        out = np.concatenate([out, d[(d >= 2.7) & (d <= 11.0)]])
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--multiplier", type=int, default=20)
    ap.add_argument("--crop", type=float, default=6.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    raw = msp_like_durations(args.n, args.seed)
    print(f"{args.n} utterances, mean {raw.mean():.2f} s, min {raw.min():.2f} s, max {raw.max():.2f} s")
    print(f"batch size {args.batch_size}, bucket_size_multiplier {args.multiplier}")
    for label, d in (("raw durations", raw), (f"cropped to {args.crop:g} s", np.minimum(raw, args.crop))):
        seeds = range(5)
        plain = np.mean([padded_fraction(d, bucket_batches(d, args.batch_size, 1, s)) for s in seeds])
        t0 = time.perf_counter()
        plans = [bucket_batches(d, args.batch_size, args.multiplier, s) for s in seeds]
        ms = (time.perf_counter() - t0) / len(plans) * 1e3
        bucketed = np.mean([padded_fraction(d, p) for p in plans])
        print(
            f"{label:>20}: padded fraction random {plain:.4f}, bucketed {bucketed:.4f}, "
            f"ratio random/bucketed {plain / bucketed:.1f}x (plan {ms:.1f} ms)"
        )
        print(
            f"RESULT|padded fraction, bucketed batches of {args.batch_size}, {label} (MSP-like 2.7-11 s)|"
            f"{bucketed:.3f}|<= 0.05|random batches {plain:.3f} ({plain / bucketed:.1f}x more padding)"
        )
    ev = eval_batches(raw, 120.0)
    print(f"eval_batches(120 s): {len(ev)} batches, padded fraction {padded_fraction(raw, ev):.4f}")


if __name__ == "__main__":
    main()

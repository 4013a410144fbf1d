"""Benchmark: Krippendorff's alpha and Fleiss' kappa at MSP-Podcast scale.

About 1.4 million ratings over 268k units (5.2 ratings per unit on average,
1% missing values), single-threaded. Compares with a per-unit Python loop
over grouped values (timed on a subset and extrapolated linearly).

Usage: .venv/bin/python benchmarks/bench_reliability.py [--ratings 1400000] [--units 268000]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from sertools.labels.reliability import fleiss_kappa_detail, krippendorff_alpha_detail  # noqa: E402


def loop_alpha_interval(units: np.ndarray, values: np.ndarray) -> float:
    """Reference: a Python loop over units (closed-form pair sums per unit)."""
    groups: dict[int, list[float]] = {}
    for u, v in zip(units.tolist(), values.tolist(), strict=True):
        if v == v:  # not NaN
            groups.setdefault(u, []).append(v)
    pooled, d_o = [], 0.0
    for vs in groups.values():
        if len(vs) < 2:
            continue
        a = np.asarray(vs)
        d_o += 2 * len(a) * ((a - a.mean()) ** 2).sum() / (len(a) - 1)
        pooled.extend(vs)
    p = np.asarray(pooled)
    n = len(p)
    d_e = 2 * n * ((p - p.mean()) ** 2).sum() / (n * (n - 1))
    return 1 - (d_o / n) / d_e


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ratings", type=int, default=1_400_000)
    ap.add_argument("--units", type=int, default=268_000)
    ap.add_argument("--loop-fraction", type=float, default=0.1, help="share of units timed for the loop")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    units = rng.integers(0, args.units, args.ratings)
    truth = rng.integers(1, 8, args.units).astype(float)
    values = np.clip(truth[units] + rng.normal(0, 1, args.ratings).round(), 1, 7)
    values[rng.random(args.ratings) < 0.01] = np.nan
    names = np.array([f"MSP-PODCAST_{u:06d}.wav" for u in units], dtype=object)

    for label, ids in (("integer unit ids", units), ("string unit ids", names)):
        t0 = time.perf_counter()
        res = krippendorff_alpha_detail(ids, values, "interval")
        took = time.perf_counter() - t0
        print(f"RESULT|Krippendorff interval alpha, {args.ratings:,} ratings, {label}|{took:.2f} s|-|-")
        print(
            f"Krippendorff interval alpha, {args.ratings} ratings, {label}: {time.perf_counter() - t0:.2f} s "
            f"(alpha {res.alpha:.4f}, {res.n_units_used} units used, {res.n_units_excluded} excluded)"
        )
    t0 = time.perf_counter()
    nominal = krippendorff_alpha_detail(units, values, "nominal")
    print(f"Krippendorff nominal alpha: {time.perf_counter() - t0:.2f} s (alpha {nominal.alpha:.4f})")

    ok = ~np.isnan(values)
    counts = np.zeros((args.units, 7), dtype=np.int64)
    np.add.at(counts, (units[ok], values[ok].astype(int) - 1), 1)
    t0 = time.perf_counter()
    fk = fleiss_kappa_detail(counts)
    print(
        f"Fleiss kappa on a ({args.units}, 7) count table: {time.perf_counter() - t0:.3f} s (kappa {fk.kappa:.4f})"
    )

    sub = units < int(args.units * args.loop_fraction)
    t0 = time.perf_counter()
    ref = loop_alpha_interval(units[sub], values[sub])
    loop_t = (time.perf_counter() - t0) / args.loop_fraction
    fast_sub = krippendorff_alpha_detail(units[sub], values[sub]).alpha
    print(
        f"per-unit Python loop, extrapolated linearly from {args.loop_fraction:.0%} of the units: {loop_t:.1f} s "
        f"(|alpha difference| on that subset {abs(ref - fast_sub):.1e})"
    )


if __name__ == "__main__":
    main()

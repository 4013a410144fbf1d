"""Benchmark: all metrics with a B = 1000 bootstrap for one prediction set.

Compares ``sertools.evaluation.bootstrap.bootstrap`` (sufficient statistics + one matrix
product per chunk of resamples) with a straightforward reference that
recomputes every metric on each explicitly resampled copy of the data with
sklearn and scipy. The reference is timed on fewer resamples and
extrapolated linearly. Single-threaded BLAS.

Usage: .venv/bin/python benchmarks/bench_metrics.py [--n 50000] [--B 1000] [--naive-B 20]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
from scipy.spatial.distance import jensenshannon  # noqa: E402
from scipy.stats import entropy  # noqa: E402

from sertools.classes import CLASSES, OTHER, K  # noqa: E402
from sertools.evaluation.bootstrap import bootstrap, bootstrap_replicates, resample_indices  # noqa: E402
from sertools.evaluation.evaldata import EvalData  # noqa: E402
from sertools.evaluation.significance import paired_bootstrap  # noqa: E402


def synthetic(n: int, seed: int = 0) -> EvalData:
    """A split of ``n`` utterances with 6 votes each, a mediocre model, dims and latent truth."""
    rng = np.random.default_rng(seed)
    votes = rng.multinomial(6, rng.dirichlet(np.full(K, 0.6), size=n))
    p_primary = votes / votes.sum(axis=1, keepdims=True)
    hard = np.where(p_primary.max(axis=1) > 0.5, p_primary.argmax(axis=1), -1)
    logits = rng.normal(size=(n, K))
    logits[np.arange(n), p_primary.argmax(axis=1)] += 1.5
    probs = np.exp(logits)
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    merged = votes + rng.multinomial(3, np.full(K, 1 / K), size=n)
    dims_true = rng.uniform(1, 7, size=(n, 3))
    return EvalData(
        probs=probs,
        pred=probs.argmax(axis=1),
        hard=hard,
        p_primary=p_primary,
        p_merged=merged / merged.sum(axis=1, keepdims=True),
        p_true=rng.dirichlet(np.ones(K), size=n),
        dims_pred=dims_true + rng.normal(size=(n, 3)),
        dims_true=dims_true,
    )


def naive_metrics(d: EvalData, prob_floor: float = 1e-12, n_bins: int = 15) -> dict[str, float]:
    """Every metric on one (resampled) copy, the obvious way with sklearn and scipy."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    keep = d.hard >= 0
    y, p = d.hard[keep], d.pred[keep]
    labels = list(range(K))
    out = {
        "accuracy": accuracy_score(y, p),
        "macro_f1": f1_score(y, p, labels=labels, average="macro", zero_division=0),
        "weighted_f1": f1_score(y, p, labels=labels, average="weighted", zero_division=0),
    }
    per_class = f1_score(y, p, labels=labels, average=None, zero_division=0)
    out.update({f"f1_{c}": per_class[i] for i, c in enumerate(CLASSES)})
    confusion_matrix(y, p, labels=labels)
    floored = np.maximum(d.probs, prob_floor)
    floored /= floored.sum(axis=1, keepdims=True)
    for tag, target in (("primary", d.p_primary), ("merged", d.p_merged), ("true", d.p_true)):
        out[f"jsd_{tag}"] = float(np.mean(jensenshannon(target, d.probs, base=2.0, axis=1) ** 2))
        out[f"kld_{tag}"] = float(np.mean(entropy(target, floored, axis=1)))
    for j, dim in enumerate(("arousal", "valence", "dominance")):
        x, t = d.dims_pred[:, j], d.dims_true[:, j]
        cov = np.mean((x - x.mean()) * (t - t.mean()))
        out[f"ccc_{dim}"] = 2 * cov / (x.var() + t.var() + (x.mean() - t.mean()) ** 2)
    conf = d.probs[keep].max(axis=1)
    correct = (p == y).astype(float)
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    out["ece"] = ece
    onehot = np.eye(K)[y]
    out["brier_onehot"] = float(np.mean(((d.probs[keep] - onehot) ** 2).sum(axis=1)))
    out["brier_primary"] = float(np.mean(((d.probs - d.p_primary) ** 2).sum(axis=1)))
    out["other_share_pred"] = float(np.mean(d.pred == OTHER))
    out["other_mass"] = float(np.mean(d.probs[:, OTHER]))
    out["other_share_human"] = float(np.mean(d.p_primary[:, OTHER]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000, help="utterances")
    ap.add_argument("--B", type=int, default=1000, help="bootstrap resamples (fast path)")
    ap.add_argument("--naive-B", type=int, default=20, help="resamples timed for the reference")
    ap.add_argument("--repeats", type=int, default=3, help="fast-path timings (best is reported)")
    ap.add_argument(
        "--paper-n",
        type=int,
        default=46_286 + 14_822,
        help="utterances of the paper-scale run (Test1 + Test2)",
    )
    ap.add_argument("--paper-B", type=int, default=10_000, help="bootstrap resamples of the paper-scale run")
    args = ap.parse_args()

    data = synthetic(args.n)
    print(f"N = {args.n} utterances ({int((data.hard >= 0).sum())} with a consensus class), 1 thread")

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        res = bootstrap(data, B=args.B, seed=0)
        times.append(time.perf_counter() - t0)
    fast = min(times)
    print(f"fast bootstrap, B = {args.B}, {len(res)} metrics: {fast:.2f} s (best of {args.repeats})")

    seeds = [data, *(synthetic(args.n, seed=0).take(np.arange(args.n)) for _ in range(2))]
    t0 = time.perf_counter()
    paired_bootstrap(seeds, seeds[::-1], B=args.B, seed=0)
    print(
        f"paired bootstrap, 3 variant seeds vs 3 baseline seeds, B = {args.B}: {time.perf_counter() - t0:.2f} s"
    )

    tracemalloc.start()
    bootstrap(data, B=args.B, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  peak traced allocation during bootstrap: {peak / 2**20:.0f} MiB")

    idx = resample_indices(data.n, args.naive_B, seed=0)
    t0 = time.perf_counter()
    naive = [naive_metrics(data.take(row)) for row in idx]
    naive_t = time.perf_counter() - t0
    extrapolated = naive_t * args.B / args.naive_B
    print(
        f"naive reference (sklearn/scipy per resample): {naive_t:.2f} s for {args.naive_B} resamples, "
        f"linearly extrapolated to B = {args.B}: {extrapolated:.1f} s"
    )
    print(f"ratio fast/naive: {fast / extrapolated:.4f} (speed-up x{extrapolated / fast:.0f})")
    print(
        f"RESULT|all metrics + B={args.B} bootstrap, {args.n:,} utterances, 1 core|{fast:.2f} s|<= 3 s|"
        f"{extrapolated / fast:.0f}x faster than a sklearn/scipy loop over resamples"
    )

    # the paper's scale: Test1 + Test2 of MSP-Podcast 2.0 with the published B (config/paper.yaml)
    paper = synthetic(args.paper_n, seed=1)
    t0 = time.perf_counter()
    bootstrap(paper, B=args.paper_B, seed=0)
    paper_t = time.perf_counter() - t0
    print(
        f"paper scale: {args.paper_n:,} utterances, B = {args.paper_B:,}: {paper_t:.1f} s (one seed, one variant)"
    )
    print(
        f"RESULT|all metrics + B={args.paper_B:,} bootstrap, {args.paper_n:,} utterances (Test1+Test2), 1 core|"
        f"{paper_t:.1f} s|-|-"
    )

    fast_reps = bootstrap_replicates(data, indices=idx)
    worst = max(
        abs(fast_reps[k][b] - naive[b][k])
        for b in range(len(idx))
        for k in naive[b]
        if math.isfinite(naive[b][k])
    )
    print(f"max |fast - naive| over the {args.naive_B} shared resamples and all metrics: {worst:.2e}")
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

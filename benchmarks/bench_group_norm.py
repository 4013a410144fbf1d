"""Masked GroupNorm of the first CNN layer: hand-written backward vs plain autograd.

    python benchmarks/bench_group_norm.py [--threads 1] [--reps 20]

Times forward + backward of ``sertools.model.group_norm.masked_group_norm`` and
of ``masked_group_norm_reference`` (the same function through plain autograd) on
the tiny demo model's first-layer activation, with training's determinism settings: a batch of 16 utterances of
about 2 s, 32 channels at 3,200 frames/s, lengths 90-100% of the padded one.
"""

from __future__ import annotations

import argparse
import time

import torch

from sertools import device
from sertools.model import group_norm


def time_fn(fn, x, lengths, w, b, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        xi, wi, bi = (a.detach().requires_grad_() for a in (x, w, b))
        t = time.perf_counter()
        fn(xi, lengths, 32, wi, bi, 1e-5).sum().backward()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    # training's determinism settings and thread count (train.deterministic: true)
    with device.torch_settings(True, args.threads, torch.device("cpu")):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(16, 32, 6400, generator=g)
        lengths = torch.randint(5760, 6401, (16,), generator=g)
        w, b = torch.randn(32, generator=g), torch.randn(32, generator=g)
        fast = time_fn(group_norm.masked_group_norm, x, lengths, w, b, args.reps)
        ref = time_fn(group_norm.masked_group_norm_reference, x, lengths, w, b, args.reps)
    print(
        f"[16, 32, 6400], {args.threads} thread(s), best of {args.reps}: hand-written {fast * 1e3:.1f} ms, autograd {ref * 1e3:.1f} ms"
    )
    print(
        f"RESULT|masked GroupNorm forward+backward, first-layer activation, {args.threads} thread|"
        f"{fast * 1e3:.1f} ms|-|plain-autograd reference {ref * 1e3:.1f} ms ({ref / fast:.1f}x slower)"
    )


if __name__ == "__main__":
    main()

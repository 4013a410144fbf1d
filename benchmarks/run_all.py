"""Run every benchmark under benchmarks/ and rewrite benchmarks/README.md.

    python benchmarks/run_all.py [--only NAME ...]

Each benchmark script prints free text plus summary lines of the form
``RESULT|<figure>|<value>|<target>|<ratio vs naive reference or ->``; those
lines become the table, and the full output of each script is kept below it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "bench_synth",
    "bench_labels",
    "bench_reliability",
    "bench_manifest",
    "bench_batching",
    "bench_train",
    "bench_metrics",
    "bench_gpu",
    "bench_workflow",
]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def _has_cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    scripts = [HERE / f"{n}.py" for n in ORDER if (HERE / f"{n}.py").exists()]
    scripts += sorted(p for p in HERE.glob("bench_*.py") if p.stem not in ORDER)
    if args.only:
        scripts = [s for s in scripts if s.stem in args.only or s.stem.removeprefix("bench_") in args.only]
    date = dt.date.today().isoformat()
    host = f"{os.cpu_count()}-core CPU" + (", GPU" if _has_cuda() else "")
    rows, sections = [], []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent)
        took = time.perf_counter() - t
        out = proc.stdout + (f"\n[exit {proc.returncode}]\n{proc.stderr[-2000:]}" if proc.returncode else "")
        print(out)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT|"):
                parts = [*line.split("|"), "", "", "", ""][1:5]
                rows.append(f"| {script.stem} | {' | '.join(p.strip() for p in parts)} | {host} | {date} |")
        if proc.returncode:
            rows.append(f"| {script.stem} | FAILED (exit {proc.returncode}) | | | | {host} | {date} |")
        body = "\n".join(line for line in out.splitlines() if not line.startswith("RESULT|"))
        sections.append(f"### {script.name} ({took:.0f} s)\n\n```\n{body.strip()}\n```\n")
    text = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python benchmarks/run_all.py`); never edited by hand.",
        f"Machine: {machine()}.",
        "",
        "| benchmark | figure | value | target | ratio vs naive reference | machine | date |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "## Full output",
        "",
        *sections,
    ]
    (HERE / "README.md").write_text("\n".join(text))
    print(f"wrote {HERE / 'README.md'}")


if __name__ == "__main__":
    main()

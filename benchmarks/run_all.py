"""Run every benchmark under benchmarks/ and rewrite benchmarks/README.md.

    python benchmarks/run_all.py [--only NAME ...]

With --only, the other benchmarks' rows and outputs are kept from the README.

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
    "bench_install",
    "bench_synth",
    "bench_labels",
    "bench_reliability",
    "bench_manifest",
    "bench_batching",
    "bench_group_norm",
    "bench_train",
    "bench_features",
    "bench_metrics",
    "bench_gpu",
    "bench_workflow",
    "bench_study",
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


def previous(readme: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Table rows and output sections per benchmark from an existing README (for --only)."""
    rows: dict[str, list[str]] = {}
    sections: dict[str, str] = {}
    if not readme.exists():
        return rows, sections
    text = readme.read_text()
    for line in text.splitlines():
        name = line.split("|")[1].strip() if line.startswith("| bench_") else None
        if name:
            rows.setdefault(name, []).append(line)
    for chunk in text.split("\n### ")[1:]:
        name = chunk.split(".py", 1)[0]
        sections[name] = "### " + chunk.rstrip("\n") + "\n"
    return rows, sections


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    every = [HERE / f"{n}.py" for n in ORDER if (HERE / f"{n}.py").exists()]
    every += sorted(p for p in HERE.glob("bench_*.py") if p.stem not in ORDER)
    scripts = every
    if args.only:
        scripts = [s for s in every if s.stem in args.only or s.stem.removeprefix("bench_") in args.only]
    date = dt.date.today().isoformat()
    host = f"{os.cpu_count()}-core CPU" + (", GPU" if _has_cuda() else "")
    # per benchmark: its table rows and its output section; --only keeps the others' from the last run
    rows: dict[str, list[str]] = {}
    sections: dict[str, str] = {}
    if args.only:
        rows, sections = previous(HERE / "README.md")
    for script in scripts:
        print(f"== {script.name}", flush=True)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent)
        took = time.perf_counter() - t
        out = proc.stdout + (f"\n[exit {proc.returncode}]\n{proc.stderr[-2000:]}" if proc.returncode else "")
        print(out)
        rows[script.stem] = []
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT|"):
                parts = [*line.split("|"), "", "", "", ""][1:5]
                rows[script.stem].append(
                    f"| {script.stem} | {' | '.join(p.strip() for p in parts)} | {host} | {date} |"
                )
        if proc.returncode:
            rows[script.stem].append(
                f"| {script.stem} | FAILED (exit {proc.returncode}) | | | | {host} | {date} |"
            )
        body = "\n".join(line for line in out.splitlines() if not line.startswith("RESULT|"))
        sections[script.stem] = f"### {script.name} ({took:.0f} s)\n\n```\n{body.strip()}\n```\n"
    order = [s.stem for s in every] + sorted(set(rows) - {s.stem for s in every})
    text = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python benchmarks/run_all.py`); never edited by hand.",
        f"Machine: {machine()}.",
        "",
        "| benchmark | figure | value | target | ratio vs naive reference | machine | date |",
        "|---|---|---|---|---|---|---|",
        *(r for name in order for r in rows.get(name, [])),
        "",
        "## Full output",
        "",
        *(sections[name] for name in order if name in sections),
    ]
    (HERE / "README.md").write_text("\n".join(text))
    print(f"wrote {HERE / 'README.md'}")


if __name__ == "__main__":
    main()

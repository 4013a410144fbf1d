"""Workflow-level figures: the paper grid's dry-run time and the demo's end-to-end time.

    python benchmarks/bench_workflow.py [--skip-demo]

1. Dry run (DAG only) of ``config/paper.yaml`` (its rows x seeds) against a
   labels-only synthetic corpus in the MSP-Podcast layout: how long Snakemake
   takes to plan the full grid. Where SLURM's client tools are installed but no
   controller answers (this machine, after ``make test-slurm``), the SLURM
   executor plugin's import waits up to 10 s for ``scontrol show config``; the
   dry run is then timed twice: as it is, and with ``scontrol`` failing at once
   (as on a machine without SLURM, or with a controller that answers).
2. ``make demo`` in a fresh copy of the repository, as a new user runs it: the
   environment from the package cache (``make venv``), the workflow
   (``--cores 2 --resources gpu=2 --set-threads train=1 predict=1``) and the HTML
   report, end to end (the demo budget: 8 minutes); also the workflow alone and
   its train+predict phase (first training start to last prediction end, from
   the Snakemake log). Then the workflow in a second fresh copy without the
   frozen-upstream rows: the difference is what those rows cost (budget: 90 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
FINISH = re.compile(r"^Finished jobid: \d+ \(Rule: (\w+)\)$")


def phases(log: str) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """Rule -> (first job start, last job end) from a Snakemake log."""
    now: dt.datetime | None = None
    out: dict[str, list[dt.datetime]] = {}
    for line in log.splitlines():
        line = line.strip()
        if m := STAMP.match(line):
            now = dt.datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif now and (m := START.match(line) or FINISH.match(line)):
            span = out.setdefault(m.group(1), [now, now])  # the log is in time order
            span[1] = now
    return {k: (v[0], v[1]) for k, v in out.items()}


def copy_repo(dest: Path) -> None:
    """The tracked files of the working tree (a clean checkout with local edits)."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listing.decode().split("\0")):
        src, out = ROOT / name, dest / name
        if src.exists() or src.is_symlink():
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out, follow_symlinks=False)


def grid_size() -> tuple[int, int]:
    """(rows, seeds) of config/paper.yaml."""
    cfg = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    return len(cfg["variants"]), len(cfg["seeds"])


def paper_dry_run(tmp: Path, env: dict[str, str] | None = None) -> float:
    corpus = tmp / "msp"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sertools.cli",
            "synth",
            str(corpus),
            "--utterances",
            "2000",
            "--seed",
            "1",
            "--labels-only",
        ],
        check=True,
        capture_output=True,
    )
    (corpus / "Audios").mkdir(exist_ok=True)
    cmd = [
        *SNAKEMAKE,
        "-s",
        str(ROOT / "Snakefile"),
        "-d",
        str(tmp / "paper"),
        "--configfile",
        str(ROOT / "config/paper.yaml"),
    ]
    cmd += [
        "--config",
        f"corpus={{source: msp_podcast, root: {corpus}}}",
        "model={backbone: tiny}",  # the DAG does not depend on the weights
        "--cores",
        "8",
        "--resources",
        "gpu=1",
        "-n",
    ]
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, env=env)
        best = min(best, time.perf_counter() - t)
        if proc.returncode:
            raise SystemExit(f"paper dry run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    jobs = re.search(r"^total\s+(\d+)$", proc.stdout, re.M)
    print(f"paper grid dry run: {jobs.group(1) if jobs else '?'} jobs planned; best of 3: {best:.1f} s")
    return best


def drop_frozen_rows(repo: Path) -> list[str]:
    """Remove the frozen-upstream variants from the copy's demo config; returns their names."""
    path = repo / "config" / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    frozen = [v for v, c in cfg["variants"].items() if (c.get("model") or {}).get("mode") == "frozen"]
    for v in frozen:
        del cfg["variants"][v]
    path.write_text(yaml.safe_dump(cfg))
    return frozen


DEMO_WORKFLOW = ["--cores", "2", "--resources", "gpu=2", "--set-threads", "train=1", "predict=1"]


def run_demo(tmp: Path, name: str, *, frozen: bool) -> tuple[float, str]:
    """Wall time and log of the demo workflow in a fresh copy (``frozen``: with its frozen-upstream rows)."""
    repo = tmp / name
    repo.mkdir()
    copy_repo(repo)
    if not frozen:
        print(f"without the frozen-upstream rows {drop_frozen_rows(repo)}:")
    t = time.perf_counter()
    proc = subprocess.run([*SNAKEMAKE, *DEMO_WORKFLOW], capture_output=True, text=True, cwd=repo)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"demo failed:\n{proc.stderr[-3000:]}")
    return wall, proc.stderr + proc.stdout


def make_demo(tmp: Path) -> tuple[float, float, str]:
    """``make demo`` in a fresh copy: (end-to-end seconds, workflow seconds, the workflow's log)."""
    repo = tmp / "make_demo"
    repo.mkdir()
    copy_repo(repo)
    t = time.perf_counter()
    proc = subprocess.run(["make", "demo"], capture_output=True, text=True, cwd=repo)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"make demo failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    log = sorted((repo / ".snakemake" / "log").glob("*.snakemake.log"))[0].read_text()
    return wall, workflow_seconds(log), log


def workflow_seconds(log: str) -> float:
    """First job start to last job end in a Snakemake log."""
    span = phases(log)
    return (max(b for _, b in span.values()) - min(a for a, _ in span.values())).total_seconds()


def demo(tmp: Path) -> None:
    """make demo in a fresh copy, then the workflow again without its frozen-upstream rows (what they cost)."""
    total, wall, log = make_demo(tmp)
    span = phases(log)
    tp = (max(span["predict"][1], span["train"][1]) - span["train"][0]).total_seconds()
    print(f"make demo in a fresh copy (environment from the package cache, workflow, report): {total:.0f} s")
    print(f"  of which the workflow, first job start to last job end: {wall:.0f} s")
    for rule, (a, b) in sorted(span.items(), key=lambda kv: kv[1][0]):
        print(f"  {rule:<14} {a:%H:%M:%S} -> {b:%H:%M:%S}")
    print(
        f"RESULT|make demo in a fresh copy, end to end (install from the package cache, workflow, report)|"
        f"{total / 60:.1f} min|<= 8 min|-"
    )
    print(f"RESULT|demo workflow, first job start to last job end, 2 cores|{wall / 60:.1f} min|-|-")
    n_train = sum(
        1 for line in log.splitlines() if START.match(line.strip()) and line.strip().endswith("train:")
    )
    print(
        f"RESULT|demo train+predict phase ({n_train} trainings, as many prediction jobs)|{tp / 60:.1f} min|-|-"
    )
    _, bare_log = run_demo(tmp, "repo_without_frozen", frozen=False)
    bare = workflow_seconds(bare_log)
    print(f"demo without its frozen-upstream rows: {bare:.0f} s; with them {wall:.0f} s")
    print(
        f"RESULT|demo growth from its frozen-upstream rows (features, 4 head trainings, their predictions and "
        f"metrics)|{wall - bare:+.0f} s|<= 90 s|{bare / 60:.1f} min without vs {wall / 60:.1f} min with"
    )


def without_scontrol(tmp: Path) -> dict[str, str]:
    """The environment with an ``scontrol`` first on PATH that fails at once."""
    stub = tmp / "no-slurm"
    stub.mkdir()
    (stub / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (stub / "scontrol").chmod(0o755)
    return {**os.environ, "PATH": f"{stub}{os.pathsep}{os.environ.get('PATH', '')}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-demo", action="store_true")
    args = ap.parse_args()
    rows, seeds = grid_size()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if shutil.which("scontrol"):
            slow = paper_dry_run(tmp)
            print(f"RESULT|paper grid dry run, SLURM client without a controller|{slow:.1f} s|-|-")
        dry = paper_dry_run(tmp, without_scontrol(tmp))
        print(f"RESULT|paper grid dry run ({rows} rows x {seeds} seeds, DAG only)|{dry:.1f} s|< 5 s|-")
        if not args.skip_demo:
            demo(tmp)


if __name__ == "__main__":
    main()

"""The rater simulation study (`make study`) end to end, and the rerun after one more seed.

    python benchmarks/bench_study.py

1. ``snakemake --configfile config/study_raters.yaml --cores 2 study`` (what
   ``make study`` runs) in a fresh copy of the repository with an empty
   ``results/study/``: wall time (budget: 20 minutes on this 2-core machine),
   the span of each rule from the Snakemake log, and the seconds of the fit
   and evaluation jobs (each evaluation job's bootstrap runs B resamples of
   utterances and seeds, B set by the study's largest Holm family:
   docs/study.md, "Seeds, families and B").
2. The same copy with one more seed for one setting (``study.seeds``): which
   jobs run (only that (setting, seed) trains; its setting is re-evaluated and
   the report redrawn) and how long the rerun takes.

With ``BENCH_STUDY_REPO=<checkout>`` the study runs in that checkout instead of
a temporary copy (its ``results/study/`` must not exist), and is then brought
back to its own config (only the changed setting is re-evaluated): the
checkout keeps the study's results, e.g. for ``make readme``.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import yaml
from bench_workflow import SNAKEMAKE, START, copy_repo, phases

CONFIG = "config/study_raters.yaml"


def run(repo: Path, config: str) -> tuple[float, str]:
    cmd = [*SNAKEMAKE, "--configfile", config, "--cores", "2", "study"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=repo)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"study failed:\n{proc.stderr[-4000:]}")
    return wall, proc.stderr + proc.stdout


def jobs_run(log: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in log.splitlines():
        if m := START.match(line.strip()):
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def job_seconds(root: Path) -> list[float]:
    """The ``s`` column of every Snakemake benchmark file under ``root``."""
    out = []
    for tsv in sorted(root.rglob("*.tsv")):
        lines = tsv.read_text().splitlines()
        if len(lines) > 1:
            out.append(float(lines[1].split("\t")[0]))
    return out


def resamples(repo: Path) -> int:
    """The study's B (sertools.study.families.resamples) for the repository's study config."""
    from sertools import config as config_mod
    from sertools.study import families, grid

    cfg = config_mod.resolve(yaml.safe_load((repo / CONFIG).read_text()))
    settings = [s.describe() for s in grid.settings(cfg).values()]
    return families.resamples(
        settings, cfg["variants"], cfg["evaluation"]["baseline_variant"], cfg["evaluation"]
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        given = os.environ.get("BENCH_STUDY_REPO")
        repo = Path(given) if given else Path(d) / "repo"
        if given:
            if (repo / "results" / "study").exists():
                raise SystemExit(
                    f"{repo}/results/study exists: the study must start from a clean results/study/"
                )
        else:
            repo.mkdir()
            copy_repo(repo)
        wall, log = run(repo, CONFIG)
        counts = jobs_run(log)
        print(f"make study end to end: {wall:.0f} s; jobs: {counts}")
        for rule, (a, b) in sorted(phases(log).items(), key=lambda kv: kv[1][0]):
            print(f"  {rule:<20} {a:%H:%M:%S} -> {b:%H:%M:%S}")
        n_fit = counts.get("study_fit", 0)
        print(
            f"RESULT|make study end to end, 2 cores ({n_fit} fit jobs, {sum(counts.values())} jobs)|{wall / 60:.1f} min|<= 20 min|-"
        )
        cfg = yaml.safe_load((repo / CONFIG).read_text())
        for rule in ("fit", "evaluate"):
            secs = job_seconds(repo / "results" / "study" / "benchmarks" / rule)
            if secs:
                print(
                    f"study_{rule}: {len(secs)} jobs, {sum(secs):.0f} s in all, {sum(secs) / len(secs):.1f} s per job"
                )
        secs = job_seconds(repo / "results" / "study" / "benchmarks" / "evaluate")
        b = resamples(repo)
        if secs:
            print(
                f"RESULT|study_evaluate per setting (B = {b:,} resamples of utterances and seeds, every row)|"
                f"{sum(secs) / len(secs):.1f} s|-|-"
            )

        setting = "r3_u0.5"
        seeds = list(cfg["seeds"])
        cfg["study"]["seeds"] = {setting: [*seeds, max(seeds) + 1]}
        (repo / "more_seeds.yaml").write_text(yaml.safe_dump(cfg))
        rerun, log2 = run(repo, "more_seeds.yaml")
        again = jobs_run(log2)
        trained = sorted(set(re.findall(r"wildcards: setting=([^,\s]+), seed=(\d+)", log2)))
        print(
            f"rerun with seed {max(seeds) + 1} added to {setting}: {rerun:.0f} s; jobs: {again}; fits: {trained}"
        )
        print(
            f"RESULT|rerun after one more seed for one setting|{again.get('study_fit', 0)} fit job, "
            f"{rerun:.0f} s|only the new seed trains|{sum(again.values())} jobs in all"
        )
        if given:
            back, _ = run(repo, CONFIG)
            print(f"back to {CONFIG}: {back:.0f} s")


if __name__ == "__main__":
    main()

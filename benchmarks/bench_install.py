"""Set-up time from a fresh clone: `make venv` with a cold and with a warm package cache.

    python benchmarks/bench_install.py

Clones the committed HEAD into a temporary folder twice and times `make venv`
(uv bootstrapped from tools/uv-bootstrap.txt, `uv sync --locked` from uv.lock,
then the import check `python -m sertools.envcheck`):

1. cold: an empty uv cache and no pip cache, so every wheel is downloaded;
2. warm: a second fresh clone reusing the cache that run 1 filled.

The target is the warm figure (at most 90 s on this 2-core machine). Both
figures are also written into README.md's set-up block (between BEGIN/END
install-time markers), so the README never carries a hand-typed install time.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = (
    "<!-- BEGIN install-time (written by benchmarks/bench_install.py) -->",
    "<!-- END install-time -->",
)


def write_readme(cold: float, warm: float, size_gib: float, readme: Path = ROOT / "README.md") -> None:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{readme}: install-time markers not found")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    line = (
        f"The first `make` in a fresh clone installs {size_gib:.1f} GB (torch's CUDA build runs on the CPU too): "
        f"{cold:.0f} s with an empty package cache, {warm:.0f} s with a warm one, on a 2-core machine "
        f"({dt.date.today().isoformat()}, `benchmarks/bench_install.py`)."
    )
    readme.write_text(f"{head}{BEGIN}\n{line}\n{END}{tail}")


def make_venv(clone: Path, cache: Path) -> float:
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(cache),
        "PIP_NO_CACHE_DIR": "1",
    }
    for var in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"):
        env.pop(var, None)
    t = time.perf_counter()
    proc = subprocess.run(["make", "venv"], cwd=clone, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if proc.returncode:
        sys.exit(f"make venv failed in {clone}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return took


def venv_size(clone: Path) -> float:
    out = subprocess.run(["du", "-sm", str(clone / ".venv")], capture_output=True, text=True).stdout
    return float(out.split()[0]) / 1024


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_install_") as tmp:
        tmp = Path(tmp)
        cache = tmp / "uv-cache"
        times = {}
        for run in ("cold", "warm"):
            clone = tmp / run
            subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
            times[run] = make_venv(clone, cache)
            print(f"{run}: make venv in a fresh clone: {times[run]:.1f} s")
        size = venv_size(tmp / "warm")
        cache_size = float(
            subprocess.run(["du", "-sm", str(cache)], capture_output=True, text=True).stdout.split()[0]
        )
        print(f".venv size {size:.1f} GiB; uv cache {cache_size / 1024:.1f} GiB")
    write_readme(times["cold"], times["warm"], size)
    print(
        f"RESULT|fresh clone, make venv, cold package cache (downloads every wheel)|{times['cold']:.0f} s|-|-"
    )
    print(
        f"RESULT|fresh clone, make venv, warm package cache|{times['warm']:.0f} s|<= 90 s|"
        f"cold cache {times['cold'] / times['warm']:.1f}x slower"
    )


if __name__ == "__main__":
    main()

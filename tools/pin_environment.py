"""Rewrite environment.yml's version pins from uv.lock (run by `make lock`).

    python tools/pin_environment.py [--check]

conda users get the same versions of the packages environment.yml lists as the
locked pip install; conda-forge spells two names differently (CONDA_NAMES).
With --check nothing is written and the exit status says whether they agree.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: conda-forge name -> PyPI name, where they differ
CONDA_NAMES = {"pytorch": "torch", "pysoundfile": "soundfile"}
LINE = re.compile(r"^(?P<indent>\s*-\s+)(?P<name>[A-Za-z0-9_.\-]+)(?P<spec>\s*[=<>!].*)?$")


def locked_versions(lock: Path = ROOT / "uv.lock") -> dict[str, str]:
    """PyPI name -> exact version, for every registry package in the lock."""
    data = tomllib.loads(lock.read_text())
    return {p["name"]: p["version"] for p in data["package"] if "registry" in p.get("source", {})}


def pinned(text: str, versions: dict[str, str]) -> str:
    """environment.yml text with every listed package (except python, pip) pinned to its locked version."""
    out = []
    in_deps = in_pip = False
    for line in text.splitlines():
        in_deps = in_deps or line.startswith("dependencies:")
        in_pip = in_pip or line.strip() == "- pip:"
        m = LINE.match(line)
        if m and in_deps and not in_pip and m.group("name") not in ("python", "pip"):
            name = m.group("name")
            pypi = CONDA_NAMES.get(name, name)
            if pypi not in versions:
                raise SystemExit(f"environment.yml lists {name}, which is not in uv.lock")
            line = f"{m.group('indent')}{name}=={versions[pypi]}"
        out.append(line)
    return "\n".join(out) + "\n"


def main() -> int:
    env = ROOT / "environment.yml"
    text = env.read_text()
    new = pinned(text, locked_versions())
    if "--check" in sys.argv[1:]:
        if new != text:
            print("environment.yml does not pin uv.lock's versions: run `make lock`", file=sys.stderr)
            return 1
        return 0
    env.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())

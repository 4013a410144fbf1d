"""Compare the outputs of two runs of the workflow, for example SLURM and local.

    python tests/slurm/compare_outputs.py RUN_A RUN_B [--roots results resources]

Both runs must hold the same set of files under each root, and their contents
must be equal:
- parquet: same columns, dtypes and values;
- JSON: the same tree;
- CSV/TSV that have ignored columns: the same table;
- safetensors: the same tensors (header and raw data) and the same metadata;
- anything else (wav, png, pdf, md, tex, yaml, plain CSV): the same bytes.

Values are compared exactly. ``--rtol`` loosens float comparisons in parquet,
JSON and tables; tensors and other files are always compared exactly. Some
parts legitimately differ between two runs; ``LEGITIMATE_DIFFERENCES`` lists
each one with the reason. The script prints one line per file saying how it was compared, then a
summary. Exit status: 0 if the runs are equal, 1 if they differ, 2 on bad
arguments.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import math
import struct
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Difference:
    """One part of a run's output that may differ from another run's.

    ``pattern`` is an fnmatch pattern on the path relative to the run directory
    (``*`` also matches ``/``). With ``whole_file`` only the file's presence is
    checked. Otherwise ``keys`` are JSON keys ignored at any depth (JSON files and
    safetensors metadata), and ``columns`` are CSV/TSV columns left out.
    """

    pattern: str
    reason: str
    whole_file: bool = False
    keys: frozenset[str] = field(default_factory=frozenset)
    columns: frozenset[str] = field(default_factory=frozenset)


LEGITIMATE_DIFFERENCES: tuple[Difference, ...] = (
    Difference("results/benchmarks/*", "wall time, memory and load of each job", whole_file=True),
    Difference(
        "results/train/*/env.json",
        "host, UTC time, thread settings and git state of the training process",
        whole_file=True,
    ),
    Difference(
        "results/train/*/run.json",
        "training wall time",
        keys=frozenset({"total_seconds", "train_seconds"}),
    ),
    Difference("results/train/*/train_log.csv", "per-epoch wall time", columns=frozenset({"seconds"})),
    Difference(
        "results/train/*/resume/*.safetensors",
        "per-epoch wall time in the resume checkpoint's training log",
        keys=frozenset({"seconds"}),
    ),
)


def find_rule(rel: str, rules: tuple[Difference, ...] = LEGITIMATE_DIFFERENCES) -> Difference | None:
    """The first rule whose pattern matches ``rel`` (a POSIX relative path), if any."""
    return next((r for r in rules if fnmatch.fnmatchcase(rel, r.pattern)), None)


def list_files(run: Path, roots: list[str]) -> set[str]:
    """POSIX paths, relative to ``run``, of every file under the given roots."""
    files: set[str] = set()
    for root in roots:
        base = run / root
        if base.is_dir():
            files.update(p.relative_to(run).as_posix() for p in base.rglob("*") if p.is_file())
    return files


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _floats_equal(a: float, b: float, rtol: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b if rtol == 0 else math.isclose(a, b, rel_tol=rtol, abs_tol=0.0)


def tree_diff(a: Any, b: Any, ignore: frozenset[str], rtol: float, where: str = "") -> str | None:
    """Path and values of the first difference between two JSON trees, or None.

    Keys in ``ignore`` are skipped at any depth. NaN equals NaN, and an int equals
    the same float (JSON writers differ on ``1`` versus ``1.0``).
    """
    if isinstance(a, dict) and isinstance(b, dict):
        ka, kb = set(a) - ignore, set(b) - ignore
        if ka != kb:
            return f"{where or '/'}: keys differ: only in first {sorted(ka - kb)}, only in second {sorted(kb - ka)}"
        for k in sorted(ka):
            d = tree_diff(a[k], b[k], ignore, rtol, f"{where}/{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where or '/'}: list lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = tree_diff(x, y, ignore, rtol, f"{where}[{i}]")
            if d:
                return d
        return None
    numeric = (int, float)
    if (
        isinstance(a, numeric)
        and isinstance(b, numeric)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return None if _floats_equal(float(a), float(b), rtol) else f"{where}: {a!r} != {b!r}"
    return None if a == b else f"{where or '/'}: {a!r:.80} != {b!r:.80}"


def _frames_diff(a: pd.DataFrame, b: pd.DataFrame, rtol: float) -> str | None:
    try:
        pd.testing.assert_frame_equal(a, b, check_exact=rtol == 0, rtol=rtol or 1e-5, atol=0.0)
    except AssertionError as e:
        return " ".join(str(e).split())[:300]
    return None


def compare_parquet(a: Path, b: Path, rtol: float) -> tuple[str, str | None]:
    fa, fb = pd.read_parquet(a), pd.read_parquet(b)
    return f"parquet {fa.shape[0]}x{fa.shape[1]}", _frames_diff(fa, fb, rtol)


def compare_json(a: Path, b: Path, rule: Difference | None, rtol: float) -> tuple[str, str | None]:
    ignore = rule.keys if rule else frozenset()
    how = "json" + (f" without {sorted(ignore)}" if ignore else "")
    return how, tree_diff(json.loads(a.read_text()), json.loads(b.read_text()), ignore, rtol)


def compare_table(a: Path, b: Path, rule: Difference, rtol: float) -> tuple[str, str | None]:
    sep = "\t" if a.suffix == ".tsv" else ","
    fa, fb = pd.read_csv(a, sep=sep), pd.read_csv(b, sep=sep)
    missing = rule.columns - set(fa.columns)
    if missing:
        # The listed column vanished: the rule is stale, which the test should say.
        return "table", f"ignored column(s) {sorted(missing)} not in the file; update LEGITIMATE_DIFFERENCES"
    drop = sorted(rule.columns)
    how = f"table {fa.shape[0]} rows without columns {drop}"
    return how, _frames_diff(fa.drop(columns=drop), fb.drop(columns=drop, errors="ignore"), rtol)


def read_safetensors(path: Path) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """(tensor header, metadata, raw tensor bytes) of a safetensors file.

    The format is an 8-byte little-endian header length, a JSON header holding
    each tensor's dtype, shape and byte offsets plus an optional ``__metadata__``
    string map, then the raw tensor data.
    """
    blob = path.read_bytes()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short to be a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    # Metadata values are strings; decode the ones holding JSON so ignored keys apply inside them.
    decoded: dict[str, Any] = {}
    for k, v in meta.items():
        try:
            decoded[k] = json.loads(v)
        except (TypeError, ValueError):
            decoded[k] = v
    return header, decoded, blob[8 + n :]


def compare_safetensors(a: Path, b: Path, rule: Difference | None) -> tuple[str, str | None]:
    ha, ma, da = read_safetensors(a)
    hb, mb, db = read_safetensors(b)
    ignore = rule.keys if rule else frozenset()
    how = f"safetensors {len(ha)} tensors" + (f", metadata without {sorted(ignore)}" if ignore else "")
    if ha != hb:
        return how, "tensor names, dtypes, shapes or offsets differ"
    if da != db:
        names = [k for k, v in ha.items() if da[slice(*v["data_offsets"])] != db[slice(*v["data_offsets"])]]
        return how, f"tensor values differ in {len(names)} tensor(s), e.g. {names[:3]}"
    # Checkpoint metadata may embed a content hash over fields that hold wall
    # times; once those fields are ignored the hash differs too, so skip it.
    hash_keys = frozenset(k for k in ma if k.endswith(".sha256")) if ignore else frozenset()
    return how, tree_diff(ma, mb, ignore | hash_keys, 0.0, "metadata")


def compare_file(a: Path, b: Path, rel: str, rtol: float) -> tuple[str, str | None]:
    """(how the file was compared, first difference or None)."""
    rule = find_rule(rel)
    if rule and rule.whole_file:
        return f"presence only ({rule.reason})", None
    suffix = a.suffix.lower()
    try:
        if suffix == ".parquet":
            return compare_parquet(a, b, rtol)
        if suffix == ".json":
            return compare_json(a, b, rule, rtol)
        if suffix in (".csv", ".tsv") and rule and rule.columns:
            return compare_table(a, b, rule, rtol)
        if suffix == ".safetensors":
            return compare_safetensors(a, b, rule)
    except (OSError, ValueError) as e:
        return suffix.lstrip(".") or "file", f"cannot read: {e}"
    same = a.stat().st_size == b.stat().st_size and sha256(a) == sha256(b)
    return "bytes", None if same else "bytes differ"


def compare_runs(run_a: Path, run_b: Path, roots: list[str], rtol: float, out=sys.stdout) -> bool:
    """Print one line per file and a summary; True if the runs are equal."""
    files_a, files_b = list_files(run_a, roots), list_files(run_b, roots)
    ok = True
    for rel in sorted(files_a ^ files_b):
        print(f"MISSING  only in {'first' if rel in files_a else 'second'} run: {rel}", file=out)
        ok = False
    if not files_a & files_b:
        print(f"MISSING  no files under {roots} in both runs", file=out)
        return False
    kinds: Counter[str] = Counter()
    for rel in sorted(files_a & files_b):
        how, diff = compare_file(run_a / rel, run_b / rel, rel, rtol)
        kinds[how.split(" ")[0]] += 1
        if diff:
            ok = False
            print(f"DIFFER   {rel}  [{how}]: {diff}", file=out)
        else:
            print(f"same     {rel}  [{how}]", file=out)
    print(
        f"compared {sum(kinds.values())} files under {', '.join(roots)}: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
        file=out,
    )
    print("legitimate differences (not compared):", file=out)
    for r in LEGITIMATE_DIFFERENCES:
        part = (
            "whole file"
            if r.whole_file
            else f"keys {sorted(r.keys)}"
            if r.keys
            else f"columns {sorted(r.columns)}"
        )
        print(f"  {r.pattern}: {part} - {r.reason}", file=out)
    print("not compared at all: logs/, .snakemake/ (job logs, metadata and SLURM logs)", file=out)
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_a", type=Path, help="working directory of the first run")
    p.add_argument("run_b", type=Path, help="working directory of the second run")
    p.add_argument(
        "--roots",
        nargs="+",
        default=["results", "resources"],
        help="directories compared (default: %(default)s)",
    )
    p.add_argument("--rtol", type=float, default=0.0, help="relative tolerance for floats (default 0: exact)")
    args = p.parse_args(argv)
    for run in (args.run_a, args.run_b):
        if not run.is_dir():
            print(f"compare_outputs: {run} is not a directory", file=sys.stderr)
            return 2
    if args.rtol < 0:
        print("compare_outputs: --rtol must be >= 0", file=sys.stderr)
        return 2
    return 0 if compare_runs(args.run_a, args.run_b, args.roots, args.rtol) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Atomic file output: a reader never sees a half-written file.

Every stage writes through ``atomic_path``: the payload goes to a temporary
file in the destination directory, is flushed to disk, and is renamed over the
destination only when the writer finished without an exception.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it to ``dest`` on success.

    The temporary name keeps ``dest``'s suffix so writers that infer a format
    from the extension (pandas, soundfile) behave the same.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".tmp{dest.suffix}", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; use what open() would
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(dest: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON, atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(
            json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n", encoding="utf-8"
        )


def write_text(dest: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_parquet(dest: str | Path, df: Any) -> None:
    """Write a pandas DataFrame to parquet atomically (no index, deterministic bytes)."""
    with atomic_path(dest) as tmp:
        df.to_parquet(tmp, index=False, engine="pyarrow")


def _json_default(o: Any) -> Any:
    # numpy scalars and arrays, Paths
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_parquet_checked(
    path: str | Path,
    *,
    what: str,
    error: type[Exception],
    need: Sequence[str],
    columns: Sequence[str] | None = None,
) -> Any:
    """Read a parquet artifact after checking it exists, is parquet and has the ``need`` columns.

    Shared by the typed artifact modules (the label table, the manifest); each
    raises its own ``error`` with messages naming ``path`` and ``what`` it is,
    then validates the frame itself.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except Exception as e:  # pyarrow raises several types for a file that is not parquet
        raise error(f"{path}: cannot read the {what} as parquet ({e})") from None
    require_columns(names, need, path, what=what, error=error)
    return pd.read_parquet(path, columns=list(columns) if columns is not None else None)


def require_columns(
    columns: Sequence[str], need: Sequence[str], path: str | Path, *, what: str, error: type[Exception]
) -> None:
    """Raise ``error`` naming ``path`` and the missing columns of ``need``."""
    missing = [c for c in need if c not in columns]
    if missing:
        raise error(f"{path}: {what} lacks column(s) {missing}; has {list(columns)}")

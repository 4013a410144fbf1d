"""Atomic file output: a reader never sees a half-written file.

Every stage writes through ``atomic_path``: the payload goes to a temporary
file in the destination directory, is flushed to disk, and is renamed over the
destination only when the writer finished without an exception.

The typed artifacts (the label table, the manifest, the metrics and
significance documents) are read through :func:`read_json` or
:func:`read_table`, and the tables checked with :class:`FrameChecks`, each
raising the artifact's own error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
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


def read_json(path: str | Path, *, error: type[Exception]) -> Any:
    """The JSON document at ``path``; ``error`` naming ``path`` if it cannot be read or parsed."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise error(f"cannot read {path}: {err}") from None


def read_table(
    path: str | Path,
    *,
    what: str,
    error: type[Exception],
    schema: Collection[str],
    validate: Callable[..., None],
    columns: Sequence[str] | None = None,
    require: Sequence[str] | None = None,
) -> Any:
    """A typed parquet artifact (``what``, with the columns of ``schema``), read and validated.

    ``columns``: read only these (default: all). ``require``: columns that must
    be present (default: ``columns``, or every column of ``schema``).
    ``validate(df, path, require=...)`` checks the frame read.
    """
    need = list(require if require is not None else columns if columns is not None else schema)
    df = read_parquet_checked(path, what=what, error=error, need=need, columns=columns)
    validate(df, path, require=need)
    return df


class FrameChecks:
    """Checks of a typed table that raise on the first problem, naming the table, the column and
    one offending row (by ``file_id`` when the table has one)."""

    def __init__(self, df: Any, where: str, error: type[Exception]) -> None:
        self.df = df
        self.where = where
        self.error = error

    def rows(self, column: str, mask: Any, problem: str) -> None:
        """Raise naming the first row of the boolean ``mask`` (and how many there are), if any."""
        import numpy as np

        if not mask.any():
            return
        i = int(np.flatnonzero(mask)[0])
        who = f"{self.df['file_id'].iloc[i]!r}" if "file_id" in self.df.columns else f"row {i}"
        value = self.df[column].iloc[i]
        shown = value.tolist() if hasattr(value, "tolist") else value  # numpy -> plain Python
        raise self.error(
            f"{self.where}: column {column!r} of {who} ({shown!r}) {problem} ({int(mask.sum())} row(s))"
        )

    def file_ids(self) -> None:
        """``file_id`` (if present) names every row once and is never empty."""
        if "file_id" in self.df.columns:
            ids = self.df["file_id"]
            self.rows("file_id", ids.duplicated(keep="first").to_numpy(), "is listed more than once")
            self.rows("file_id", (ids.str.len() == 0).to_numpy(), "is empty")

    def member(self, column: str, allowed: Sequence[str]) -> None:
        """Every value of ``column`` (if present) is one of ``allowed``."""
        import pandas as pd

        if column in self.df.columns:
            unknown = pd.Index(allowed).get_indexer(self.df[column]) < 0
            self.rows(column, unknown, f"is not one of {', '.join(allowed)}")

    def dtype(self, column: str, kind: str) -> None:
        """``column`` has a dtype of ``kind`` (``str``, ``int``, ``bool``, ``float``)."""
        import pandas as pd

        s = self.df[column]
        if len(s) == 0:
            return
        ok = {
            "str": pd.api.types.is_string_dtype,
            "int": pd.api.types.is_integer_dtype,
            "bool": pd.api.types.is_bool_dtype,
            "float": lambda t: pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t),
        }[kind](s)
        if not ok:
            raise self.error(f"{self.where}: column {column!r} has type {s.dtype}, expected {kind}")


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (read in 4 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def looks_like_path(source: str) -> bool:
    """Whether a model source that is not an existing directory is meant as a local path rather
    than a model-hub id (``owner/name``): absolute, ``.``/``~``-relative, or not one slash."""
    return source.startswith(("/", ".", "~")) or "\\" in source or source.count("/") != 1

"""Logging for workflow scripts: everything a stage says goes to its Snakemake log."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def script_logging(log_path: str | Path | None, level: int = logging.INFO) -> Iterator[logging.Logger]:
    """Send ``logging`` records and stderr to ``log_path`` (line-buffered) for the block.

    Exceptions are logged with their traceback before they propagate, so the
    Snakemake log names what failed even when the console scrolls away.
    """
    root = logging.getLogger()
    if log_path is None:
        logging.basicConfig(level=level)
        yield root
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    fh = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - closed in finally
    handler = logging.StreamHandler(fh)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    old_level, old_stderr = root.level, sys.stderr
    root.addHandler(handler)
    root.setLevel(level)
    sys.stderr = fh
    try:
        yield root
    except BaseException:
        root.exception("stage failed")
        raise
    finally:
        sys.stderr = old_stderr
        root.removeHandler(handler)
        root.setLevel(old_level)
        fh.close()

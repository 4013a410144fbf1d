"""Reader for ``labels.txt``, MSP-Podcast's block-format annotation dump.

Early releases ship only this file; 2.0 ships it beside the CSVs, and the
paper's released code builds its vote distributions from it
(docs/paper_release.md). Blocks are separated by blank lines; each starts with
a header ``<file>; <code>; A:<x>; V:<x>; D:<x>;`` (the consensus letter and mean
ratings) followed by one worker line per annotation in the shape parsed by
:mod:`sertools.corpus.worker_lines`::

    MSP-PODCAST_0001_0008.wav; N; A:2.200000; V:4.000000; D:2.600000;
    WORKER00000123; Neutral; Concerned,Sad; A:2.0; V:4.0; D:3.0;
    WORKER00000456; Neutral; A:3.0; V:4.0; D:3.0;

The reader returns the same two raw string tables as the CSV readers
(:class:`LabelsTxt`): one header row per block and one row per worker line,
with 1-based line numbers. Nothing is validated here beyond structure: a header
that does not match drops its block (counted, each worker line reported as
``malformed`` with its raw text), and a worker line without the field
structure is kept as ``malformed`` with its raw text, for the label stage to
count or report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sertools.corpus.worker_lines import ASCII_SPACE, WorkerLine, parse_worker_lines

_HEADER = re.compile(
    r"^\s*(?P<file_id>[^;]+?)\s*;\s*(?P<consensus>[A-Za-z])\s*;"
    r"\s*A\s*:\s*(?P<act>[^;]*?)\s*;\s*V\s*:\s*(?P<val>[^;]*?)\s*;\s*D\s*:\s*(?P<dom>[^;]*?)\s*;?\s*$"
)
#: :data:`_HEADER` for Arrow, on ASCII lines: ``\s`` spelled out as the ASCII characters Python's ``\s`` matches
_HEADER_ASCII = _HEADER.pattern.replace(r"\s", ASCII_SPACE)
_BLANK_ASCII = rf"^{ASCII_SPACE}*$"
HEADER_COLUMNS = ("file_id", "consensus", "act", "val", "dom", "line")
DETAIL_COLUMNS = (
    "file_id",
    "worker",
    "primary",
    "secondary",
    "act",
    "val",
    "dom",
    "malformed",
    "raw",
    "line",
)


@dataclass(frozen=True)
class LabelsTxt:
    """``headers``: one row per block (HEADER_COLUMNS); ``detailed``: one row per worker line
    (DETAIL_COLUMNS; ``file_id`` empty for lines of a block whose header did not parse);
    ``bad_headers``: blocks dropped for an unparseable header; ``bad_header_lines``: their
    (line number, text), in file order."""

    headers: pd.DataFrame
    detailed: pd.DataFrame
    bad_headers: int
    bad_header_lines: tuple[tuple[int, str], ...] = ()


def _ascii(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.string_is_ascii(arr), False).to_numpy(zero_copy_only=False)


def _blank(lines: list[str], arr: pa.Array) -> np.ndarray:
    """Which lines are empty or white space only (``not line.strip()``)."""
    blank = pc.fill_null(pc.match_substring_regex(arr, _BLANK_ASCII), False).to_numpy(zero_copy_only=False)
    other = np.flatnonzero(~_ascii(arr))
    blank = blank.copy()
    blank[other] = [not lines[i].strip() for i in other]
    return blank


def _headers(arr: pa.Array) -> tuple[dict[str, pa.Array], np.ndarray]:
    """:data:`_HEADER`'s groups of every line (``""`` where it does not match) and which lines match."""
    parts = pc.extract_regex(arr, _HEADER_ASCII)
    ascii_match = pc.fill_null(pc.and_(pc.is_valid(parts), pc.string_is_ascii(arr)), False)
    ok = ascii_match.to_numpy(zero_copy_only=False).copy()
    names = HEADER_COLUMNS[:-1]
    rest = np.flatnonzero(~ok)
    fallback: dict[str, list[str]] = {k: [] for k in names}
    for i, text in zip(rest, pc.take(arr, pa.array(rest, type=pa.int64())).to_pylist(), strict=True):
        m = _HEADER.match(text)
        ok[i] = m is not None
        for k in names:
            fallback[k].append(m.group(k) if m else "")
    out = {}
    for k in names:
        values = pc.fill_null(pc.struct_field(parts, k), "").cast(pa.large_string())
        if len(rest):
            values = pc.replace_with_mask(
                values, pc.invert(ascii_match), pa.array(fallback[k], pa.large_string())
            )
        out[k] = values
    return out, ok


def _frame(columns: dict[str, pa.Array | np.ndarray], names: tuple[str, ...]) -> pd.DataFrame:
    """A frame of ``names`` from Arrow string and numpy columns (pandas' ``str`` dtype for strings)."""
    if len(next(iter(columns.values()))) == 0:
        return pd.DataFrame([], columns=list(names))
    return pa.table({k: columns[k] for k in names}).to_pandas()


def parse_labels_txt(text: str) -> LabelsTxt:
    """Parse the text of a ``labels.txt`` file (see the module docstring).

    Vectorised over lines: blocks are runs of non-blank lines; the first line of
    each is its header, the others its worker lines
    (:func:`sertools.corpus.worker_lines.parse_worker_lines`).
    """
    lines = text.lstrip("\ufeff").splitlines()
    arr = pa.array(lines, type=pa.large_string())
    number = np.arange(1, len(lines) + 1, dtype=np.int64)
    blank = _blank(lines, arr)
    filled = ~blank
    first = filled & np.concatenate(([True], blank[:-1]))
    block = np.cumsum(first) - 1  # block of each non-blank line
    starts = np.flatnonzero(first)
    head, head_ok = _headers(pc.take(arr, pa.array(starts, type=pa.int64())))
    good = np.flatnonzero(head_ok)
    headers = _frame(
        {
            **{k: pc.take(v, pa.array(good, type=pa.int64())) for k, v in head.items()},
            "line": number[starts[good]],
        },
        HEADER_COLUMNS,
    )
    bad = np.flatnonzero(~head_ok)
    bad_header_lines = tuple((int(number[starts[j]]), lines[starts[j]]) for j in bad)

    workers = np.flatnonzero(filled & ~first)
    raw = pc.take(arr, pa.array(workers, type=pa.int64()))
    worker_block = block[workers]
    in_good = head_ok[worker_block]
    fields, parsed = parse_worker_lines(raw)
    blank_fields = np.flatnonzero(~in_good)  # lines under a bad header: malformed, every field empty
    if len(blank_fields):
        mask = pa.array(~in_good)
        empty = pa.array([""] * len(blank_fields), pa.large_string())
        fields = {k: pc.replace_with_mask(v, mask, empty) for k, v in fields.items()}
    file_id = pc.take(head["file_id"], pa.array(worker_block, type=pa.int64()))
    if len(blank_fields):
        file_id = pc.replace_with_mask(
            file_id, pa.array(~in_good), pa.array([""] * len(blank_fields), pa.large_string())
        )
    detailed = _frame(
        {
            "file_id": file_id,
            **{k: fields[k] for k in WorkerLine._fields},
            "malformed": ~(parsed & in_good),
            "raw": raw,
            "line": number[workers],
        },
        DETAIL_COLUMNS,
    )
    return LabelsTxt(headers, detailed, len(bad), bad_header_lines)


def read_labels_txt(path: str | Path) -> LabelsTxt:
    """Read a ``labels.txt`` file (UTF-8, BOM and CRLF accepted; bad bytes become U+FFFD)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return parse_labels_txt(fh.read())

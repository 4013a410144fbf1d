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

from sertools.corpus.worker_lines import (
    ASCII_SPACE_CHARS,
    SplitLines,
    WorkerLine,
    parse_worker_lines,
    rating_value,
)

_HEADER = re.compile(
    r"^\s*(?P<file_id>[^;]+?)\s*;\s*(?P<consensus>[A-Za-z])\s*;"
    r"\s*A\s*:\s*(?P<act>[^;]*?)\s*;\s*V\s*:\s*(?P<val>[^;]*?)\s*;\s*D\s*:\s*(?P<dom>[^;]*?)\s*;?\s*$"
)
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


#: the line boundaries ``str.splitlines`` knows besides ``\n``
_OTHER_BREAKS = ("\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _lines(text: str) -> pa.Array:
    """``text.splitlines()`` as an Arrow ``large_string`` array.

    Text whose only line boundary is ``\n`` is cut in numpy on its UTF-8 bytes, without a
    Python string per line; any other text goes through ``str.splitlines``.
    """
    try:
        if any(c in text for c in _OTHER_BREAKS):
            raise ValueError
        data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    except (ValueError, UnicodeEncodeError):
        return pa.array(text.splitlines(), type=pa.large_string())
    newline = np.flatnonzero(data == 10)
    n = len(newline) + int(len(data) > 0 and data[-1] != 10)
    joined = text.replace("\n", "").encode("utf-8")  # str.replace: one pass, no mask
    starts = np.concatenate(([0], newline + 1))[:n] - np.arange(n)
    offsets = np.append(starts, len(joined)).astype(np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(joined))


def _blank(arr: pa.Array) -> np.ndarray:
    """Which lines are empty or white space only (``not line.strip()``)."""
    trimmed = pc.utf8_trim(arr, ASCII_SPACE_CHARS)
    blank = pc.fill_null(pc.equal(pc.binary_length(trimmed), 0), False).to_numpy(zero_copy_only=False)
    other = np.flatnonzero(~_ascii(arr))
    blank = blank.copy()
    texts = pc.take(arr, pa.array(other, type=pa.int64())).to_pylist()
    blank[other] = [not line.strip() for line in texts]
    return blank


def _headers(arr: pa.Array) -> tuple[dict[str, pa.Array], np.ndarray]:
    """:data:`_HEADER`'s groups of every line (``""`` where it does not match) and which lines match.

    ASCII lines of the common shape (five ``;``-separated fields, optionally a trailing
    ``;``, a non-empty file id, a one-letter consensus, rating letters right against their
    ``:``) are split on ``;`` in Arrow, which gives exactly the groups of :data:`_HEADER`;
    every other line goes through :data:`_HEADER`.
    """
    split = SplitLines(arr)
    six = split.ascii & (split.count == 6)
    ok = six | (split.ascii & (split.count == 5))

    def field(k: int) -> pa.Array:
        return split.field(np.full(len(ok), k), ok)

    def check(mask: pa.Array) -> np.ndarray:
        return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)

    ok &= ~six | (split.length(np.full(len(ok), 5), six) == 0)
    ok &= split.length(np.zeros(len(ok), np.int64), ok) > 0
    values = {"file_id": field(0), "consensus": field(1)}
    ok &= check(pc.match_substring_regex(values["consensus"], "^[A-Za-z]$"))
    for name, letter, position in (("act", "A", 2), ("val", "V", 3), ("dom", "D", 4)):
        values[name], matched = rating_value(field(position), letter)
        ok &= matched
    names = HEADER_COLUMNS[:-1]
    simple = ok.copy()
    rest = np.flatnonzero(~simple)
    fallback: dict[str, list[str]] = {k: [] for k in names}
    for i, text in zip(rest, pc.take(arr, pa.array(rest, type=pa.int64())).to_pylist(), strict=True):
        m = _HEADER.match(text)
        ok[i] = m is not None
        for k in names:
            fallback[k].append(m.group(k) if m else "")
    out = {}
    not_simple = pa.array(~simple)
    for k in names:
        column = pc.fill_null(values[k], "").cast(pa.large_string())
        if len(rest):
            column = pc.replace_with_mask(column, not_simple, pa.array(fallback[k], pa.large_string()))
        out[k] = column
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
    arr = _lines(text.lstrip("\ufeff"))
    number = np.arange(1, len(arr) + 1, dtype=np.int64)
    blank = _blank(arr)
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
    bad_header_lines = tuple((int(number[starts[j]]), arr[int(starts[j])].as_py()) for j in bad)

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

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

import pandas as pd

from sertools.corpus.worker_lines import parse_worker_line

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


def _blocks(lines: list[str]) -> list[list[tuple[int, str]]]:
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            current.append((number, line.rstrip("\r\n")))
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def parse_labels_txt(text: str) -> LabelsTxt:
    """Parse the text of a ``labels.txt`` file (see the module docstring)."""
    headers, detailed = [], []
    bad_headers: list[tuple[int, str]] = []
    for block in _blocks(text.lstrip("\ufeff").splitlines()):
        (hline, htext), workers = block[0], block[1:]
        m = _HEADER.match(htext)
        if m is None:
            bad_headers.append((hline, htext))
            file_id = ""
        else:
            file_id = m.group("file_id")
            headers.append({**{k: m.group(k) for k in HEADER_COLUMNS[:-1]}, "line": hline})
        for number, raw in workers:
            parsed = parse_worker_line(raw) if m is not None else None
            row = {"file_id": file_id, "raw": raw, "line": number, "malformed": parsed is None}
            row.update(parsed._asdict() if parsed else dict.fromkeys(DETAIL_COLUMNS[1:7], ""))
            detailed.append(row)
    return LabelsTxt(
        pd.DataFrame(headers, columns=list(HEADER_COLUMNS)),
        pd.DataFrame(detailed, columns=list(DETAIL_COLUMNS)),
        len(bad_headers),
        tuple(bad_headers),
    )


def read_labels_txt(path: str | Path) -> LabelsTxt:
    """Read a ``labels.txt`` file (UTF-8, BOM and CRLF accepted; bad bytes become U+FFFD)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return parse_labels_txt(fh.read())

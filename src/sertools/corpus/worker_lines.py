"""One worker's annotation written as a line: ``WORKER..; <primary>; <secondary>; A:x; V:x; D:x;``.

MSP-Podcast writes per-worker annotations in this shape in two places: the
``EmoDetail`` column of the 1.11/1.12 ``labels_detailed.csv`` and the worker
lines of ``labels.txt`` (docs/corpus.md). The line is parsed by its field
structure, not by one regular expression, because real lines vary:

- the secondary field may be empty (``Neutral; ; A:2.0``) or absent
  (``Neutral; A:2.0``);
- free-text secondary tags may themselves contain ``;`` or ``:``
  (``Other-mixed; sort of: tired``).

So: the first field is the worker, the second the primary; the last three
non-empty fields must be ``A:``, ``V:`` and ``D:`` (in that order); whatever
lies between the primary and ``A:`` is the secondary list, re-joined with
``;``. A line without that structure is reported as unparseable, never guessed.

:func:`parse_worker_lines` parses many lines at once (1.4 M worker lines at
MSP-Podcast 2.0 scale) with the same result as :func:`parse_worker_line` on each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_RATING = re.compile(r"^\s*([AVD])\s*:\s*(.*?)\s*$", re.DOTALL)

#: the characters ``str.strip`` and ``\s`` treat as white space, among ASCII ones
ASCII_SPACE = r"[ \t\n\r\x0b\x0c\x1c-\x1f]"
_INNER = r"[^;: \t\n\r\x0b\x0c\x1c-\x1f]"
#: a field without ``;`` or ``:`` and with its surrounding white space outside it
_FIELD = rf"(?:{_INNER}(?:[^;:]*{_INNER})?)"
_W = ASCII_SPACE
#: the common shape: no ``;`` or ``:`` inside a field, at most one secondary field. On an
#: ASCII line a match gives exactly what parse_worker_line gives; other lines go through it.
_SIMPLE = (
    rf"^{_W}*(?P<worker>{_FIELD}){_W}*;{_W}*(?P<primary>{_FIELD}?){_W}*;"
    rf"(?:{_W}*(?P<secondary>{_FIELD}?){_W}*;)?"
    rf"{_W}*A{_W}*:{_W}*(?P<act>{_FIELD}?){_W}*;"
    rf"{_W}*V{_W}*:{_W}*(?P<val>{_FIELD}?){_W}*;"
    rf"{_W}*D{_W}*:{_W}*(?P<dom>{_FIELD}?){_W}*(?:;{_W}*)*$"
)


class WorkerLine(NamedTuple):
    worker: str
    primary: str
    secondary: str
    act: str
    val: str
    dom: str


def parse_worker_line(text: str) -> WorkerLine | None:
    """The fields of one worker line as strings, or ``None`` if it lacks the structure."""
    raw = str(text).strip().split(";")
    while raw and raw[-1].strip() == "":
        raw.pop()
    fields = [f.strip() for f in raw]
    if len(fields) < 5:
        return None
    ratings = [_RATING.match(f) for f in fields[-3:]]
    if not all(ratings) or [m.group(1) for m in ratings] != ["A", "V", "D"]:
        return None
    worker, primary = fields[0], fields[1]
    if not worker or _RATING.match(primary):
        return None
    secondary = ";".join(raw[2:-3]).strip()  # tags keep their own spacing
    act, val, dom = (m.group(2) for m in ratings)
    return WorkerLine(worker, primary, secondary, act, val, dom)


def parse_worker_lines(lines: pa.Array | Sequence[str]) -> tuple[dict[str, pa.Array], np.ndarray]:
    """:func:`parse_worker_line` of every line, vectorised.

    Returns the fields by :class:`WorkerLine` name, each an Arrow ``large_string``
    array (``""`` where the line does not parse), and a bool array: which lines
    parse. ASCII lines of the common shape (:data:`_SIMPLE`) are split by one
    regular expression in Arrow; every other line goes through
    :func:`parse_worker_line`.
    """
    arr = lines if isinstance(lines, pa.Array) else pa.array(lines, type=pa.large_string())
    arr = arr.cast(pa.large_string())
    parts = pc.extract_regex(arr, _SIMPLE)
    simple = pc.fill_null(pc.and_(pc.is_valid(parts), pc.string_is_ascii(arr)), False)
    ok = simple.to_numpy(zero_copy_only=False).copy()
    rest = np.flatnonzero(~ok)
    fallback: dict[str, list[str]] = {name: [] for name in WorkerLine._fields}
    for i, text in zip(rest, pc.take(arr, pa.array(rest, type=pa.int64())).to_pylist(), strict=True):
        parsed = parse_worker_line(text if text is not None else "")
        ok[i] = parsed is not None
        for name, value in zip(WorkerLine._fields, parsed or ("",) * len(WorkerLine._fields), strict=True):
            fallback[name].append(value)
    not_simple = pc.invert(simple)
    fields = {}
    for name in WorkerLine._fields:
        values = pc.fill_null(pc.struct_field(parts, name), "").cast(pa.large_string())
        if len(rest):
            values = pc.replace_with_mask(
                values, not_simple, pa.array(fallback[name], type=pa.large_string())
            )
        fields[name] = values
    return fields, ok

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
    ratings = [m for f in fields[-3:] if (m := _RATING.match(f)) is not None]
    if len(ratings) != 3 or [m.group(1) for m in ratings] != ["A", "V", "D"]:
        return None
    worker, primary = fields[0], fields[1]
    if not worker or _RATING.match(primary):
        return None
    secondary = ";".join(raw[2:-3]).strip()  # tags keep their own spacing
    act, val, dom = (m.group(2) for m in ratings)
    return WorkerLine(worker, primary, secondary, act, val, dom)


#: :data:`ASCII_SPACE` as a set of characters, for Arrow's trim kernels
ASCII_SPACE_CHARS = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


class SplitLines:
    """Lines split on ``;`` by Arrow (``str.split(";")``), each field trimmed once.

    ``count``: each line's number of fields; ``ascii``: which lines are ASCII (where
    trimming :data:`ASCII_SPACE_CHARS` equals ``str.strip``). Fields are gathered only
    on demand (:meth:`field`, one Arrow ``take`` per call), without a Python string per
    field; :meth:`length` gives a field's trimmed length from the offsets alone.
    """

    def __init__(self, arr: pa.Array) -> None:
        self.ascii = pc.fill_null(pc.string_is_ascii(arr), False).to_numpy(zero_copy_only=False)
        arr = pc.fill_null(arr.cast(pa.large_string()), "")
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        parts = pc.split_pattern(arr, ";")
        self.first = np.asarray(parts.offsets)[:-1].astype(np.int64)
        self.count = np.diff(np.asarray(parts.offsets)).astype(np.int64)
        self.fields = pc.ascii_trim(parts.values, ASCII_SPACE_CHARS).cast(pa.large_string())
        _, offsets, _ = self.fields.buffers()
        start = self.fields.offset
        self.bounds = np.frombuffer(offsets, dtype=np.int64)[start : start + len(self.fields) + 1]

    def _index(self, k: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return self.first + np.where(valid, k, 0)

    def length(self, k: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Byte length of trimmed field ``k`` where ``valid``, else 0."""
        i = self._index(k, valid)
        if not len(self.fields):
            return np.zeros(len(k), dtype=np.int64)
        i = np.minimum(i, len(self.fields) - 1)
        return np.where(valid, self.bounds[i + 1] - self.bounds[i], 0)

    def field(self, k: np.ndarray, valid: np.ndarray) -> pa.Array:
        """Field ``k`` of each line (``k < count``) where ``valid``, else ``""``; trimmed of
        :data:`ASCII_SPACE_CHARS`, as ``large_string``."""
        index = pa.array(self._index(k, valid), mask=~np.asarray(valid, dtype=bool), type=pa.int64())
        return pc.fill_null(pc.take(self.fields, index), "")


def rating_value(field: pa.Array, letter: str) -> tuple[pa.Array, np.ndarray]:
    """The value of trimmed fields written ``<letter>:<value>`` (trimmed) and which fields are."""
    ok = pc.fill_null(pc.starts_with(field, letter + ":"), False).to_numpy(zero_copy_only=False)
    value = pc.utf8_trim(pc.utf8_slice_codeunits(field, 2), ASCII_SPACE_CHARS)
    return value, ok


def parse_worker_lines(lines: pa.Array | Sequence[str]) -> tuple[dict[str, pa.Array], np.ndarray]:
    """:func:`parse_worker_line` of every line, vectorised.

    Returns the fields by :class:`WorkerLine` name, each an Arrow ``large_string``
    array (``""`` where the line does not parse), and a bool array: which lines
    parse. ASCII lines of the common shapes are split on ``;`` in Arrow:
    ``worker; primary; secondary; A:x; V:x; D:x;`` and ``worker; primary; A:x; V:x; D:x;``
    with a non-empty worker, a primary without ``:`` (so not a rating) and the
    rating letters written right against their ``:``. For these the split gives
    exactly what :func:`parse_worker_line` gives; every other line goes through it.
    """
    arr = lines if isinstance(lines, pa.Array) else pa.array(lines, type=pa.large_string())
    arr = arr.cast(pa.large_string())
    split = SplitLines(arr)
    seven = split.ascii & (split.count == 7)
    six = split.ascii & (split.count == 6)
    simple = seven | six

    def field(k7: int, k6: int) -> pa.Array:
        return split.field(np.where(seven, k7, k6), simple)

    def check(mask: pa.Array) -> np.ndarray:
        return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)

    simple &= split.length(np.where(seven, 6, 5), simple) == 0
    simple &= split.length(np.zeros(len(arr), np.int64), simple) > 0
    worker = field(0, 0)
    primary = field(1, 1)
    simple &= ~check(pc.match_substring(primary, ":"))
    values = {"worker": worker, "primary": primary}
    for name, letter, k7, k6 in (("act", "A", 3, 2), ("val", "V", 4, 3), ("dom", "D", 5, 4)):
        values[name], ok = rating_value(field(k7, k6), letter)
        simple &= ok
    values["secondary"] = split.field(np.full(len(arr), 2), seven)

    ok = simple.copy()
    rest = np.flatnonzero(~simple)
    fallback: dict[str, list[str]] = {name: [] for name in WorkerLine._fields}
    for i, text in zip(rest, pc.take(arr, pa.array(rest, type=pa.int64())).to_pylist(), strict=True):
        parsed = parse_worker_line(text if text is not None else "")
        ok[i] = parsed is not None
        for name, value in zip(WorkerLine._fields, parsed or ("",) * len(WorkerLine._fields), strict=True):
            fallback[name].append(value)
    not_simple = pa.array(~simple)
    fields = {}
    for name in WorkerLine._fields:
        column = pc.fill_null(values[name], "").cast(pa.large_string())
        if len(rest):
            column = pc.replace_with_mask(
                column, not_simple, pa.array(fallback[name], type=pa.large_string())
            )
        fields[name] = column
    return fields, ok

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
"""

from __future__ import annotations

import re
from typing import NamedTuple

_RATING = re.compile(r"^\s*([AVD])\s*:\s*(.*?)\s*$", re.DOTALL)


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

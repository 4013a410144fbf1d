"""The vectorised splits of labels.txt agree with the exact per-line parsers on odd input."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from sertools.corpus.labels_txt import _HEADER, HEADER_COLUMNS, _headers, _lines
from sertools.corpus.worker_lines import WorkerLine, parse_worker_line, parse_worker_lines

_ATOMS = [
    "W1", "MSP_1.wav", " ", ";", ":", "A", "V", "D", "A:", "V:", "D:", "Neutral", "Sad,Happy",
    "N", "\t", "\x1c", "\xa0", "é", "3.0", "", ";;", " A :",
]  # fmt: skip
_WORKER_SHAPES = [
    "WORKER1; Neutral; Sad; A:2.0; V:4.0; D:3.0;",
    "WORKER1; Neutral; A:2.0; V:4.0; D:3.0;",
    " W ; N ;  ; A: ; V:1 ;D: 2 ; ",
    "W;A:1;A:1;V:2;D:3;",
    "W;N;s;A:1;V:2;D:3;x",
    "W;N;s;A:1;V:2;D:3; \t",
]
_HEADER_SHAPES = [
    "MSP-PODCAST_0001_0008.wav; N; A:2.200000; V:4.000000; D:2.600000;",
    "f;N;A:1;V:2;D:3",
    " f ; n ; A: ; V: ;D: ; ",
    "  ; N; A:1; V:2; D:3;",
    "f;N;A:1;V:2;D:3;;",
    "f;NN;A:1;V:2;D:3;",
]


def _variants(shapes: list[str], seed: int, n: int = 400) -> list[str]:
    rng = random.Random(seed)
    lines = ["".join(rng.choice(_ATOMS) for _ in range(rng.randint(0, 12))) for _ in range(n)]
    for shape in shapes:
        for _ in range(n // 4):
            chars = list(shape)
            for _ in range(rng.randint(0, 2)):
                chars.insert(rng.randrange(len(chars) + 1), rng.choice(_ATOMS))
            lines.append("".join(chars))
    return lines + shapes


@pytest.mark.parametrize("container", ["list", "arrow", "sliced", "with_null"])
def test_worker_lines_match_the_per_line_parser(container: str) -> None:
    lines: list[str | None] = list(_variants(_WORKER_SHAPES, seed=1))
    if container == "with_null":
        lines.insert(3, None)
    arr = pa.array(["pad", *lines], type=pa.large_string()).slice(1) if container == "sliced" else None
    given = lines if container in ("list", "with_null") else (arr if arr is not None else pa.array(lines))
    fields, ok = parse_worker_lines(given)
    assert ok.sum() > len(_WORKER_SHAPES)
    for i, line in enumerate(lines):
        expected = parse_worker_line(line if line is not None else "")
        assert bool(ok[i]) == (expected is not None), line
        got = tuple(fields[name][i].as_py() for name in WorkerLine._fields)
        assert got == (tuple(expected) if expected else ("",) * 6), line


def test_worker_lines_empty_input() -> None:
    fields, ok = parse_worker_lines([])
    assert len(ok) == 0 and all(len(v) == 0 for v in fields.values())


def test_headers_match_the_regular_expression() -> None:
    lines = _variants(_HEADER_SHAPES, seed=2)
    groups, ok = _headers(pa.array(lines, type=pa.large_string()))
    assert ok.sum() > len(_HEADER_SHAPES)
    for i, line in enumerate(lines):
        m = _HEADER.match(line)
        assert bool(ok[i]) == (m is not None), line
        expected = tuple(m.group(k) for k in HEADER_COLUMNS[:-1]) if m else ("",) * 5
        assert tuple(groups[k][i].as_py() for k in HEADER_COLUMNS[:-1]) == expected, line


@pytest.mark.parametrize(
    "text",
    ["", "a", "a\n", "a\n\n", "\n", "é\nb", "x\r\ny", "a\n\nb\n  \n", "ééé\nü", "a\x1cb\n", "a\u2028b"],
)
def test_lines_split_like_splitlines(text: str) -> None:
    assert _lines(text).to_pylist() == text.splitlines()

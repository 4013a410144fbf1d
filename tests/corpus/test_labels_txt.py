"""labels.txt blocks and worker lines, written by hand in the real layout."""

from __future__ import annotations

import pytest

from sertools.corpus.labels_txt import parse_labels_txt, read_labels_txt
from sertools.corpus.worker_lines import WorkerLine, parse_worker_line


@pytest.mark.parametrize(
    ("line", "want"),
    [
        (
            "WORKER00000123; Neutral; Concerned,Sad; A:2.0; V:4.0; D:3.0;",
            WorkerLine("WORKER00000123", "Neutral", "Concerned,Sad", "2.0", "4.0", "3.0"),
        ),
        # empty secondary slot
        (
            "WORKER1; Neutral; ; A:2.0; V:4.0; D:3.0;",
            WorkerLine("WORKER1", "Neutral", "", "2.0", "4.0", "3.0"),
        ),
        # absent secondary field (1.11/1.12 real rows)
        (
            "WORKER00000001; Neutral; A:2.0; V:4.0; D:3.0;",
            WorkerLine("WORKER00000001", "Neutral", "", "2.0", "4.0", "3.0"),
        ),
        # free text with ; and : inside the secondary tags
        (
            "WORKER7; Other-mixed; Sad, Other-kind of; tired: sleepy; A:1; V:2; D:3",
            WorkerLine("WORKER7", "Other-mixed", "Sad, Other-kind of; tired: sleepy", "1", "2", "3"),
        ),
        # spaces around the colons
        (
            "W9 ; Happy ; Excited ; A : 5 ; V : 6 ; D : 4 ;",
            WorkerLine("W9", "Happy", "Excited", "5", "6", "4"),
        ),
    ],
)
def test_worker_lines(line, want):
    assert parse_worker_line(line) == want


@pytest.mark.parametrize(
    "line",
    [
        "WORKER1; Neutral; A:2.0; V:4.0;",  # no D
        "WORKER1; Neutral; Sad; V:4.0; A:2.0; D:3.0;",  # wrong order
        "just some text",
        "; Neutral; A:1; V:1; D:1;",  # no worker
        "WORKER1; A:1; V:1; D:1;",  # no primary
    ],
)
def test_lines_without_the_structure_are_not_guessed(line):
    assert parse_worker_line(line) is None


TEXT = (
    "\ufeffMSP-PODCAST_0001_0008.wav; N; A:2.200000; V:4.000000; D:2.600000;\r\n"
    "WORKER00000123; Neutral; Concerned,Sad; A:2.0; V:4.0; D:3.0;\r\n"
    "WORKER00000456; Neutral; A:3.0; V:4.0; D:3.0;\r\n"
    "\r\n"
    "MSP-PODCAST_0001_0009.wav; X; A:4.0; V:3.5; D:4.0;\n"
    "WORKER00000123; Happy; ; A:4; V:5; D:4;\n"
    "WORKER00000789; this line is broken\n"
    "\n\n"
    "MSP-PODCAST_0002_0001.wav; N; A:bad\n"
    "WORKER00000001; Sad; ; A:1; V:1; D:1;\n"
)


def test_blocks():
    got = parse_labels_txt(TEXT)
    assert got.headers["file_id"].tolist() == ["MSP-PODCAST_0001_0008.wav", "MSP-PODCAST_0001_0009.wav"]
    assert got.headers["consensus"].tolist() == ["N", "X"]
    assert got.headers["act"].tolist() == ["2.200000", "4.0"]
    assert got.headers["line"].tolist() == [1, 5]
    assert got.bad_headers == 1
    d = got.detailed
    assert len(d) == 5
    assert d["file_id"].tolist() == ["MSP-PODCAST_0001_0008.wav"] * 2 + ["MSP-PODCAST_0001_0009.wav"] * 2 + [
        ""
    ]
    assert d["secondary"].tolist()[:3] == ["Concerned,Sad", "", ""]
    assert d["malformed"].tolist() == [False, False, False, True, True]
    assert d.loc[3, "raw"] == "WORKER00000789; this line is broken"
    assert d["line"].tolist() == [2, 3, 6, 7, 11]


def test_read_from_file(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_bytes(TEXT.encode("utf-8"))
    assert read_labels_txt(path).headers.shape == (2, 6)

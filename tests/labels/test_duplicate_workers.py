"""A worker listed twice for a file: ``labels.on_duplicate_worker`` keep_first, keep_all and error.

Under ``keep_all`` every row of a repeated worker is a vote of its own, in this
package's columns and in the release's (whose ``labels.txt`` reader counts a
worker listed twice twice, docs/paper_release.md section 1.4), and the summary
says how many such rows were kept. Both detailed sources (labels_detailed.csv
and labels.txt) give the same table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from labelfiles import Annotation, write_corpus

from sertools.classes import CLASSES
from sertools.corpus.msp import label_files
from sertools.labels import build, table
from sertools.labels.build import LabelError

N, S, H, A = (CLASSES.index(c) for c in ("Neutral", "Sad", "Happy", "Angry"))

CONSENSUS = [
    ["d1.wav", "N", 4.0, 4.0, 4.0, 1, "Male", "Train"],
    ["d2.wav", "A", 4.0, 4.0, 4.0, 2, "Female", "Development"],
    ["d3.wav", "H", 4.0, 4.0, 4.0, 3, "Male", "Test1"],
    ["d4.wav", "X", 4.0, 4.0, 4.0, 4, "Female", "Test2"],
]
ANNOTATIONS: list[Annotation] = [
    # d1: W1 twice (the second row without a secondary), W2 once
    ("d1.wav", "W1", "Neutral", "Happy", 4, 4, 4),
    ("d1.wav", "W1", "Neutral", "", 4, 4, 4),
    ("d1.wav", "W2", "Sad", "", 2, 2, 2),
    # d2: W1's first row is invalid, so its second is no repeat
    ("d2.wav", "W1", "Bored", "", 4, 4, 4),
    ("d2.wav", "W1", "Angry", "", 6, 2, 6),
    ("d2.wav", "W2", "Angry", "", 6, 2, 6),
    ("d2.wav", "W3", "Happy", "", 5, 6, 5),
    # d3: one worker listed three times
    ("d3.wav", "W5", "Happy", "", 5, 6, 5),
    ("d3.wav", "W5", "Happy", "", 5, 6, 5),
    ("d3.wav", "W5", "Happy", "", 5, 6, 5),
    # d4: no repeat
    ("d4.wav", "W1", "Sad", "", 2, 2, 2),
    ("d4.wav", "W2", "Neutral", "", 4, 4, 4),
    # d9: not in the consensus file; its repeated worker is dropped with the file
    ("d9.wav", "W1", "Sad", "", 2, 2, 2),
    ("d9.wav", "W1", "Sad", "", 2, 2, 2),
]
READ = len(ANNOTATIONS)
SOURCES = ("labels_detailed", "labels_txt")


def write_labels_txt(root: Path, annotations: list[Annotation]) -> None:
    """Labels/labels.txt of ``annotations``: one block per file, an empty secondary as an absent field."""
    blocks: dict[str, list[str]] = {}
    for f, wk, p, s, a, v, d in annotations:
        middle = f"{s}; " if s else ""
        blocks.setdefault(f, [f"{f}; N; A:4.000000; V:4.000000; D:4.000000;"]).append(
            f"{wk}; {p}; {middle}A:{a}.0; V:{v}.0; D:{d}.0;"
        )
    (root / "Labels" / "labels.txt").write_text(
        "\n\n".join("\n".join(b) for b in blocks.values()) + "\n", encoding="utf-8"
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = write_corpus(tmp_path / "corpus", CONSENSUS, ANNOTATIONS)
    write_labels_txt(root, ANNOTATIONS)
    return root


def run(root: Path, cfg: dict, source: str, mode: str) -> tuple[dict[str, dict], dict]:
    """The label table (file -> row as a dict) and summary of the label stage."""
    out = root.parent / f"out_{source}_{mode}"
    summary = build.run(
        label_files(root, source),
        {"table": out / "labels.parquet", "summary": out / "summary.json"},
        labels={**cfg["labels"], "detailed_source": source, "on_duplicate_worker": mode},
    )
    df = table.read(out / "labels.parquet")
    return {f: row for f, row in zip(df["file_id"], df.to_dict("records"), strict=True)}, summary


def check_accounting(summary: dict) -> None:
    for what in ("utterances", "annotations"):
        assert summary[f"{what}_kept"] + sum(summary[f"{what}_dropped"].values()) == summary[f"{what}_read"]


@pytest.mark.parametrize("source", SOURCES)
def test_keep_all_counts_every_row_as_a_vote(corpus, default_cfg, source):
    rows, summary = run(corpus, default_cfg, source, "keep_all")
    d1, d3 = rows["d1.wav"], rows["d3.wav"]
    assert list(d1["votes_primary"])[N] == 2 and list(d1["votes_primary"])[S] == 1
    assert d1["n_annotators"] == 3 and sum(d1["votes_primary"]) == 3
    assert list(d1["p_primary"])[N] == pytest.approx(2 / 3)
    assert list(d1["p_release_primary"])[N] == pytest.approx(2 / 3)
    assert list(d1["p_release_primary"])[S] == pytest.approx(1 / 3)
    # MH: 0.9 x (2/3, 1/3) + 0.1 x (Happy 1): the first W1 row's secondary, the second has none
    mh = np.array(d1["p_release_MH"])
    assert mh[[N, S, H]] == pytest.approx([0.6, 0.3, 0.1])
    assert d1["hard_guarded_release_MH"] == N  # two raw neutral votes pass the guard
    assert list(d3["votes_primary"])[H] == 3 and d3["n_annotators"] == 3
    assert list(d3["p_release_primary"])[H] == 1.0
    # d2: W1's invalid row is dropped, its valid row is its first: a single vote
    assert list(rows["d2.wav"]["votes_primary"])[A] == 2

    assert summary["duplicate_worker_rows_kept"] == 3  # d1: 1, d3: 2 (d9's rows are dropped with d9)
    assert summary["annotations_read"] == READ
    assert summary["annotations_kept"] == READ - 3
    assert summary["annotations_dropped"] == {"unknown_primary": 1, "file_not_in_consensus": 2}
    assert summary["annotators_per_utterance"]["max"] == 3
    assert summary["workers"] == 4  # distinct workers: W1, W2, W3, W5
    check_accounting(summary)


@pytest.mark.parametrize("source", SOURCES)
def test_keep_first_keeps_one_row(corpus, default_cfg, source):
    rows, summary = run(corpus, default_cfg, source, "keep_first")
    d1, d3 = rows["d1.wav"], rows["d3.wav"]
    assert list(d1["votes_primary"])[N] == 1 and d1["n_annotators"] == 2
    assert list(d1["p_release_primary"])[N] == pytest.approx(0.5)
    mh = np.array(d1["p_release_MH"])
    assert mh[[N, S, H]] == pytest.approx([0.45, 0.45, 0.1])
    assert d1["hard_guarded_release_MH"] == S  # one raw neutral vote: the guard fails
    assert list(d3["votes_primary"])[H] == 1 and d3["n_annotators"] == 1

    assert summary["duplicate_worker_rows_kept"] == 0
    assert summary["annotations_kept"] == READ - 6
    assert summary["annotations_dropped"] == {
        "duplicate_worker": 4,
        "unknown_primary": 1,
        "file_not_in_consensus": 1,
    }
    check_accounting(summary)


@pytest.mark.parametrize("source", SOURCES)
def test_error_stops_at_the_first_repeat(corpus, default_cfg, source):
    name = "labels.txt line 3" if source == "labels_txt" else "labels_detailed.csv line 3"
    with pytest.raises(LabelError, match=rf"{name}, column WorkerID: worker 'W1' rates 'd1.wav' twice"):
        run(corpus, default_cfg, source, "error")


@pytest.mark.parametrize("mode", ["keep_first", "keep_all"])
def test_both_sources_give_the_same_table(corpus, default_cfg, mode):
    (csv, s_csv), (txt, s_txt) = (run(corpus, default_cfg, source, mode) for source in SOURCES)
    assert csv.keys() == txt.keys()
    for f in csv:
        for column in table.list_columns(csv[f]):
            np.testing.assert_array_equal(csv[f][column], txt[f][column], err_msg=f"{f} {column}")
    for key in ("annotations_kept", "annotations_dropped", "duplicate_worker_rows_kept", "release"):
        assert s_csv[key] == s_txt[key]

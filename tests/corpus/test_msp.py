"""MSP-Podcast label file readers (sertools.corpus.msp): finding files, layouts, clear errors."""

from __future__ import annotations

import pytest
from conftest import write_corpus

from sertools.corpus.msp import (
    CorpusFormatError,
    canonical_split,
    label_files,
    read_label_files,
    read_labels,
)

CONSENSUS = [
    ["f1.wav", "A", 4.0, 3.0, 4.0, 1, "Male", "Train"],
    ["f2.wav", "N", 4.0, 4.0, 4.0, 2, "Female", "Validation"],
]
ANNOTATIONS = [
    ("f1.wav", "W1", "Angry", "Frustrated,Annoyed", 5, 2, 5),
    ("f1.wav", "W2", "Other-Concerned", "", 6, 2, 6),
    ("f2.wav", "W1", "Neutral", "", 4, 4, 4),
]


def test_label_files_prefers_csv_and_reads_like_read_labels(tmp_path):
    root = write_corpus(tmp_path, CONSENSUS, ANNOTATIONS)
    (root / "Labels" / "labels_detailed.json").write_text("{}")
    files = label_files(root)
    assert files == {
        "consensus": root / "Labels" / "labels_consensus.csv",
        "detailed": root / "Labels" / "labels_detailed.csv",
    }
    raw = read_label_files(files["consensus"], files["detailed"])
    ref = read_labels(root)
    assert raw.consensus.equals(ref.consensus) and raw.detailed.equals(ref.detailed)
    assert raw.detailed_layout == "2.0" and raw.consensus_path == files["consensus"]
    assert list(raw.detailed["primary"]) == ["Angry", "Other-Concerned", "Neutral"]
    assert list(raw.detailed["line"]) == [2, 3, 4]


@pytest.mark.parametrize("layout", ["1.11", "json"])
def test_every_detailed_layout_gives_the_same_rows(tmp_path, layout):
    ref = read_labels(write_corpus(tmp_path / "ref", CONSENSUS, ANNOTATIONS))
    raw = read_labels(write_corpus(tmp_path / layout, CONSENSUS, ANNOTATIONS, layout=layout))
    assert raw.detailed_layout == layout
    fields = ["file_id", "worker", "primary", "secondary", "act", "val", "dom"]
    got = raw.detailed[fields].astype(str).to_numpy().tolist()
    assert got == ref.detailed[fields].astype(str).to_numpy().tolist()


def test_read_label_files_names_a_missing_file(tmp_path):
    root = write_corpus(tmp_path, CONSENSUS, ANNOTATIONS)
    with pytest.raises(CorpusFormatError, match=r"labels_detailed\.csv: label file not found"):
        read_label_files(
            root / "Labels" / "labels_consensus.csv", root / "Labels" / "nope" / "labels_detailed.csv"
        )


def test_missing_label_file_names_the_directory(tmp_path):
    root = write_corpus(tmp_path, CONSENSUS, ANNOTATIONS)
    (root / "Labels" / "labels_detailed.csv").unlink()
    with pytest.raises(CorpusFormatError, match=r"neither labels_detailed\.csv nor labels_detailed\.json"):
        label_files(root)


def test_missing_column_names_file_and_column(tmp_path):
    header = ["FileName", "WorkerID", "EmoClass_Major", "EmoClass_Second", "EmoAct", "EmoVal"]
    write_corpus(tmp_path, CONSENSUS, ANNOTATIONS, detailed_header=header)
    with pytest.raises(CorpusFormatError, match=r"labels_detailed\.csv: required column 'EmoDom'"):
        read_labels(tmp_path)


def test_not_a_corpus(tmp_path):
    with pytest.raises(CorpusFormatError, match="no Labels/ directory"):
        read_labels(tmp_path)
    with pytest.raises(CorpusFormatError, match="no Labels/ directory"):
        label_files(tmp_path)


def test_invalid_json_names_file_and_position(tmp_path):
    root = write_corpus(tmp_path, CONSENSUS, ANNOTATIONS, layout="json")
    (root / "Labels" / "labels_detailed.json").write_text('{"f1.wav": {"W1": ')
    with pytest.raises(CorpusFormatError, match=r"labels_detailed\.json: invalid JSON at line 1"):
        read_labels(root)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("Validation", "Development"), ("dev", "Development"), ("train", "Train"), ("Test3", "Test3"), ("", "")],
)
def test_split_spellings(given, canonical):
    assert canonical_split(given) == canonical

"""MSP-Podcast label file readers (sertools.corpus.msp): finding files, layouts, clear errors."""

from __future__ import annotations

import labelfiles
import pytest
from labelfiles import write_corpus

from sertools.corpus.msp import (
    CorpusFormatError,
    canonical_split,
    find_label_file,
    find_labels_dir,
    label_files,
    read_label_files,
    read_labels,
    read_partitions,
)

#: the shared corpus's first two utterances: f1 (three workers) and f2 (two)
CONSENSUS = labelfiles.CONSENSUS[:2]
ANNOTATIONS = labelfiles.ANNOTATIONS[:5]


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
    assert list(raw.detailed["primary"]) == ["Angry", "Angry", "Sad", "Happy", "Neutral"]
    assert list(raw.detailed["line"]) == [2, 3, 4, 5, 6]


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
    with pytest.raises(
        CorpusFormatError, match=r"none of labels_detailed\.csv, labels_detailed\.json, labels\.txt"
    ):
        label_files(root)
    with pytest.raises(CorpusFormatError, match=r"neither labels_detailed\.csv nor labels_detailed\.json"):
        label_files(root, "labels_detailed")
    with pytest.raises(CorpusFormatError, match=r"Labels: labels\.txt not found \(labels\.detailed_source"):
        label_files(root, "labels_txt")
    with pytest.raises(ValueError, match="unknown detailed source 'txt'"):
        label_files(root, "txt")


def _labels_txt(root, annotations, secondary_slot=True):
    """Labels/labels.txt of ``annotations``: one block per file (header values are not used)."""
    blocks: dict[str, list[str]] = {}
    for f, wk, p, s, a, v, d in annotations:
        middle = f"{s}; " if s else ("; " if secondary_slot else "")
        blocks.setdefault(f, [f"{f}; N; A:4.000000; V:4.000000; D:4.000000;"]).append(
            f"{wk}; {p}; {middle}A:{a}; V:{v}; D:{d};"
        )
    (root / "Labels" / "labels.txt").write_text("\n\n".join("\n".join(b) for b in blocks.values()) + "\n")


def test_detailed_source_selects_the_file(tmp_path):
    root = write_corpus(tmp_path, CONSENSUS, ANNOTATIONS)
    _labels_txt(root, ANNOTATIONS)
    labels = root / "Labels"
    assert label_files(root)["detailed"] == labels / "labels_detailed.csv"  # auto prefers labels_detailed
    assert label_files(root, "labels_detailed")["detailed"] == labels / "labels_detailed.csv"
    assert label_files(root, "labels_txt")["detailed"] == labels / "labels.txt"
    (labels / "labels_detailed.csv").unlink()
    assert label_files(root)["detailed"] == labels / "labels.txt"  # auto falls back to labels.txt


@pytest.mark.parametrize("secondary_slot", [True, False])
def test_labels_txt_gives_the_same_rows_as_the_csv(tmp_path, secondary_slot):
    ref = read_labels(write_corpus(tmp_path, CONSENSUS, ANNOTATIONS))
    _labels_txt(tmp_path, ANNOTATIONS, secondary_slot)
    raw = read_labels(tmp_path, "labels_txt")
    assert raw.detailed_layout == "labels_txt" and raw.detailed_path.name == "labels.txt"
    assert raw.blocks == 2 and raw.bad_block_headers == () and raw.non_utf8_rows == 0
    fields = ["file_id", "worker", "primary", "secondary", "act", "val", "dom"]
    assert (
        raw.detailed[fields].astype(str).to_numpy().tolist()
        == ref.detailed[fields].astype(str).to_numpy().tolist()
    )
    assert list(raw.detailed["line"]) == [2, 3, 4, 7, 8] and not raw.detailed["malformed"].any()
    assert raw.detailed["raw"].iloc[0] == "W1; Angry; Frustrated,Annoyed; A:5; V:2; D:5;"
    assert raw.consensus.equals(ref.consensus)  # the consensus file is read as before


def test_labels_txt_bad_headers_and_bytes_are_reported(tmp_path):
    root = write_corpus(tmp_path, CONSENSUS, ANNOTATIONS)
    text = (
        "f1.wav; A; A:4; V:3; D:4;\nW1; Angry; ; A:5; V:2; D:5;\n\n"
        "f2.wav; N; A:4\nW1; Neutral; ; A:4; V:4; D:4;\n\n"
        "f3.wav; N; A:4; V:4; D:4;\nW1; Neutr\xff; ; A:4; V:4; D:4;\n"
    )
    (root / "Labels" / "labels.txt").write_bytes(text.encode("latin-1"))
    raw = read_labels(root, "labels_txt")
    assert raw.blocks == 3 and raw.bad_block_headers == ((4, "f2.wav; N; A:4"),)
    assert raw.detailed["malformed"].tolist() == [False, True, False]
    assert raw.detailed["file_id"].tolist() == ["f1.wav", "", "f3.wav"]
    assert raw.non_utf8_rows == 1


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


# --- issue 14: every release's folder and file names, partitions, EmoDetail by structure -----------


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("Labels", "labels_consensus.csv"),
        ("label", "labels_concensus.csv"),  # 1.6
        ("labels", "labels_concensus.csv"),  # 1.9
        ("LABELS", "LABELS_CONSENSUS.JSON"),
    ],
)
def test_label_folder_and_names_in_any_case_and_spelling(tmp_path, folder, name):
    labels = tmp_path / folder
    labels.mkdir()
    (labels / name).write_text("FileName,EmoClass,Split_Set\n")
    (labels / "Labels_Detailed.csv").write_text("FileName,EmoDetail\n")
    (labels / "LABELS.TXT").write_text("")
    assert label_files(tmp_path) == {"consensus": labels / name, "detailed": labels / "Labels_Detailed.csv"}
    assert label_files(tmp_path, "labels_txt")["detailed"] == labels / "LABELS.TXT"
    assert find_labels_dir(tmp_path) == labels


def test_the_correct_spelling_and_csv_win(tmp_path):
    labels = tmp_path / "Labels"
    labels.mkdir()
    for n in ("labels_concensus.csv", "labels_consensus.json", "labels_consensus.csv"):
        (labels / n).write_text("")
    assert find_label_file(labels, "labels_consensus") == labels / "labels_consensus.csv"
    (labels / "labels_consensus.csv").unlink()
    assert find_label_file(labels, "labels_consensus") == labels / "labels_concensus.csv"  # CSV before JSON


def test_two_names_differing_in_case_are_ambiguous(tmp_path):
    (tmp_path / "Labels").mkdir()
    (tmp_path / "labels").mkdir()
    if len(list(tmp_path.iterdir())) < 2:
        pytest.skip("case-insensitive file system")
    with pytest.raises(CorpusFormatError, match="differ only in case"):
        find_labels_dir(tmp_path)


def test_partitions_file(tmp_path):
    path = tmp_path / "Partitions.txt"
    path.write_text("Train; a.wav\nTest1;b.wav\n\nc.wav; Development\nsome header\n")
    assert read_partitions(path) == {"a.wav": "Train", "b.wav": "Test1", "c.wav": "Development"}
    path.write_text("Train; a.wav\nTest1; a.wav\n")
    with pytest.raises(CorpusFormatError, match=r"Partitions\.txt line 2: 'a\.wav' is listed twice"):
        read_partitions(path)
    path.write_text("nothing here\n")
    with pytest.raises(CorpusFormatError, match="no '<Split>; <FileName>' line"):
        read_partitions(path)


def test_emodetail_is_read_by_field_structure(tmp_path):
    root = write_corpus(tmp_path, CONSENSUS, ANNOTATIONS, layout="1.11")
    path = root / "Labels" / "labels_detailed.csv"
    path.write_text(
        "FileName,EmoDetail\n"
        'f1.wav,"WORKER00000001; Neutral; A:2.0; V:4.0; D:3.0;"\n'  # absent secondary (real 1.11/1.12 rows)
        'f1.wav,"WORKER00000002; Neutral; ; A:2.0; V:4.0; D:3.0;"\n'  # empty slot
        'f1.wav,"WORKER00000003; Sad; Other-so; so: tired, Happy; A:2.0; V:4.0; D:3.0;"\n'  # ; and : in a tag
        'f2.wav,"WORKER00000004; Neutral; A:2.0; V:4.0;"\n'  # no D: malformed, kept raw
    )
    raw = read_labels(root)
    det = raw.detailed
    assert raw.detailed_layout == "1.11"
    assert det["secondary"].tolist() == ["", "", "Other-so; so: tired, Happy", ""]
    assert det["primary"].tolist() == ["Neutral", "Neutral", "Sad", ""]
    assert det["malformed"].tolist() == [False, False, False, True]
    assert det["raw"].iloc[3] == "WORKER00000004; Neutral; A:2.0; V:4.0;"
    assert det["act"].tolist()[:3] == ["2.0"] * 3 and list(det["line"]) == [2, 3, 4, 5]

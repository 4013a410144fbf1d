"""Issue 14: every public MSP-Podcast release read as it really is, through the label stage.

Each test writes a small label directory by hand in the layout of a real release
(docs/msp_podcast_releases.md) and runs the stage the way ``sertools labels``
does: :func:`sertools.corpus.msp.label_files` finds the files, then
:func:`sertools.labels.build.run` reads them and writes the table. One test (or
parametrised group) per row of the issue's table.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from sertools import cli
from sertools.classes import CLASSES
from sertools.corpus.msp import CorpusFormatError, label_files
from sertools.labels import build, table

SAD, OTHER, NEUTRAL = (CLASSES.index(c) for c in ("Sad", "Other", "Neutral"))

CONSENSUS_HEADER = "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"
#: one utterance per used split: (file, consensus code, split)
UTTERANCES = [
    ("MSP-PODCAST_0001_0001.wav", "N", "Train"),
    ("MSP-PODCAST_0001_0002.wav", "S", "Development"),
    ("MSP-PODCAST_0002_0001.wav", "N", "Test1"),
    ("MSP-PODCAST_0003_0001.wav", "S", "Test2"),
]
#: (file, worker, primary, secondary, act, val, dom): every utterance gets two workers
WORKERS = [
    (f, f"WORKER0000000{j}", "Neutral" if code == "N" else "Sad", "", 3, 4, 3)
    for f, code, _ in UTTERANCES
    for j in (1, 2)
]


def consensus_csv(extra: str = "") -> str:
    rows = [f"{f},{code},3.0,4.0,3.0,{i},Male,{split}" for i, (f, code, split) in enumerate(UTTERANCES)]
    return "\n".join([CONSENSUS_HEADER, *rows]) + "\n" + extra


def detailed_20(workers=WORKERS) -> str:
    lines = ["FileName,WorkerID,EmoClass_Major,EmoClass_Second,EmoAct,EmoVal,EmoDom"]
    lines += [f'{f},{w},{p},"{s}",{a},{v},{d}' for f, w, p, s, a, v, d in workers]
    return "\n".join(lines) + "\n"


def emodetail_line(w, p, s, a, v, d) -> str:
    """A 1.11/1.12 EmoDetail value; an empty secondary is left out, as in the real files."""
    middle = f" {s};" if s else ""
    return f"{w}; {p};{middle} A:{a}.0; V:{v}.0; D:{d}.0;"


def detailed_111(workers=WORKERS, extra: tuple[str, ...] = ()) -> str:
    rows = [(f, emodetail_line(*rest)) for f, *rest in workers]
    lines = ["FileName,EmoDetail"]
    lines += [f'{f},"{detail}"' for f, detail in rows]
    return "\n".join([*lines, *extra]) + "\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def run(root: Path, cfg: dict, tmp_path: Path, evaluation_splits=None, **labels):
    section = {**cfg["labels"], **labels}
    out = tmp_path / "out"
    summary = build.run(
        label_files(root, section["detailed_source"]),
        {"table": out / "labels.parquet", "summary": out / "summary.json"},
        labels=section,
        evaluation_splits=evaluation_splits,
    )
    return table.read(out / "labels.parquet").set_index("file_id"), summary


def reference(tmp_path: Path, cfg: dict) -> pd.DataFrame:
    root = write(
        tmp_path / "ref",
        {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.csv": detailed_20()},
    )
    return run(root, cfg, tmp_path / "ref_out")[0]


# --- Test3 (no public labels): set aside before any check ------------------------------------------


def test_unlabelled_test3_rows_are_set_aside_before_any_check(tmp_path, default_cfg):
    test3 = "MSP-PODCAST_test3_0001.wav,,,,,Unknown,Unknown,Test3\n"
    broken = [("MSP-PODCAST_test3_0001.wav", "WORKER00000009", "Joyful", "", "x", 9, "")]
    root = write(
        tmp_path / "c",
        {
            "Labels/labels_consensus.csv": consensus_csv(test3),
            "Labels/labels_detailed.csv": detailed_20([*WORKERS, *broken]),
        },
    )
    for strict in ("drop", "error"):
        df, s = run(root, default_cfg, tmp_path / strict, on_invalid_annotation=strict)
        assert len(df) == 4 and "MSP-PODCAST_test3_0001.wav" not in df.index
        assert s["utterances_dropped"] == {"split_not_used:Test3": 1}
        assert s["annotations_dropped"] == {"split_not_used:Test3": 1}
        assert s["utterances_kept"] + 1 == s["utterances_read"] == 5
    pd.testing.assert_frame_equal(df, reference(tmp_path, default_cfg))


def test_splits_outside_evaluation_splits_are_set_aside(tmp_path, default_cfg):
    # Test2 is not evaluated: its rows are set aside unread, even with an unknown code
    text = consensus_csv().replace(",S,3.0,4.0,3.0,3,Male,Test2", ",?,3.0,4.0,3.0,3,Male,Test2")
    root = write(
        tmp_path / "c", {"Labels/labels_consensus.csv": text, "Labels/labels_detailed.csv": detailed_20()}
    )
    df, s = run(root, default_cfg, tmp_path, evaluation_splits=["Development", "Test1"])
    assert set(df["split"]) == {"Train", "Development", "Test1"}
    assert s["utterances_dropped"] == {"split_not_used:Test2": 1}
    assert s["annotations_dropped"] == {"split_not_used:Test2": 2}
    assert s["source"]["splits_used"] == ["Train", "Development", "Test1"]
    with pytest.raises(build.LabelError, match=r"unknown consensus code '\?'"):
        run(root, default_cfg, tmp_path / "all")  # Test2 is used by default: its code is checked


# --- EmoDetail (1.11/1.12) by field structure -------------------------------------------------------


def test_emodetail_without_a_secondary_field_keeps_its_votes(tmp_path, default_cfg):
    text = detailed_111()
    assert "WORKER00000001; Neutral; A:3.0; V:4.0; D:3.0;" in text  # the real spelling: no slot at all
    root = write(
        tmp_path / "c", {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.csv": text}
    )
    df, s = run(root, default_cfg, tmp_path)
    assert s["source"]["detailed_layout"] == "1.11" and s["annotations_dropped"] == {}
    pd.testing.assert_frame_equal(df, reference(tmp_path, default_cfg))


def test_emodetail_free_text_with_semicolons_and_colons(tmp_path, default_cfg):
    f = UTTERANCES[0][0]
    workers = [
        (f, "WORKER00000001", "Neutral", "Other-kind of; tired: sleepy", 3, 4, 3),
        (f, "WORKER00000002", "Other: bored", "Sad", 3, 4, 3),
        *WORKERS[2:],
    ]
    root = write(
        tmp_path / "c",
        {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.csv": detailed_111(workers)},
    )
    df, s = run(root, default_cfg, tmp_path)
    assert s["annotations_dropped"] == {}
    row = df.loc[f]
    assert row.votes_primary[NEUTRAL] == 1 and row.votes_primary[OTHER] == 1
    assert row.votes_merged[SAD] == 1  # the second worker's secondary, read whole


def test_unparseable_emodetail_is_counted_or_shown_raw(tmp_path, default_cfg):
    bad = f'{UTTERANCES[0][0]},"WORKER00000003; Neutral; A:3.0; V:4.0;"'
    root = write(
        tmp_path / "c",
        {
            "Labels/labels_consensus.csv": consensus_csv(),
            "Labels/labels_detailed.csv": detailed_111(extra=(bad,)),
        },
    )
    _, s = run(root, default_cfg, tmp_path)
    assert s["annotations_dropped"] == {"malformed_row": 1}
    with pytest.raises(
        build.LabelError,
        match=r"^labels_detailed\.csv line 10, column EmoDetail: the EmoDetail value does not match "
        r"'WORKER; primary; secondary; A:x; V:x; D:x;': 'WORKER00000003; Neutral; A:3\.0; V:4\.0;'$",
    ):
        run(root, default_cfg, tmp_path / "strict", on_invalid_annotation="error")


# --- secondary spellings ----------------------------------------------------------------------------


def test_dissapointed_is_disappointed(tmp_path, default_cfg):
    f = UTTERANCES[0][0]
    workers = [
        (f, "WORKER00000001", "Neutral", "Dissapointed", 3, 4, 3),
        (f, "WORKER00000002", "Neutral", "Bewildered", 3, 4, 3),
        *WORKERS[2:],
    ]
    root = write(
        tmp_path / "c",
        {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.csv": detailed_20(workers)},
    )
    df, s = run(root, default_cfg, tmp_path)
    merged = df.loc[f, "votes_merged"]
    assert merged[SAD] == 1  # disappointed -> Sad (labels.secondary_map), not Other
    assert merged[OTHER] == 1  # the unknown word still goes to Other ...
    assert s["secondary"]["unmapped_words"] == {"bewildered": 1}  # ... and is counted


# --- layouts and names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "consensus_name", "release"),
    [
        ("Labels", "labels_concensus.csv", "until 1.10"),
        ("label", "labels_concensus.csv", "1.6"),
        ("labels", "labels_concensus.csv", "1.9"),
        ("LABELS", "Labels_Consensus.CSV", "any case"),
        ("label", "labels_concensus.json", "JSON under the old name"),
    ],
)
def test_historical_folder_and_file_names_are_found(tmp_path, default_cfg, folder, consensus_name, release):
    text = consensus_csv()
    if consensus_name.lower().endswith(".json"):
        rows = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        text = json.dumps({r.pop("FileName"): r for r in rows.to_dict("records")})
    root = write(
        tmp_path / "c", {f"{folder}/{consensus_name}": text, f"{folder}/labels_detailed.csv": detailed_20()}
    )
    df, s = run(root, default_cfg, tmp_path)
    assert Path(s["source"]["consensus_file"]).name == consensus_name
    assert s["source"]["labels_dir"] == folder
    assert s["source"]["consensus_layout"] == ("json" if consensus_name.endswith(".json") else "csv")
    pd.testing.assert_frame_equal(df, reference(tmp_path, default_cfg))


def labels_txt(workers=WORKERS) -> str:
    blocks: dict[str, list[str]] = {}
    codes = {f: code for f, code, _ in UTTERANCES}
    for f, *rest in workers:
        blocks.setdefault(f, [f"{f}; {codes[f]}; A:3.000000; V:4.000000; D:3.000000;"]).append(
            emodetail_line(*rest)
        )
    return "\n\n".join("\n".join(b) for b in blocks.values()) + "\n"


PARTITIONS = "".join(f"{split}; {f}\n" for f, _, split in UTTERANCES)


def test_only_labels_txt_with_a_partition_file(tmp_path, default_cfg):
    root = write(tmp_path / "c", {"Labels/labels.txt": labels_txt(), "Partitions.txt": PARTITIONS})
    files = label_files(root)
    assert files == {
        "consensus": root / "Labels" / "labels.txt",
        "detailed": root / "Labels" / "labels.txt",
        "partitions": root / "Partitions.txt",
    }
    df, s = run(root, default_cfg, tmp_path)
    assert s["source"]["consensus_layout"] == "labels_txt" and s["source"]["detailed_layout"] == "labels_txt"
    assert s["source"]["partition_file"] == str(root / "Partitions.txt")
    ref = reference(tmp_path, default_cfg)
    # labels.txt carries no speaker or gender; everything else is the same
    pd.testing.assert_frame_equal(
        df.drop(columns=["speaker", "gender"]), ref.drop(columns=["speaker", "gender"])
    )


def test_only_labels_txt_without_a_partition_file_is_a_clear_error(tmp_path):
    root = write(tmp_path / "c", {"Labels/labels.txt": labels_txt()})
    with pytest.raises(CorpusFormatError, match=r"neither Partitions\.txt nor Partition\.txt found"):
        label_files(root)


# --- primary spellings of Other ---------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["Other_x", "Other x", "Others", "other-x", "Other (x)", "Other: x"])
def test_primary_other_spellings(tmp_path, default_cfg, spelling):
    f = UTTERANCES[0][0]
    workers = [(f, "WORKER00000001", spelling, "", 3, 4, 3), *WORKERS[1:]]
    root = write(
        tmp_path / "c",
        {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.csv": detailed_20(workers)},
    )
    df, s = run(root, default_cfg, tmp_path)
    assert s["annotations_dropped"] == {}
    assert df.loc[f, "votes_primary"][OTHER] == 1


def test_otherwise_is_not_other(tmp_path, default_cfg):
    f = UTTERANCES[0][0]
    workers = [(f, "WORKER00000001", "Otherwise", "", 3, 4, 3), *WORKERS[1:]]
    root = write(
        tmp_path / "c",
        {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.csv": detailed_20(workers)},
    )
    _, s = run(root, default_cfg, tmp_path)
    assert s["annotations_dropped"] == {"unknown_primary": 1}


# --- nothing kept: stop, never an empty table -------------------------------------------------------


def json_ratings_only() -> str:
    return json.dumps(
        {
            f: {w: {"EmoAct": a, "EmoVal": v, "EmoDom": d}}
            for f, w, _p, _s, a, v, d in WORKERS
            if w.endswith("1")
        }
    )


def test_detailed_json_without_classes_stops_naming_files_and_reasons(tmp_path, default_cfg):
    root = write(
        tmp_path / "c",
        {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.json": json_ratings_only()},
    )
    with pytest.raises(build.LabelError) as err:
        run(root, default_cfg, tmp_path)
    msg = str(err.value)
    assert "keeps no utterance of 4 read" in msg
    assert "utterances dropped: no_valid_annotations: 4" in msg
    assert "their 4 annotation row(s): unknown_primary: 4" in msg
    assert "4 of them with an empty or missing primary label (EmoClass_Major)" in msg
    assert (
        str(root / "Labels" / "labels_consensus.csv") in msg
        and str(root / "Labels" / "labels_detailed.json") in msg
    )
    assert not (tmp_path / "out" / "labels.parquet").exists()


def test_the_cli_exits_non_zero_on_nothing(tmp_path, capsys):
    root = write(
        tmp_path / "c",
        {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.json": json_ratings_only()},
    )
    out = tmp_path / "labels.parquet"
    code = cli.main(["labels", str(root), "--out", str(out), "--summary", str(tmp_path / "s.json")])
    assert code == 2 and not out.exists()
    assert "keeps no utterance" in capsys.readouterr().err


def test_a_needed_split_that_loses_every_utterance_stops(tmp_path, default_cfg):
    dev = UTTERANCES[1][0]
    workers = [(f, w, "Joyful" if f == dev else p, s, a, v, d) for f, w, p, s, a, v, d in WORKERS]
    root = write(
        tmp_path / "c",
        {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.csv": detailed_20(workers)},
    )
    with pytest.raises(
        build.LabelError,
        match=r"keeps no Development utterance of 1 read .*no_valid_annotations: 1; their 2 annotation row\(s\): "
        r"unknown_primary: 2",
    ):
        run(root, default_cfg, tmp_path)


# --- error mode: the row as written -----------------------------------------------------------------


def test_error_mode_shows_the_raw_row(tmp_path, default_cfg):
    f = UTTERANCES[0][0]
    workers = [(f, "WORKER00000001", "Neutral", "Sad", "NaN", 4, 3), *WORKERS[1:]]
    root = write(
        tmp_path / "csv",
        {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.csv": detailed_20(workers)},
    )
    with pytest.raises(
        build.LabelError,
        match=r"^labels_detailed\.csv line 2, column EmoAct: 'NaN' is missing or not a number; the row as "
        rf"written: '{f},WORKER00000001,Neutral,\"Sad\",NaN,4,3'$",
    ):
        run(root, default_cfg, tmp_path, on_invalid_annotation="error")
    data = {
        f: {
            "WORKER00000001": {
                "EmoClass_Major": "Joyful",
                "EmoClass_Second": "",
                "EmoAct": 3,
                "EmoVal": 4,
                "EmoDom": 3,
            }
        }
    }
    root = write(
        tmp_path / "json",
        {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.json": json.dumps(data)},
    )
    with pytest.raises(
        build.LabelError,
        match=r"column EmoClass_Major: 'Joyful' is not a known .*\"EmoClass_Major\": \"Joyful\"",
    ):
        run(root, default_cfg, tmp_path, on_invalid_annotation="error")
    workers = [(f, "WORKER00000001", "Joyful", "Sad", 3, 4, 3), *WORKERS[1:]]
    root = write(
        tmp_path / "111",
        {"Labels/labels_consensus.csv": consensus_csv(), "Labels/labels_detailed.csv": detailed_111(workers)},
    )
    with pytest.raises(
        build.LabelError,
        match=r"^labels_detailed\.csv line 2, column EmoDetail: primary 'Joyful' is not a known primary .*: "
        r"'WORKER00000001; Joyful; Sad; A:3\.0; V:4\.0; D:3\.0;'$",
    ):
        run(root, default_cfg, tmp_path, on_invalid_annotation="error")

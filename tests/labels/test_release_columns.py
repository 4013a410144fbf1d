"""The paper release's columns of the label table, through the whole label stage.

Five hand-written utterances, written both as a 2.0-layout labels_detailed.csv
and as labels.txt blocks, with distributions and hard labels computed by hand:
the release's word map (Concerned -> Sad, Confused dropped), 1/k secondary mass,
the MH/ML merge, ties broken by the release's order, and each part of the
neutral guard (raw votes, probability, margin).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from labelfiles import Annotation, workers, write_corpus

from sertools.classes import CLASSES
from sertools.labels import build, table
from sertools.labels.build import LabelError

I = {c: i for i, c in enumerate(CLASSES)}  # noqa: E741

CONSENSUS = [
    ["u1.wav", "N", 4.0, 4.0, 4.0, 1, "Male", "Train"],
    ["u2.wav", "X", 4.0, 4.0, 4.0, 2, "Female", "Train"],
    ["u3.wav", "N", 4.0, 4.0, 4.0, 3, "Male", "Development"],
    ["u4.wav", "N", 4.0, 4.0, 4.0, 4, "Female", "Test1"],
    ["u5.wav", "N", 4.0, 4.0, 4.0, 5, "Male", "Test2"],
]


def _workers(f: str, spec: list[tuple[str, str]]) -> list[Annotation]:
    return workers(f, spec, name="W{:02d}")


ANNOTATIONS = [
    # u1: N N N H S (+ an unknown primary, dropped by our validation before any rule sees it)
    *_workers(
        "u1.wav",
        [
            ("Neutral", "Concerned,Sad"),  # release: Concerned -> Sad, one class: Sad 1
            ("Neutral", ""),
            ("Happy", "Excited"),  # release: Happy 1 (equal to the primary, still counted)
            ("Neutral", "Confused"),  # release: dropped (no mass)
            ("Sad", ""),
            ("Bored", "Happy"),  # unknown primary: dropped (counted unknown_primary)
        ],
    ),
    # u2 (X): N A S, a three-way tie -> Sad by the release's tie order
    *_workers("u2.wav", [("Neutral", ""), ("Angry", ""), ("Sad", "Disappointed")]),
    # u3: one neutral vote only -> the guard fails; the worker listed twice keeps the first row
    ("u3.wav", "W01", "Neutral", "Happy", 4, 4, 4),
    ("u3.wav", "W01", "Sad", "", 4, 4, 4),
    # u4: N 5, A 4, S 2: margin 5/11 - 4/11 < 0.10 -> Angry
    *_workers("u4.wav", [("Neutral", "")] * 5 + [("Angry", "")] * 4 + [("Sad", "")] * 2),
    # u5: N 3, A 2, H 2, S 2: P(N) = 1/3 < 0.35 -> Sad (tie among A, H, S); Confused dropped
    *_workers(
        "u5.wav",
        [("Neutral", "")] * 3
        + [("Angry", "Confused"), ("Angry", "")]
        + [("Happy", "")] * 2
        + [("Sad", "")] * 2,
    ),
]


def vec(**mass: float) -> list[float]:
    v = [0.0] * len(CLASSES)
    for name, x in mass.items():
        v[I[name]] = x
    return v


# expected by hand: distributions, then hard labels (class names)
EXPECTED = {
    "u1.wav": {
        "p_release_primary": vec(Neutral=0.6, Happy=0.2, Sad=0.2),
        "p_release_secondary": vec(Sad=0.5, Happy=0.5),
        "p_release_MH": vec(Neutral=0.54, Happy=0.23, Sad=0.23),
        "p_release_ML": vec(Neutral=0.48, Happy=0.26, Sad=0.26),
        # ours: Concerned -> Other and Sad counted, Excited = own primary skipped, Confused -> Other
        "p_merged": vec(Neutral=3 / 8, Happy=1 / 8, Sad=2 / 8, Other=2 / 8),
        "hard_consensus_x_other": "Neutral",
        "hard_guarded_primary": "Neutral",
        "hard_guarded_merged": "Neutral",
        "hard_guarded_release_primary": "Neutral",
        "hard_guarded_release_MH": "Neutral",
        "hard_guarded_release_ML": "Neutral",
    },
    "u2.wav": {
        "p_release_primary": vec(Neutral=1 / 3, Angry=1 / 3, Sad=1 / 3),
        "p_release_secondary": vec(Sad=1.0),
        "p_release_MH": vec(Neutral=0.3, Angry=0.3, Sad=0.4),
        "p_release_ML": vec(Neutral=0.8 / 3, Angry=0.8 / 3, Sad=0.8 / 3 + 0.2),
        "p_merged": vec(Neutral=1 / 3, Angry=1 / 3, Sad=1 / 3),  # Disappointed = own primary, skipped
        "hard_consensus_x_other": "Other",
        "hard_guarded_primary": "Sad",  # tie: Sad before Angry, non-neutral before Neutral
        "hard_guarded_merged": "Sad",
        "hard_guarded_release_primary": "Sad",
        "hard_guarded_release_MH": "Sad",
        "hard_guarded_release_ML": "Sad",
    },
    "u3.wav": {
        "p_release_primary": vec(Neutral=1.0),
        "p_release_secondary": vec(Happy=1.0),
        "p_release_MH": vec(Neutral=0.9, Happy=0.1),
        "p_release_ML": vec(Neutral=0.8, Happy=0.2),
        "p_merged": vec(Neutral=0.5, Happy=0.5),
        "hard_consensus_x_other": "Neutral",
        "hard_guarded_primary": "Surprise",  # 1 neutral vote: best non-neutral even at probability 0
        "hard_guarded_merged": "Happy",  # a tie with Neutral: the non-neutral class first
        "hard_guarded_release_primary": "Surprise",
        "hard_guarded_release_MH": "Happy",
        "hard_guarded_release_ML": "Happy",
    },
    "u4.wav": {
        "p_release_primary": vec(Neutral=5 / 11, Angry=4 / 11, Sad=2 / 11),
        "p_release_secondary": vec(),
        "p_release_MH": vec(Neutral=5 / 11, Angry=4 / 11, Sad=2 / 11),
        "p_release_ML": vec(Neutral=5 / 11, Angry=4 / 11, Sad=2 / 11),
        "p_merged": vec(Neutral=5 / 11, Angry=4 / 11, Sad=2 / 11),
        "hard_consensus_x_other": "Neutral",
        "hard_guarded_primary": "Angry",  # margin 1/11 < 0.10
        "hard_guarded_merged": "Angry",
        "hard_guarded_release_primary": "Angry",
        "hard_guarded_release_MH": "Angry",
        "hard_guarded_release_ML": "Angry",
    },
    "u5.wav": {
        "p_release_primary": vec(Neutral=1 / 3, Angry=2 / 9, Happy=2 / 9, Sad=2 / 9),
        "p_release_secondary": vec(),
        "p_release_MH": vec(Neutral=1 / 3, Angry=2 / 9, Happy=2 / 9, Sad=2 / 9),
        "p_release_ML": vec(Neutral=1 / 3, Angry=2 / 9, Happy=2 / 9, Sad=2 / 9),
        "p_merged": vec(Neutral=0.3, Angry=0.2, Happy=0.2, Sad=0.2, Other=0.1),  # ours: Confused -> Other
        "hard_consensus_x_other": "Neutral",
        "hard_guarded_primary": "Sad",  # P(Neutral) = 1/3 < 0.35; Sad > Happy > Angry on a tie
        "hard_guarded_merged": "Sad",
        "hard_guarded_release_primary": "Sad",
        "hard_guarded_release_MH": "Sad",
        "hard_guarded_release_ML": "Sad",
    },
}


def write_labels_txt(root: Path, annotations, extra: dict[str, list[str]] | None = None) -> Path:
    """Labels/labels.txt of ``annotations`` in the real block layout.

    An empty secondary is written as an empty slot and as an absent field by
    turns; ``extra`` appends raw worker lines to a file's block.
    """
    blocks: dict[str, list[str]] = {}
    empty = 0
    for f, wk, p, s, a, v, d in annotations:
        if s:
            middle = f"{s}; "
        else:
            middle, empty = ("; " if empty % 2 else ""), empty + 1
        blocks.setdefault(f, [f"{f}; N; A:4.000000; V:4.000000; D:4.000000;"]).append(
            f"{wk}; {p}; {middle}A:{a}.0; V:{v}.0; D:{d}.0;"
        )
    for f, lines in (extra or {}).items():
        blocks[f].extend(lines)
    path = root / "Labels" / "labels.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join("\n".join(b) for b in blocks.values()) + "\n", encoding="utf-8")
    return path


def _run(root: Path, detailed: Path, cfg: dict, **labels) -> tuple[pd.DataFrame, dict]:
    out = root / "out"
    summary = build.run(
        {"consensus": root / "Labels" / "labels_consensus.csv", "detailed": detailed},
        {"table": out / "labels.parquet", "summary": out / "summary.json"},
        labels={**cfg["labels"], **labels},
    )
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    return table.read(out / "labels.parquet").set_index("file_id"), summary


@pytest.fixture(params=["labels_detailed", "labels_txt"])
def built(request, tmp_path, default_cfg) -> tuple[str, pd.DataFrame, dict]:
    root = write_corpus(tmp_path, CONSENSUS, ANNOTATIONS)
    if request.param == "labels_txt":
        detailed = write_labels_txt(root, ANNOTATIONS, {"u1.wav": ["W99; Neutral; A:1.0;"]})
    else:
        detailed = root / "Labels" / "labels_detailed.csv"
    df, summary = _run(root, detailed, default_cfg, detailed_source=request.param)
    return request.param, df, summary


@pytest.mark.parametrize("utterance", sorted(EXPECTED))
def test_distributions_and_hard_labels_by_hand(built, utterance):
    _, df, _ = built
    row = df.loc[utterance]
    for column, want in EXPECTED[utterance].items():
        if column.startswith("p_"):
            np.testing.assert_allclose(np.asarray(row[column]), want, atol=1e-12, err_msg=column)
        else:
            assert CLASSES[int(row[column])] == want, column


def test_release_columns_come_after_todays_in_order(built):
    _, df, _ = built
    assert list(df.reset_index().columns)[21:] == [
        "p_release_primary",
        "p_release_secondary",
        "p_release_MH",
        "p_release_ML",
        "hard_consensus_x_other",
        "hard_guarded_primary",
        "hard_guarded_merged",
        "hard_guarded_release_primary",
        "hard_guarded_release_MH",
        "hard_guarded_release_ML",
    ]
    # with no secondary mass the merged distributions are the primary one, up to the rounding of the
    # release's renormalising division (tests/labels/test_release_float_order.py)
    for f in ("u4.wav", "u5.wav"):
        np.testing.assert_allclose(
            df.loc[f, "p_release_MH"], df.loc[f, "p_release_primary"], rtol=0, atol=1e-15
        )
    # the release's primary distribution is ours where every primary is a class name
    np.testing.assert_array_equal(table.matrix(df, "p_release_primary"), table.matrix(df, "p_primary"))


def test_summary_release_block(built):
    source, _, summary = built
    rel = summary["release"]
    assert rel["merged_weights"] == {
        "MH": {"primary": 0.9, "secondary": 0.1},
        "ML": {"primary": 0.8, "secondary": 0.2},
    }
    assert rel["utterances_without_secondary"] == {
        "all": 2,
        "Train": 0,
        "Development": 0,
        "Test1": 1,
        "Test2": 1,
    }
    assert rel["secondary_words_dropped"] == {"confused": 2} and rel["secondary_word_count_dropped"] == 2
    totals = rel["hard_label_totals"]
    assert set(totals) == {c for c in EXPECTED["u1.wav"] if c.startswith("hard_")}
    guarded = totals["hard_guarded_primary"]
    assert {c: n for c, n in guarded["all"].items() if n} == {
        "Neutral": 1,
        "Sad": 2,
        "Surprise": 1,
        "Angry": 1,
    }
    assert {c: n for c, n in guarded["Train"].items() if n} == {"Neutral": 1, "Sad": 1}
    assert {c: n for c, n in totals["hard_consensus_x_other"]["all"].items() if n} == {
        "Neutral": 4,
        "Other": 1,
    }
    dropped = {"unknown_primary": 1, "duplicate_worker": 1}
    if source == "labels_txt":
        dropped["malformed_row"] = 1
        assert summary["source"]["detailed_layout"] == "labels_txt"
        assert summary["source"]["blocks"] == 5 and summary["source"]["blocks_with_bad_header"] == 0
    else:
        assert summary["source"]["detailed_layout"] == "2.0" and "blocks" not in summary["source"]
    assert summary["annotations_dropped"] == dropped
    assert summary["annotations_kept"] == len(ANNOTATIONS) - 2


def test_merge_weights_come_from_the_config(tmp_path, default_cfg):
    root = write_corpus(tmp_path, CONSENSUS, ANNOTATIONS)
    weights = {"M50": {"primary": 1.0, "secondary": 1.0}}
    df, summary = _run(
        root, root / "Labels" / "labels_detailed.csv", default_cfg, release_merged_weights=weights
    )
    assert "p_release_MH" not in df.columns and "hard_guarded_release_MH" not in df.columns
    np.testing.assert_allclose(list(df.loc["u3.wav", "p_release_M50"]), vec(Neutral=0.5, Happy=0.5))
    assert CLASSES[df.loc["u3.wav", "hard_guarded_release_M50"]] == "Happy"
    assert list(summary["release"]["merged_weights"]) == ["M50"]
    with pytest.raises(
        LabelError, match=r"labels\.release_merged_weights\.Z: primary and secondary weights are both 0"
    ):
        _run(
            root,
            root / "Labels" / "labels_detailed.csv",
            default_cfg,
            release_merged_weights={"Z": {"primary": 0, "secondary": 0}},
        )


# --- labels.txt: malformed lines and bad headers, counted or shown -----------------------------------


def test_labels_txt_errors_show_file_line_and_text(tmp_path, default_cfg):
    root = write_corpus(tmp_path, CONSENSUS, ANNOTATIONS)
    strict = {"detailed_source": "labels_txt", "on_invalid_annotation": "error"}
    path = write_labels_txt(root, ANNOTATIONS, {"u2.wav": ["W99; Neutral; A:1.0;"]})
    line = path.read_text().splitlines().index("W99; Neutral; A:1.0;") + 1
    with pytest.raises(
        LabelError,
        match=rf"^labels\.txt line {line}: the worker line does not match 'WORKER; primary; secondary; "
        rf"A:x; V:x; D:x;': 'W99; Neutral; A:1\.0;'$",
    ):
        _run(root, path, default_cfg, **strict)
    known = [a for a in ANNOTATIONS if a[2] != "Bored"]  # else the unknown primary is the first problem
    path = write_labels_txt(root, known, {"u2.wav": ["W98; Sad; Happy; A:9; V:2; D:2;"]})
    with pytest.raises(
        LabelError,
        match=r"^labels\.txt line \d+: A: '9' is outside the 1-7 rating scale: 'W98; Sad; Happy; A:9; V:2; D:2;'$",
    ):
        _run(root, path, default_cfg, **strict)
    path = write_labels_txt(root, ANNOTATIONS)
    text = path.read_text().replace("u3.wav; N; A:4.000000; V:4.000000; D:4.000000;", "u3.wav; N; A:4")
    path.write_text(text)
    with pytest.raises(
        LabelError, match=r"^labels\.txt line \d+: block header 'u3\.wav; N; A:4' does not match"
    ):
        _run(root, path, default_cfg, **strict)
    # dropped and counted otherwise ... unless that empties a split: u3 is the only Development utterance
    with pytest.raises(LabelError, match=r"keeps no Development utterance of 1 read .*no_annotations: 1"):
        _run(root, path, default_cfg, detailed_source="labels_txt")
    # u2's lines are malformed, u2 has no valid annotation; u1 keeps Train alive
    path = write_labels_txt(root, ANNOTATIONS)
    text = path.read_text().replace("u2.wav; N; A:4.000000; V:4.000000; D:4.000000;", "u2.wav; N; A:4")
    path.write_text(text)
    df, summary = _run(root, path, default_cfg, detailed_source="labels_txt")
    assert "u2.wav" not in df.index and summary["source"]["blocks_with_bad_header"] == 1
    assert summary["annotations_dropped"]["malformed_row"] == 3
    assert summary["utterances_dropped"] == {"no_annotations": 1}


def test_the_detailed_input_must_match_detailed_source(tmp_path, default_cfg):
    root = write_corpus(tmp_path, CONSENSUS, ANNOTATIONS)
    txt = write_labels_txt(root, ANNOTATIONS)
    csv = root / "Labels" / "labels_detailed.csv"
    with pytest.raises(
        LabelError, match=r"detailed_source is labels_txt, so the detailed labels must be labels\.txt"
    ):
        _run(root, csv, default_cfg, detailed_source="labels_txt")
    with pytest.raises(
        LabelError, match=r"detailed_source is labels_detailed, so .* labels_detailed\.csv or \.json"
    ):
        _run(root, txt, default_cfg, detailed_source="labels_detailed")
    for detailed in (csv, txt):  # auto takes either
        _run(root, detailed, default_cfg, detailed_source="auto")

"""The label stage (sertools.labels.build): vote counting on hand-computed cases, every
layout alike, bad rows dropped and counted or named."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from labelfiles import ANNOTATIONS, CONSENSUS, ONE_ROW_PER_WORKER, write_corpus

from sertools.classes import CLASSES
from sertools.corpus.msp import label_files, read_labels
from sertools.labels import build, table

A, S, H, N, OTH = (CLASSES.index(c) for c in ("Angry", "Sad", "Happy", "Neutral", "Other"))
# the corpus: labelfiles.CONSENSUS and ANNOTATIONS (utterances f1-f4, each case noted there)


def _build(tmp_path, cfg, layout="2.0", **kw):
    write_corpus(tmp_path, CONSENSUS, ANNOTATIONS, layout=layout, **kw)
    return build.build_labels(read_labels(tmp_path), cfg["labels"])


def _row(df, f):
    return df.set_index("file_id").loc[f]


def test_hand_counted_votes(tmp_path, default_cfg):
    df, summary = _build(tmp_path, default_cfg)
    f1 = _row(df, "f1.wav")
    assert list(f1.votes_primary) == [2, 1, 0, 0, 0, 0, 0, 0, 0]
    # W1's secondaries both map to Angry = its own primary: skipped; W3: Sad skipped, Angry counted
    assert list(f1.votes_merged) == [3, 1, 0, 0, 0, 0, 0, 0, 0]
    assert f1.hard_label == A and f1.consensus == "A" and f1.plurality == "A"
    assert f1.n_annotators == 3
    h = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)) / math.log(9)
    assert f1.entropy_primary == pytest.approx(h)
    assert f1.arousal == pytest.approx(5.0) and f1.arousal_sd == pytest.approx(1.0)

    f2 = _row(df, "f2.wav")
    assert pd.isna(f2.hard_label) and f2.consensus == "X" and f2.plurality == "X"
    assert list(f2.p_primary)[H] == 0.5 and list(f2.p_primary)[N] == 0.5
    # "Bored" is unmapped -> Other, counted
    assert list(f2.votes_merged)[OTH] == 1
    assert summary["secondary"]["unmapped_words"] == {"bored": 1}

    f3 = _row(df, "f3.wav")
    assert list(f3.votes_primary)[OTH] == 3 and list(f3.votes_primary)[H] == 1
    # W1 Concerned -> Other = own primary (skipped); W3 "Happy,Happy" is one Happy mention
    assert list(f3.votes_merged)[H] == 2 and list(f3.votes_merged)[OTH] == 3

    f4 = _row(df, "f4.wav")
    assert list(f4.votes_primary)[N] == 2 and sum(f4.votes_primary) == 2  # W1's second row dropped
    assert summary["annotations_dropped"] == {"duplicate_worker": 1}
    for col in ("p_primary", "p_merged"):
        np.testing.assert_allclose(table.matrix(df, col).sum(axis=1), 1.0)


def test_secondary_switches(tmp_path, default_cfg):
    cfg = default_cfg
    cfg["labels"]["count_secondary_equal_to_primary"] = True
    cfg["labels"]["secondary_weight"] = 0.5
    df, _ = _build(tmp_path, cfg)
    # primary [2,1] + 0.5 x (W1 Angry, W3 Sad, W3 Angry) = [3, 1.5]
    assert list(_row(df, "f1.wav").votes_merged)[:2] == [3.0, 1.5]


def test_all_layouts_agree(tmp_path, default_cfg):
    # JSON keys workers by id, so it cannot hold the duplicated worker row: leave it out
    tables = {}
    for layout in ("2.0", "1.11", "json"):
        write_corpus(tmp_path / layout, CONSENSUS, ONE_ROW_PER_WORKER, layout=layout)
        tables[layout], summary = build.build_labels(read_labels(tmp_path / layout), default_cfg["labels"])
        assert summary["source"]["detailed_layout"] == layout
    for layout in ("1.11", "json"):
        pd.testing.assert_frame_equal(tables["2.0"], tables[layout])


def test_columns_by_name_any_order_extra_ignored(tmp_path, default_cfg):
    header = [
        "EmoDom",
        "Timestamp",
        "WorkerID",
        "EmoClass_Second",
        "FileName",
        "EmoAct",
        "EmoClass_Major",
        "EmoVal",
    ]
    df, _ = _build(tmp_path / "a", default_cfg, detailed_header=header)
    ref, _ = _build(tmp_path / "b", default_cfg)
    pd.testing.assert_frame_equal(df, ref)


def test_bom_and_crlf(tmp_path, default_cfg):
    df, _ = _build(tmp_path / "a", default_cfg, bom=True, newline="\r\n")
    ref, _ = _build(tmp_path / "b", default_cfg)
    pd.testing.assert_frame_equal(df, ref)


BAD_ROWS = [
    (("f1.wav", "W9", "Joyful", "", 4, 4, 4), "unknown_primary", "column EmoClass_Major: 'Joyful'"),
    (("f1.wav", "W9", "Happy", "", "abc", 4, 4), "non_numeric_rating", "column EmoAct: 'abc'"),
    (("f1.wav", "W9", "Happy", "", 4, 9, 4), "rating_out_of_range", "column EmoVal: '9'"),
    (("f1.wav", "W9", "Happy", "", 4, 4, ""), "non_numeric_rating", "column EmoDom: ''"),
]


@pytest.mark.parametrize(("row", "reason", "message"), BAD_ROWS)
def test_bad_annotation_dropped_or_error(tmp_path, default_cfg, row, reason, message):
    write_corpus(tmp_path, CONSENSUS, [*ANNOTATIONS, row])
    raw = read_labels(tmp_path)
    df, summary = build.build_labels(raw, default_cfg["labels"])
    assert summary["annotations_dropped"][reason] == 1
    assert summary["annotations_read"] == len(ANNOTATIONS) + 1
    assert _row(df, "f1.wav").n_annotators == 3
    default_cfg["labels"]["on_invalid_annotation"] = "error"
    line = len(ANNOTATIONS) + 2  # header is line 1
    with pytest.raises(build.LabelError, match=rf"labels_detailed\.csv line {line}, {message}"):
        build.build_labels(raw, default_cfg["labels"])


def test_duplicate_worker_error(tmp_path, default_cfg):
    default_cfg["labels"]["on_duplicate_worker"] = "error"
    with pytest.raises(build.LabelError, match=r"line 12, column WorkerID: worker 'W1' rates 'f4.wav' twice"):
        _build(tmp_path, default_cfg)


def test_unmatched_utterances(tmp_path, default_cfg):
    consensus = [*CONSENSUS, ["f5.wav", "N", 4, 4, 4, 5, "Male", "Train"]]
    annotations = [*ANNOTATIONS, ("f6.wav", "W1", "Happy", "", 4, 4, 4)]
    write_corpus(tmp_path, consensus, annotations)
    raw = read_labels(tmp_path)
    df, s = build.build_labels(raw, default_cfg["labels"])
    assert set(df.file_id) == {"f1.wav", "f2.wav", "f3.wav", "f4.wav"}
    assert s["utterances_read"] == 6
    assert s["utterances_dropped"] == {"no_annotations": 1, "not_in_consensus": 1}
    assert s["annotations_dropped"] == {"duplicate_worker": 1, "file_not_in_consensus": 1}
    default_cfg["labels"]["on_unmatched_utterance"] = "error"
    with pytest.raises(
        build.LabelError, match=r"f6\.wav' has annotations but is not in labels_consensus\.csv"
    ):
        build.build_labels(raw, default_cfg["labels"])


def test_unknown_consensus_code_is_an_error(tmp_path, default_cfg):
    consensus = [*CONSENSUS, ["f5.wav", "Q", 4, 4, 4, 5, "Male", "Train"]]
    write_corpus(tmp_path, consensus, ANNOTATIONS)
    with pytest.raises(
        build.LabelError, match=r"labels_consensus\.csv line 6, column EmoClass: unknown consensus code 'Q'"
    ):
        build.build_labels(read_labels(tmp_path), default_cfg["labels"])


def test_min_annotators_and_unused_split(tmp_path, default_cfg):
    # f2 (Development) and f4 (Test2) have 2 valid annotators; d2 and e2 keep those splits alive
    consensus = [
        *CONSENSUS,
        ["t3.wav", "N", 4, 4, 4, 5, "Male", "Test3"],
        ["d2.wav", "N", 4, 4, 4, 6, "Male", "Development"],
        ["e2.wav", "N", 4, 4, 4, 7, "Male", "Test2"],
    ]
    three = [(f, w, "Neutral", "", 4, 4, 4) for f in ("d2.wav", "e2.wav") for w in ("W1", "W2", "W3")]
    annotations = [*ANNOTATIONS, ("t3.wav", "W1", "Neutral", "", 4, 4, 4), *three]
    write_corpus(tmp_path, consensus, annotations)
    default_cfg["labels"]["min_annotators"] = 3
    df, s = build.build_labels(read_labels(tmp_path), default_cfg["labels"])
    assert set(df.file_id) == {"f1.wav", "f3.wav", "d2.wav", "e2.wav"}
    assert s["utterances_dropped"] == {"fewer_than_min_annotators": 2, "split_not_used:Test3": 1}
    # Test3's row is set aside (by split) before it is looked at
    assert s["annotations_dropped"]["utterance_dropped"] == 2 + 2
    assert s["annotations_dropped"]["split_not_used:Test3"] == 1
    for what in ("utterances", "annotations"):
        assert s[f"{what}_kept"] + sum(s[f"{what}_dropped"].values()) == s[f"{what}_read"]
    # without d2, no Development utterance is left: the stage stops instead of writing the table
    write_corpus(tmp_path, consensus[:-2], annotations[: -len(three)])
    with pytest.raises(
        build.LabelError,
        match=r"keeps no Development, Test2 utterance of 2 read .*fewer_than_min_annotators: 2",
    ):
        build.build_labels(read_labels(tmp_path), default_cfg["labels"])


def test_summary_contents(tmp_path, default_cfg):
    _, s = _build(tmp_path, default_cfg)
    assert s["class_distribution"]["all"]["consensus"]["X"] == 1
    assert s["class_distribution"]["Train"]["vote_mass_primary"]["Angry"] == pytest.approx(2 / 3)
    assert sum(s["entropy_histogram"]["all"]["primary"]) == 4
    assert set(s["reliability"]["krippendorff_alpha_interval"]) == {"arousal", "valence", "dominance"}
    assert s["consensus_vs_plurality"] == {"agree": 4, "disagree": 0}


def test_run_writes_parquet_and_summary(tmp_path, default_cfg):
    corpus = write_corpus(tmp_path / "c", CONSENSUS, ANNOTATIONS)
    out, summ = tmp_path / "o" / "labels.parquet", tmp_path / "o" / "summary.json"
    build.run(label_files(corpus), {"table": out, "summary": summ}, labels=default_cfg["labels"])
    back = pd.read_parquet(out)
    assert list(back.columns[:5]) == ["file_id", "split", "speaker", "gender", "consensus"]
    assert back["hard_label"].dtype == "Int64"
    np.testing.assert_allclose(table.matrix(back, "p_primary").sum(axis=1), 1.0)
    assert json.loads(summ.read_text())["utterances_kept"] == 4


def test_synthetic_corpus_reads_back(tmp_path, default_cfg):
    from sertools.corpus.synthetic import generate as synth  # a test may cross layers

    synth.generate(tmp_path, utterances=40, seed=5, labels_only=True)
    df, s = build.build_labels(read_labels(tmp_path), default_cfg["labels"])
    assert s["utterances_read"] == s["utterances_kept"] == 40 and s["utterances_dropped"] == {}
    assert s["annotations_dropped"] == {} and s["annotations_read"] == s["annotations_kept"]
    assert s["consensus_vs_plurality"]["disagree"] == 0  # the generator's consensus is the plurality
    assert set(df["split"]) == {"Train", "Development", "Test1", "Test2"}
    assert (df["n_annotators"] >= 5).all()


def test_consensus_json_reads_like_csv(tmp_path, default_cfg):
    ref, _ = _build(tmp_path / "csv", default_cfg)
    root = write_corpus(tmp_path / "json", CONSENSUS, ANNOTATIONS)
    cons = root / "Labels" / "labels_consensus.csv"
    rows = pd.read_csv(cons, dtype=str, keep_default_na=False)
    data = {r.pop("FileName"): r for r in rows.to_dict("records")}
    (root / "Labels" / "labels_consensus.json").write_text(json.dumps(data))
    cons.unlink()
    df, s = build.build_labels(read_labels(root), default_cfg["labels"])
    assert s["source"]["consensus_file"].endswith("labels_consensus.json")
    pd.testing.assert_frame_equal(df, ref)


def test_limit_per_split_keeps_the_first_by_file_id_and_counts_the_rest(tmp_path, default_cfg):
    """A smoke run's label table: at most N utterances per split, the first by file id; the
    others are counted drops, so kept + dropped = read still holds."""
    from sertools.corpus.synthetic.generate import generate

    generate(tmp_path / "c", 60, 3, labels_only=True)
    raw = read_labels(tmp_path / "c")
    full, full_summary = build.build_labels(raw, default_cfg["labels"])
    cfg = {**default_cfg["labels"], "limit_per_split": 4}
    df, summary = build.build_labels(raw, cfg)
    for split, group in full.groupby("split"):
        expected = sorted(group["file_id"])[:4]
        assert sorted(df.loc[df["split"] == split, "file_id"]) == expected, split
    beyond = summary["utterances_dropped"]["beyond_limit_per_split"]
    assert beyond == len(full) - len(df) > 0
    assert (
        summary["utterances_kept"] + sum(summary["utterances_dropped"].values()) == summary["utterances_read"]
    )
    assert full_summary["utterances_read"] == summary["utterances_read"]

"""The CREMA-D label stage: its table, statistics, per-rater responses and bad input (docs/bad_input.md).

Every download is written by tests/cremad.py; its voice counts (cremad.CLIPS) are counted here by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cremad import CLIPS, default_votes, responses_for, settings, vote_row, write_download

from sertools.cli import main
from sertools.corpus.crema_d import read_crema_d
from sertools.labels import crema_d, crema_d_table, reliability
from sertools.labels.build import LabelError

STEMS = [name for name, _ in CLIPS]


def build(root: Path, **over: object) -> tuple[pd.DataFrame, dict]:
    return crema_d.build_labels(read_crema_d(root), settings(**over))


def test_the_voice_table(tmp_path: Path):
    df, s = build(write_download(tmp_path / "c"))
    assert df["file_id"].tolist() == sorted(STEMS)
    row = df.set_index("file_id").loc["1001_IEO_ANG_HI"]
    assert list(row["votes"]) == [6, 1, 0, 0, 2, 0] and row["n_responses"] == 9
    assert row["consensus"] == "A" and row["hard_label"] == 0 and row["agreement"] == pytest.approx(6 / 9)
    assert (row["intended"], row["intended_level"], row["sentence"]) == ("A", "HI", "IEO")
    assert (row["speaker"], row["sex"], row["age"], row["modality"], row["clip"]) == (
        "1001",
        "Male",
        51.0,
        "voice",
        1,
    )
    np.testing.assert_allclose(row["p_votes"], np.array([6, 1, 0, 0, 2, 0]) / 9)
    p = np.array([6, 1, 2]) / 9
    assert row["entropy"] == pytest.approx(-(p * np.log(p)).sum() / np.log(6))
    # the tie A:D: no consensus (X), no hard label, the tied classes kept as written
    tie = df.set_index("file_id").loc["1001_TIE_DIS_XX"]
    assert (tie["consensus"], tie["emo_vote"]) == ("X", "A:D") and pd.isna(tie["hard_label"])
    hap = df.set_index("file_id").loc["1001_IEO_HAP_LO"]
    assert (hap["consensus"], hap["intended"]) == ("N", "H")
    assert s["utterances_read"] == s["utterances_kept"] == 7 and s["utterances_dropped"] == {}
    assert s["rows_read"] == 21 and s["rows_of_other_modalities"] == 14 and s["ties_kept"] == 1
    assert s["classes"] == ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad"]
    # one actor, one split
    assert df.groupby("speaker")["split"].nunique().max() == 1
    crema_d_table.validate(df)


def test_statistics_of_the_voice_votes(tmp_path: Path):
    _, s = build(write_download(tmp_path / "c"))
    st = s["statistics"]["voice"]
    assert st["clips"] == 7 and st["responses"] == 66
    assert st["responses_matching_intended"] == pytest.approx(42 / 66)  # 6+3+4+7+5+9+8
    assert st["plurality_matching_intended"] == pytest.approx(5 / 6)  # the tie left out; HAP_LO heard as N
    assert st["ties"] == {"clips": 1, "share": pytest.approx(1 / 7), "by_classes_tied": {"2": 1}}
    counts = np.array([c for _, c in CLIPS])
    assert st["fleiss_kappa"]["kappa"] == pytest.approx(reliability.fleiss_kappa(counts))
    assert st["fleiss_kappa"]["clips_used"] == 7
    assert sum(st["entropy"]["histogram"]["counts"]) == 7 and len(st["entropy"]["histogram"]["edges"]) == 11
    assert set(s["statistics"]) == {"voice", "face", "audiovisual"}


def test_fleiss_kappa_with_unequal_raters_by_hand():
    # two clips: 3 raters all A; 2 raters A and D. P_1 = 1, P_2 = 0; p = (4/5, 1/5): Pe = 0.68
    st = crema_d.vote_statistics(np.array([[3, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]]), np.array([0, 1]))
    assert st["fleiss_kappa"]["kappa"] == pytest.approx((0.5 - 0.68) / (1 - 0.68))
    assert st["responses_matching_intended"] == pytest.approx(4 / 5)
    # per intended emotion: Angry 3 of 3, Disgust 1 of 2; their mean weighs each emotion once
    by_class = st["responses_matching_intended_by_class"]
    assert by_class["Angry"] == 1.0 and by_class["Disgust"] == 0.5 and by_class["Sad"] is None
    assert st["responses_matching_intended_class_mean"] == pytest.approx(0.75)
    assert st["clips_by_intended_class"] == {
        "Angry": 1,
        "Disgust": 1,
        "Fear": 0,
        "Happy": 0,
        "Neutral": 0,
        "Sad": 0,
    }


def test_modality_is_a_setting(tmp_path: Path):
    df, s = build(write_download(tmp_path / "c"), modality="face")
    assert s["modality"] == "face" and set(df["modality"]) == {"face"}
    # face counts are the voice counts rotated by one (tests/cremad.py)
    assert np.asarray(df.set_index("file_id").at["1001_IEO_ANG_HI", "votes"]).tolist() == [1, 0, 0, 2, 0, 6]


def test_write_and_read_back(tmp_path: Path):
    df, _ = build(write_download(tmp_path / "c", responses=responses_for()))
    crema_d_table.write(df, tmp_path / "t.parquet")
    back = crema_d_table.read(tmp_path / "t.parquet")
    assert back["file_id"].tolist() == df["file_id"].tolist()
    assert [list(v) for v in back["votes"]] == [list(v) for v in df["votes"]]
    assert [list(v) for v in back["rater_votes"]] == [list(v) for v in df["rater_votes"]]


def test_the_msp_table_reader_refuses_a_crema_d_table(tmp_path: Path):
    from sertools.labels import table

    df, _ = build(write_download(tmp_path / "c"))
    crema_d_table.write(df, tmp_path / "t.parquet")
    with pytest.raises(table.LabelTableError, match=r"a crema_d label table .* not MSP-Podcast's 9-class"):
        table.read(tmp_path / "t.parquet")


def test_an_msp_table_is_not_read_as_crema_d(tmp_path: Path):
    pd.DataFrame({"file_id": ["a"]}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(crema_d_table.CremaDTableError, match="not a CREMA-D label table"):
        crema_d_table.read(tmp_path / "t.parquet")


def test_per_rater_responses(tmp_path: Path):
    rows = responses_for()
    rows.insert(0, ["r01", 1, 2, 1, "1001_IEO_ANG_HI", "A", 50, "ANG"])  # r01's face response: no repeat
    rows.append(["r99", 1, 1, 1, "1001_IEO_ANG_HI", "Q", 50, "ANG"])  # unknown class
    rows.append(["r01", 1, 1, 1, "1001_IEO_ANG_HI", "N", 50, "ANG"])  # r01 again on clip 1
    rows.append(["r98", 1, 1, 1, "1001_IEO_ANG_HI", "A", 150, "ANG"])  # level outside 0-100
    rows.append(["r97", 1, 1, 77, "1009_IEO_ANG_HI", "A", 50, "ANG"])  # no such clip
    df, s = build(write_download(tmp_path / "c", responses=rows))
    row = df.set_index("file_id").loc["1001_IEO_ANG_HI"]
    assert len(row["raters"]) == len(row["rater_votes"]) == len(row["rater_levels"]) == 9
    assert np.bincount(row["rater_votes"], minlength=6).tolist() == [6, 1, 0, 0, 2, 0]
    r = s["responses"]
    assert r["responses_read"] == len(rows) and r["responses_kept"] == 66
    assert r["responses_dropped"] == {
        "duplicate_rater": 1,
        "level_out_of_range": 1,
        "modality_not_used": 1,
        "unknown_class": 1,
        "unknown_clip": 1,
    }
    assert r["clips_whose_responses_differ_from_votes"] == 0


# ----------------------------------------------------------------------------- bad input


def _votes_with(index: int, row: list[object]) -> list[list[object]]:
    votes = default_votes()
    votes[index] = row
    return votes


BAD_ROWS = {
    # reason: the voice row of clip 2 replaced
    "counts_do_not_sum": [100002, 0, 0, 0, 3, 6, 0, "1001_IEO_HAP_LO", 10, 0.6, "N", 50],
    "unknown_class_in_emo_vote": [100002, 0, 0, 0, 3, 6, 0, "1001_IEO_HAP_LO", 9, 0.6, "N:Q", 50],
    "emo_vote_mismatch": [100002, 0, 0, 0, 3, 6, 0, "1001_IEO_HAP_LO", 9, 0.6, "H", 50],
    "non_numeric_count": [100002, 0, 0, 0, "three", 6, 0, "1001_IEO_HAP_LO", 9, 0.6, "N", 50],
    "malformed_row_id": [400002, 0, 0, 0, 3, 6, 0, "1001_IEO_HAP_LO", 9, 0.6, "N", 50],
}


@pytest.mark.parametrize("reason", sorted(BAD_ROWS))
def test_a_bad_row_is_a_counted_drop_or_a_one_line_error(tmp_path: Path, reason: str):
    root = write_download(tmp_path / "c", votes=_votes_with(1, BAD_ROWS[reason]))
    df, s = build(root)
    assert "1001_IEO_HAP_LO" not in set(df["file_id"])
    assert s["utterances_dropped"] == {reason: 1} and s["utterances_kept"] == 6
    assert s["dropped_examples"][reason] == ["1001_IEO_HAP_LO"]
    with pytest.raises(LabelError) as err:
        build(root, on_invalid_row="error")
    message = str(err.value)
    assert (
        message.startswith("tabulatedVotes.csv line 3, column ") and reason in message and "\n" not in message
    )


def test_a_malformed_file_name(tmp_path: Path):
    clips = [*CLIPS, ("1005-IEO-HAP-LO", (0, 0, 0, 5, 4, 0))]
    df, s = build(write_download(tmp_path / "c", clips=clips))
    assert s["utterances_dropped"] == {"malformed_file_name": 1} and len(df) == 7
    with pytest.raises(
        LabelError, match=r"line 9, column fileName: '1005-IEO-HAP-LO' is not AAAA_SSS_EEE_LL"
    ):
        build(write_download(tmp_path / "c", clips=clips), on_invalid_row="error")


def test_an_actor_without_demographics(tmp_path: Path):
    clips = [*CLIPS, ("1077_IEO_HAP_LO", (0, 0, 0, 5, 4, 0))]
    _, s = build(write_download(tmp_path / "c", clips=clips))
    assert s["utterances_dropped"] == {"unknown_actor": 1}


def test_a_file_name_that_is_not_its_clip_number(tmp_path: Path):
    votes = _votes_with(1, vote_row(1, 2, "1001_IEO_ANG_HI", (0, 0, 0, 3, 6, 0)))
    _, s = build(write_download(tmp_path / "c", votes=votes))
    assert s["utterances_dropped"] == {"file_name_mismatch": 1}


def test_a_clip_listed_twice_is_an_error(tmp_path: Path):
    votes = default_votes()
    votes.append(votes[0])
    with pytest.raises(
        LabelError, match=r"line 23: clip '1001_IEO_ANG_HI' \(row id 100001\) is listed twice"
    ):
        build(write_download(tmp_path / "c", votes=votes))


def test_audio_missing_and_audio_without_votes(tmp_path: Path):
    root = write_download(tmp_path / "c", audio=[*STEMS[1:], "1006_IEO_NEU_XX"])
    df, s = build(root)
    assert s["utterances_dropped"] == {"no_audio": 1} and s["dropped_examples"]["no_audio"] == [STEMS[0]]
    assert s["audio"]["checked"] and s["audio"]["audio_without_votes"] == 1
    assert s["audio"]["audio_without_votes_examples"] == ["1006_IEO_NEU_XX"]
    assert len(df) == 6
    with pytest.raises(
        LabelError, match=r"clip '1001_IEO_ANG_HI' has votes but .*1001_IEO_ANG_HI.wav does not exist"
    ):
        build(root, on_missing_audio="error")


def test_nothing_kept_is_an_error(tmp_path: Path):
    votes = [vote_row(2, i, name, c) for i, (name, c) in enumerate(CLIPS, start=1)]
    with pytest.raises(LabelError, match="keeps no voice clip of 0 read"):
        build(write_download(tmp_path / "c", votes=votes))


# ----------------------------------------------------------------------------- the command line


def test_cli_labels_source_crema_d(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    root = write_download(tmp_path / "c")
    out, summary = tmp_path / "labels.parquet", tmp_path / "summary.json"
    assert (
        main(["labels", str(root), "--source", "crema_d", "--out", str(out), "--summary", str(summary)]) == 0
    )
    assert "7/7 voice clips kept (1 ties as X)" in capsys.readouterr().out
    assert len(crema_d_table.read(out)) == 7
    assert json.loads(summary.read_text())["statistics"]["voice"]["clips"] == 7
    (root / "SentenceFilenames.csv").unlink()
    assert (
        main(["labels", str(root), "--source", "crema_d", "--out", str(out), "--summary", str(summary)]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("sertools labels: error:") and "SentenceFilenames.csv not found" in err
    assert err.count("\n") == 1


def test_statistics_from_the_files_alone(tmp_path: Path):
    """modality_statistics needs only tabulatedVotes.csv, SentenceFilenames.csv and VideoDemographics.csv."""
    from sertools.corpus.crema_d import read_files

    root = write_download(tmp_path / "c")
    raw = read_files(
        root / "processedResults" / "tabulatedVotes.csv",
        root / "SentenceFilenames.csv",
        root / "VideoDemographics.csv",
    )
    _, s = build(root)
    assert crema_d.modality_statistics(raw) == s["statistics"]

"""Each fault of the bad-input corpus generator gets its documented behaviour.

Either a clear error naming the file and what is wrong, or a counted drop in the
stage summary; and in every run that completes, kept + dropped = read for
utterances and annotations (docs/bad_input.md lists the behaviours).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from badcorpus import DETAILED, FAULTS, clean_corpus, make, read_csv

from sertools import config as config_mod
from sertools.classes import CLASSES
from sertools.corpus.msp import label_files
from sertools.data import audio, manifest, manifest_table
from sertools.data import dataset as data
from sertools.data.errors import DataError
from sertools.evaluation import metrics as evaluate
from sertools.evaluation import predict
from sertools.labels import build
from sertools.labels import table as label_table
from sertools.training import train as training
from sertools.training.runtime.errors import TrainingError

OTHER = CLASSES.index("Other")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clean_corpus(tmp_path_factory.mktemp("clean") / "corpus")


def _cfg(**sections: dict) -> dict:
    return config_mod.resolve(
        {
            "train": {"max_epochs": 1, "batch_size": 8, "lr_backbone": 1e-3, "lr_heads": 1e-3},
            "evaluation": {"bootstrap_resamples": 20},
            **sections,
        }
    )


def _stages(corpus: Path, out: Path, cfg: dict) -> tuple[dict, dict]:
    """Labels and manifest stages; both summaries checked for complete accounting."""
    lab = build.run(
        label_files(corpus),
        {"table": out / "labels.parquet", "summary": out / "labels.json"},
        labels=cfg["labels"],
    )
    man = manifest.run(
        {"labels": out / "labels.parquet", "audio": corpus / "Audios"},
        {"manifest": out / "manifest.parquet", "summary": out / "manifest.json"},
        manifest=cfg["manifest"],
    )
    _check_accounting(corpus, lab, man)
    return lab, man


def _check_accounting(corpus: Path, lab: dict, man: dict) -> None:
    for what in ("utterances", "annotations"):
        assert lab[f"{what}_kept"] + sum(lab[f"{what}_dropped"].values()) == lab[f"{what}_read"]
    assert man["utterances_kept"] + sum(man["utterances_dropped"].values()) == man["utterances_read"]
    # "read" is what the files hold: every annotation row, every utterance named in either file
    _, detailed = read_csv(corpus / "Labels" / DETAILED) if _is_utf8(corpus) else (None, None)
    if detailed is not None:
        assert lab["annotations_read"] == len(detailed)
    assert man["utterances_read"] == lab["utterances_kept"]


def _is_utf8(corpus: Path) -> bool:
    try:
        (corpus / "Labels" / DETAILED).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _faulty(clean: Path, tmp_path: Path, fault: str) -> tuple[Path, str]:
    corpus = tmp_path / "corpus"
    return corpus, make(clean, corpus, fault)


def _table(out: Path) -> pd.DataFrame:
    return label_table.read(out / "labels.parquet").set_index("file_id")


def test_clean_corpus_has_every_split_and_two_annotators(clean: Path, tmp_path: Path) -> None:
    lab, man = _stages(clean, tmp_path, _cfg())
    assert set(man["per_split"]) == {"Train", "Development", "Test1", "Test2"}
    assert lab["annotators_per_utterance"]["min"] >= 2
    assert lab["utterances_dropped"] == {} and lab["annotations_dropped"] == {}


# ---------------------------------------------------------------- bad audio: error, or counted drop

BAD_AUDIO = {
    "missing_wav": "missing",
    "corrupt_header": "unreadable",
    "truncated_wav": "truncated",
    "zero_length_wav": "empty",
    "labels_without_audio": "missing",
}


@pytest.mark.parametrize("fault", sorted(BAD_AUDIO))
def test_bad_audio_stops_naming_the_file_or_is_a_counted_drop(
    clean: Path, tmp_path: Path, fault: str
) -> None:
    corpus, fid = _faulty(clean, tmp_path, fault)
    reason = BAD_AUDIO[fault]
    with pytest.raises(manifest.AudioError, match=r"1 labelled utterance\(s\) have unusable audio") as err:
        _stages(corpus, tmp_path / "strict", _cfg())
    assert f"{corpus / 'Audios' / fid}: {reason}" in str(err.value)
    _lab, man = _stages(corpus, tmp_path / "lenient", _cfg(manifest={"drop_bad_audio": True}))
    assert man["utterances_dropped"] == {reason: 1}
    assert [(d["file_id"], d["reason"]) for d in man["dropped_files"]] == [(fid, reason)]
    assert fid not in set(manifest_table.read(tmp_path / "lenient" / "manifest.parquet").file_id)


def test_truncated_wav_names_declared_and_present_bytes(clean: Path, tmp_path: Path) -> None:
    corpus, fid = _faulty(clean, tmp_path, "truncated_wav")
    facts = audio.probe(corpus / "Audios" / fid)
    assert facts.problem == "truncated"
    declared, held = audio.wav_data_shortfall(corpus / "Audios" / fid)
    assert held < declared and f"declares {declared} bytes, the file holds {held}" in facts.detail
    assert audio.wav_data_shortfall(clean / "Audios" / fid) is None


@pytest.mark.parametrize(
    ("fault", "subtype", "converted"),
    [("stereo_44k", "PCM_16", True), ("pcm_u8", "PCM_U8", False), ("float_wav", "FLOAT", False)],
)
def test_other_formats_are_kept(
    clean: Path, tmp_path: Path, fault: str, subtype: str, converted: bool
) -> None:
    corpus, fid = _faulty(clean, tmp_path, fault)
    _, man = _stages(corpus, tmp_path, _cfg())
    assert man["utterances_dropped"] == {}
    assert man["converted_to_cache"] == int(converted)
    row = manifest_table.read(tmp_path / "manifest.parquet").set_index("file_id").loc[fid]
    assert row.source_subtype == subtype and bool(row.converted) == converted
    wave = audio.load_mono(row.path, 16000)
    assert len(wave) == row.frames and np.isfinite(wave).all() and np.abs(wave).max() > 0.01


def test_audio_without_labels_is_counted(clean: Path, tmp_path: Path) -> None:
    corpus, fid = _faulty(clean, tmp_path, "audio_without_labels")
    _lab, man = _stages(corpus, tmp_path, _cfg())
    assert man["audio_without_labels"] == 1 and man["audio_without_labels_examples"] == [fid]


def test_shorter_than_receptive_field(clean: Path, tmp_path: Path) -> None:
    corpus, fid = _faulty(clean, tmp_path, "shorter_than_receptive_field")
    with pytest.raises(manifest.AudioError, match=rf"{fid}: too_short \(0\.013 s < min_duration_s 0\.5\)"):
        _stages(corpus, tmp_path / "default", _cfg())
    # a manifest threshold below the receptive field: training refuses, naming the file
    cfg = _cfg(manifest={"min_duration_s": 0.0})
    out = tmp_path / "permissive"
    _stages(corpus, out, cfg)
    with pytest.raises(
        DataError, match=rf"Development: 1 utterance\(s\) shorter than .*{fid} \(200 samples\)"
    ):
        training.from_config(
            out / "labels.parquet", out / "manifest.parquet", out / "run", cfg, "hard_ce", 0, 1
        )


# ---------------------------------------------------------------- bad annotations

BAD_ANNOTATIONS = {
    "nan_rating": ("non_numeric_rating", "column EmoAct: 'NaN'"),
    "out_of_range_rating": ("rating_out_of_range", "column EmoVal: '9'"),
    "unknown_emotion": ("unknown_primary", "column EmoClass_Major: 'Joyful'"),
}


@pytest.mark.parametrize("fault", sorted(BAD_ANNOTATIONS))
def test_bad_annotation_is_a_counted_drop_or_a_named_error(clean: Path, tmp_path: Path, fault: str) -> None:
    corpus, fid = _faulty(clean, tmp_path, fault)
    reason, message = BAD_ANNOTATIONS[fault]
    _ref, _ = _stages(clean, tmp_path / "clean", _cfg())
    lab, _ = _stages(corpus, tmp_path / "drop", _cfg())
    assert lab["annotations_dropped"] == {reason: 1} and lab["utterances_dropped"] == {}
    before = _table(tmp_path / "clean").loc[fid, "n_annotators"]
    assert _table(tmp_path / "drop").loc[fid, "n_annotators"] == before - 1
    with pytest.raises(build.LabelError, match=rf"labels_detailed\.csv line \d+, {message}"):
        _stages(corpus, tmp_path / "strict", _cfg(labels={"on_invalid_annotation": "error"}))


def test_unknown_secondary_word_goes_to_other_and_is_counted(clean: Path, tmp_path: Path) -> None:
    corpus, _fid = _faulty(clean, tmp_path, "unknown_secondary_word")
    lab, _ = _stages(corpus, tmp_path, _cfg())
    assert lab["secondary"]["unmapped_words"].get("bewildered") == 1
    assert lab["annotations_dropped"] == {}


def test_duplicated_worker_keeps_first_or_stops(clean: Path, tmp_path: Path) -> None:
    corpus, fid = _faulty(clean, tmp_path, "duplicated_worker")
    lab, _ = _stages(corpus, tmp_path / "keep", _cfg())
    assert lab["annotations_dropped"] == {"duplicate_worker": 1}
    with pytest.raises(build.LabelError, match=rf"rates '{fid}' twice"):
        _stages(corpus, tmp_path / "strict", _cfg(labels={"on_duplicate_worker": "error"}))


def test_one_annotator_is_kept_unless_min_annotators_says_otherwise(clean: Path, tmp_path: Path) -> None:
    corpus, fid = _faulty(clean, tmp_path, "one_annotator")
    _stages(corpus, tmp_path / "default", _cfg())
    assert _table(tmp_path / "default").loc[fid, "n_annotators"] == 1
    lab, _man = _stages(corpus, tmp_path / "min2", _cfg(labels={"min_annotators": 2}))
    assert lab["utterances_dropped"] == {"fewer_than_min_annotators": 1}
    assert fid not in _table(tmp_path / "min2").index


def test_all_other_is_a_one_hot_other_distribution(clean: Path, tmp_path: Path) -> None:
    corpus, fid = _faulty(clean, tmp_path, "all_other")
    _stages(corpus, tmp_path, _cfg())
    row = _table(tmp_path).loc[fid]
    assert row.hard_label == OTHER and row.entropy_primary == 0.0
    assert list(row.votes_primary).index(max(row.votes_primary)) == OTHER
    assert sum(row.votes_primary) == row.votes_primary[OTHER] == row.n_annotators


def test_non_utf8_bytes_are_replaced_and_counted(clean: Path, tmp_path: Path) -> None:
    corpus, fid = _faulty(clean, tmp_path, "non_utf8_text")
    lab, _ = _stages(corpus, tmp_path, _cfg())
    assert lab["source"]["rows_with_non_utf8_bytes"] == 1
    assert lab["annotations_dropped"] == {} and fid in _table(tmp_path).index


def test_bom_and_crlf_read_like_the_clean_files(clean: Path, tmp_path: Path) -> None:
    corpus, _ = _faulty(clean, tmp_path, "bom_crlf")
    assert (corpus / "Labels" / DETAILED).read_bytes().startswith(b"\xef\xbb\xbf")
    _stages(clean, tmp_path / "clean", _cfg())
    _stages(corpus, tmp_path / "bom", _cfg())
    pd.testing.assert_frame_equal(_table(tmp_path / "bom"), _table(tmp_path / "clean"))


def test_unlabelled_test3_is_set_aside_unread(clean: Path, tmp_path: Path) -> None:
    corpus, fid = _faulty(clean, tmp_path, "unlabelled_test3")
    strict = {"on_invalid_annotation": "error", "on_unmatched_utterance": "error"}
    lab, _ = _stages(corpus, tmp_path, _cfg(labels=strict))
    assert lab["utterances_dropped"] == {"split_not_used:Test3": 1}
    assert lab["annotations_dropped"] == {"split_not_used:Test3": 1}
    assert fid not in _table(tmp_path).index


def test_no_primary_labels_stops_the_label_stage(clean: Path, tmp_path: Path) -> None:
    corpus, _ = _faulty(clean, tmp_path, "no_primary_labels")
    with pytest.raises(
        build.LabelError, match=r"keeps no utterance of 40 read .*unknown_primary: \d+.*/labels_detailed\.csv"
    ):
        _stages(corpus, tmp_path, _cfg())
    assert not (tmp_path / "labels.parquet").exists()


# ---------------------------------------------------------------- empty splits, through training


def test_empty_development_split_stops_training(clean: Path, tmp_path: Path) -> None:
    corpus, _ = _faulty(clean, tmp_path, "empty_development")
    cfg = _cfg()
    _, man = _stages(corpus, tmp_path, cfg)
    assert "Development" not in man["per_split"]
    with pytest.raises(TrainingError, match="no Development utterances"):
        training.from_config(
            tmp_path / "labels.parquet", tmp_path / "manifest.parquet", tmp_path / "run", cfg, "hard_ce", 0, 1
        )


def test_empty_test_split_gives_empty_predictions_and_n0_metrics(clean: Path, tmp_path: Path) -> None:
    corpus, _ = _faulty(clean, tmp_path, "empty_test2")
    cfg = _cfg()
    _stages(corpus, tmp_path, cfg)
    lab, man, run = tmp_path / "labels.parquet", tmp_path / "manifest.parquet", tmp_path / "run"
    training.from_config(lab, man, run, cfg, "hard_ce", 0, 1)
    splits = ["Test1", "Test2"]
    outs = [tmp_path / f"{s}.parquet" for s in splits]
    predict.predict(run / "best.safetensors", lab, man, splits, outs, {"train": cfg["train"], "variants": {}})
    empty = pd.read_parquet(outs[1])
    assert len(empty) == 0 and list(empty.columns) == list(pd.read_parquet(outs[0]).columns)
    metrics = tmp_path / "metrics.json"
    inputs = {"labels": lab, **{s: [o] for s, o in zip(splits, outs, strict=True)}}
    section = {**cfg["evaluation"], "splits": splits}
    evaluate.run(inputs, {"metrics": metrics}, evaluation=section, seeds=[0], variant="hard_ce")
    res = json.loads(metrics.read_text())["splits"]
    assert res["Test2"]["n_utterances"]["all"] == 0 and res["Test1"]["n_utterances"]["all"] > 0


def test_every_fault_has_a_test() -> None:
    tested = {
        *BAD_AUDIO,
        *BAD_ANNOTATIONS,
        "stereo_44k",
        "pcm_u8",
        "float_wav",
        "audio_without_labels",
        "shorter_than_receptive_field",
        "unknown_secondary_word",
        "duplicated_worker",
        "one_annotator",
        "all_other",
        "non_utf8_text",
        "bom_crlf",
        "unlabelled_test3",
        "no_primary_labels",
        "empty_development",
        "empty_test2",
    }
    assert tested == set(FAULTS)


def test_receptive_field_error_names_ten_files_and_counts_the_rest() -> None:
    rows = pd.DataFrame({"file_id": [f"u{i:02d}.wav" for i in range(12)], "frames": [100] * 11 + [400]})
    with pytest.raises(DataError, match=r"Test1: 11 utterance\(s\) .*u09\.wav \(100 samples\) and 1 more"):
        data.check_min_frames(rows, 400, 16000, "Test1")
    data.check_min_frames(rows.iloc[11:], 400, 16000, "Test1")  # exactly the receptive field is enough

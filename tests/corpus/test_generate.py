"""The synthetic corpus stage (sertools.corpus.synthetic.generate): files, determinism, arguments."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sertools import config as config_mod
from sertools.classes import CLASSES, CODES, NO_AGREEMENT, K
from sertools.corpus.synthetic import generate as synth
from sertools.corpus.synthetic import labels as synth_labels
from sertools.corpus.synthetic import writers

N_AUDIO = 64
SEED = 5

CONSENSUS_HEADER = ["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"]
DETAILED_HEADER = ["FileName", "WorkerID", "EmoClass_Major", "EmoClass_Second", "EmoAct", "EmoVal", "EmoDom"]
NAME_RE = re.compile(r"^MSP-PODCAST_\d{4}_\d{4}\.wav$")
WORKER_RE = re.compile(r"^WORKER\d{8}$")


def _read(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    cons = pd.read_csv(root / "Labels" / "labels_consensus.csv", keep_default_na=False)
    det = pd.read_csv(root / "Labels" / "labels_detailed.csv", keep_default_na=False)
    lt = pd.read_parquet(root / "latent_truth.parquet")
    return cons, det, lt


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth_audio")
    summary = synth.generate(root, N_AUDIO, SEED)
    return root, summary


@pytest.fixture(scope="module")
def tables(corpus: tuple[Path, dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return _read(corpus[0])


# --- determinism -------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(corpus: tuple[Path, dict], tmp_path: Path) -> None:
    again = tmp_path / "again"
    synth.generate(again, N_AUDIO, SEED)
    first, second = _all_files(corpus[0]), _all_files(again)
    assert sorted(first) == sorted(second)
    assert len([f for f in first if f.endswith(".wav")]) == N_AUDIO
    differing = [name for name in first if first[name] != second[name]]
    assert differing == []


def test_audio_rendered_by_two_processes_is_byte_identical(corpus: tuple[Path, dict], tmp_path: Path) -> None:
    root, summary = corpus
    again = tmp_path / "two_workers"
    assert synth.generate(again, N_AUDIO, SEED, workers=2) == summary
    assert _all_files(again) == _all_files(root)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        synth.generate(tmp_path / "none", 8, SEED, workers=0)


def test_different_seed_gives_a_different_corpus(corpus: tuple[Path, dict], tmp_path: Path) -> None:
    other = tmp_path / "other"
    synth.generate(other, 8, SEED + 1)
    mine = synth.generate(tmp_path / "mine", 8, SEED)
    assert mine["splits"] == synth.generate(tmp_path / "again", 8, SEED, labels_only=True)["splits"]
    for rel in ("Labels/labels_consensus.csv", "Labels/labels_detailed.csv", "latent_truth.parquet"):
        assert (tmp_path / "mine" / rel).read_bytes() != (other / rel).read_bytes(), rel
    # Audio depends on the seed too (compare by position: names differ between seeds).
    a = sorted((tmp_path / "mine" / "Audios").iterdir())
    b = sorted((other / "Audios").iterdir())
    for x, y in zip(a, b, strict=True):
        sx, sy = sf.read(x)[0], sf.read(y)[0]
        n = min(len(sx), len(sy))
        assert not np.allclose(sx[:n], sy[:n], atol=1e-3)


def test_labels_only_writes_the_same_labels_and_no_audio(corpus: tuple[Path, dict], tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    summary = synth.generate(lab, N_AUDIO, SEED, labels_only=True)
    assert not (lab / "Audios").exists()
    for rel in (
        "Labels/labels_consensus.csv",
        "Labels/labels_detailed.csv",
        "Labels/labels.txt",
        "latent_truth.parquet",
        "rater_truth.parquet",
        "rater_mixture.parquet",
    ):
        assert (corpus[0] / rel).read_bytes() == (lab / rel).read_bytes(), rel
    assert summary["audio_files"] == 0 and summary["audio_seconds"] == 0.0
    assert summary["consensus_counts"] == corpus[1]["consensus_counts"]


# --- file format ---------------------------------------------------------------


def test_labels_txt_holds_the_same_annotations_in_blocks(corpus: tuple[Path, dict], tables) -> None:
    cons, det, _ = tables
    text = (corpus[0] / writers.LABELS_TXT).read_text(encoding="utf-8")
    assert text.endswith(";\n") and "\r" not in text and not text.endswith("\n\n")
    blocks = [b.split("\n") for b in text.rstrip("\n").split("\n\n")]
    assert len(blocks) == len(cons)
    rows = iter(det.itertuples(index=False))
    spellings = set()
    for block, c in zip(blocks, cons.itertuples(index=False), strict=True):
        a, v, d = c.EmoAct, c.EmoVal, c.EmoDom
        assert block[0] == f"{c.FileName}; {c.EmoClass}; A:{a:.6f}; V:{v:.6f}; D:{d:.6f};"
        for line in block[1:]:
            r = next(rows)
            assert r.FileName == c.FileName
            ratings = f"A:{r.EmoAct}.0; V:{r.EmoVal}.0; D:{r.EmoDom}.0;"
            if r.EmoClass_Second:
                assert line == f"{r.WorkerID}; {r.EmoClass_Major}; {r.EmoClass_Second}; {ratings}"
            else:
                assert line in (
                    f"{r.WorkerID}; {r.EmoClass_Major}; {ratings}",
                    f"{r.WorkerID}; {r.EmoClass_Major}; ; {ratings}",
                )
                spellings.add("; ; A:" in line)
    assert next(rows, None) is None
    assert spellings == {True, False}  # an empty secondary is written both ways


def test_headers_are_exactly_the_msp2_ones(corpus: tuple[Path, dict]) -> None:
    root = corpus[0]
    with open(root / "Labels" / "labels_consensus.csv", newline="") as fh:
        assert next(csv.reader(fh)) == CONSENSUS_HEADER
    with open(root / "Labels" / "labels_detailed.csv", newline="") as fh:
        assert next(csv.reader(fh)) == DETAILED_HEADER


def test_consensus_values_follow_the_format(tables) -> None:
    cons, _, _ = tables
    assert len(cons) == N_AUDIO
    assert cons["FileName"].map(NAME_RE.match).notna().all()
    assert cons["FileName"].is_unique and cons["FileName"].is_monotonic_increasing
    assert set(cons["EmoClass"]) <= {*CODES, NO_AGREEMENT}
    assert set(cons["Gender"]) <= {"Male", "Female"}
    assert set(cons["Split_Set"]) == {"Train", "Development", "Test1", "Test2"}
    assert pd.api.types.is_integer_dtype(cons["SpkrID"])
    for col in ("EmoAct", "EmoVal", "EmoDom"):
        assert cons[col].between(1, 7).all()


def test_mean_ratings_are_written_with_at_most_six_decimals(corpus: tuple[Path, dict]) -> None:
    with open(corpus[0] / "Labels" / "labels_consensus.csv", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    for row in rows:
        for value in row[2:5]:
            assert re.fullmatch(r"\d\.\d{1,6}", value), value


def test_wavs_are_16k_mono_pcm16_with_requested_durations(corpus: tuple[Path, dict], tables) -> None:
    root = corpus[0]
    cons, _, _ = tables
    wavs = sorted(p.name for p in (root / "Audios").iterdir())
    assert wavs == list(cons["FileName"])
    seconds = 0.0
    for name in wavs:
        info = sf.info(root / "Audios" / name)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        assert 1.5 * 16000 - 1 <= info.frames <= 3.0 * 16000 + 1
        seconds += info.frames / 16000
    assert corpus[1]["audio_seconds"] == pytest.approx(seconds, abs=1e-3)


def test_audio_is_not_silent_and_never_clips(corpus: tuple[Path, dict], tables) -> None:
    cons, _, _ = tables
    for name in cons["FileName"][:16]:
        y, _ = sf.read(corpus[0] / "Audios" / name, dtype="int16")
        assert np.abs(y.astype(int)).max() <= int(0.98 * 32767) + 1
        assert np.sqrt(np.mean((y / 32768.0) ** 2)) > 10 ** (-50 / 20)


def test_custom_duration_and_sample_rate(tmp_path: Path) -> None:
    synth.generate(tmp_path, 8, 1, min_duration_s=1.0, max_duration_s=1.0, sample_rate=8000)
    for p in (tmp_path / "Audios").iterdir():
        info = sf.info(p)
        assert (info.samplerate, info.frames) == (8000, 8000)


def test_detailed_rows_follow_the_format(tables) -> None:
    cons, det, _ = tables
    assert det["WorkerID"].map(WORKER_RE.match).notna().all()
    assert list(det["FileName"].unique()) == list(cons["FileName"])
    keys = list(zip(det["FileName"], det["WorkerID"], strict=True))
    assert keys == sorted(keys)
    for col in ("EmoAct", "EmoVal", "EmoDom"):
        assert pd.api.types.is_integer_dtype(det[col])
        assert det[col].between(1, 7).all()


@pytest.mark.parametrize("n", [8, 11, 23])
def test_every_split_is_present_for_tiny_corpora(n: int, tmp_path: Path) -> None:
    summary = synth.generate(tmp_path, n, 3, labels_only=True)
    cons = pd.read_csv(tmp_path / "Labels" / "labels_consensus.csv")
    assert set(cons["Split_Set"]) == {"Train", "Development", "Test1", "Test2"}
    assert summary["splits"] == cons["Split_Set"].value_counts().to_dict()


# --- latent truth ------------------------------------------------------------------


def test_latent_truth_table(tables) -> None:
    cons, _, lt = tables
    assert list(lt.columns) == [
        "file_id",
        "p_true",
        "arousal_true",
        "valence_true",
        "dominance_true",
        "kind",
        "speaker",
        "split",
    ]
    assert list(lt["file_id"]) == list(cons["FileName"])
    assert list(lt["split"]) == list(cons["Split_Set"])
    p = np.stack(lt["p_true"].to_numpy())
    assert p.shape == (N_AUDIO, K) and p.dtype == np.float64
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert (p >= 0).all()
    assert set(lt["kind"]) == set(synth_labels.KINDS)
    for col in ("arousal_true", "valence_true", "dominance_true"):
        assert lt[col].between(1, 7).all()
    proto = p[(lt["kind"] == "prototypical").to_numpy()]
    assert (proto.max(axis=1) >= 0.72 - 1e-9).all()


def test_rater_truth_covers_every_worker(tables, corpus: tuple[Path, dict]) -> None:
    _, det, _ = tables
    raters = pd.read_parquet(corpus[0] / "rater_truth.parquet")
    assert set(det["WorkerID"]) <= set(raters["worker_id"])
    counts = det["WorkerID"].value_counts()
    used = raters.set_index("worker_id").loc[counts.index, "annotations"]
    assert (used.to_numpy() == counts.to_numpy()).all()
    assert raters["reliability"].between(0, 1).all()


def test_meta_file(corpus: tuple[Path, dict]) -> None:
    meta = json.loads((corpus[0] / "synth_meta.json").read_text())
    assert meta["parameters"]["seed"] == SEED and meta["parameters"]["utterances"] == N_AUDIO
    assert meta["generator_version"] == synth.GENERATOR_VERSION
    assert meta["counts"] == json.loads(json.dumps(corpus[1]))


# --- acoustic cues ------------------------------------------------------------------


def _active_level_db(y: np.ndarray) -> float:
    frames = y[: len(y) // 320 * 320].reshape(-1, 320)
    e = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return float(e[e > e.max() - 20].mean())


def test_audio_level_carries_arousal(corpus: tuple[Path, dict], tables) -> None:
    _, _, lt = tables
    level = np.array([_active_level_db(sf.read(corpus[0] / "Audios" / f)[0]) for f in lt["file_id"]])
    dominant = np.stack(lt["p_true"].to_numpy()).argmax(axis=1)
    proto = (lt["kind"] == "prototypical").to_numpy()
    high = proto & np.isin(dominant, [CLASSES.index("Angry"), CLASSES.index("Happy")])
    low = proto & np.isin(dominant, [CLASSES.index("Sad"), CLASSES.index("Neutral")])
    assert high.sum() >= 5 and low.sum() >= 5
    assert level[high].mean() - level[low].mean() > 2.0
    ranks = pd.Series(level).rank().to_numpy(), lt["arousal_true"].rank().to_numpy()
    assert np.corrcoef(*ranks)[0, 1] > 0.2


# --- validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"utterances": 7}, "utterances"),
        ({"utterances": 8.0}, "utterances"),
        ({"utterances": True}, "utterances"),
        ({"utterances": 10**8}, "utterances"),
        ({"seed": -1}, "seed"),
        ({"seed": "1"}, "seed"),
        ({"min_duration_s": 3.0, "max_duration_s": 2.0}, "must not exceed"),
        ({"min_duration_s": 0.0}, "min_duration_s"),
        ({"max_duration_s": float("nan")}, "max_duration_s"),
        ({"sample_rate": 4000}, "sample_rate"),
        ({"labels_only": "yes"}, "labels_only"),
        ({"cue_contrast": -1.0}, "cue contrast"),
        ({"cue_contrast": "2"}, "cue_contrast"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs: dict, message: str, tmp_path: Path) -> None:
    args = {"utterances": 8, "seed": 0, **kwargs}
    utterances, seed = args.pop("utterances"), args.pop("seed")
    with pytest.raises(ValueError, match=message):
        synth.generate(tmp_path / "c", utterances, seed, **args)
    assert not (tmp_path / "c").exists()


def test_cue_contrast_changes_the_audio_and_nothing_else(corpus: tuple[Path, dict], tmp_path: Path) -> None:
    strong = tmp_path / "strong"
    synth.generate(strong, N_AUDIO, SEED, cue_contrast=2.0)
    first, second = _all_files(corpus[0]), _all_files(strong)
    assert sorted(first) == sorted(second)
    wavs = [f for f in first if f.endswith(".wav")]
    assert all(first[f] != second[f] for f in wavs)
    same = [f for f in first if not f.endswith(".wav") and f != "synth_meta.json"]
    assert same and all(first[f] == second[f] for f in same)
    meta = json.loads(second["synth_meta.json"])
    assert meta["parameters"]["cue_contrast"] == 2.0
    angry, neutral = meta["model"]["cues"]["Angry"], meta["model"]["cues"]["Neutral"]
    default = json.loads(first["synth_meta.json"])["model"]["cues"]["Angry"]
    assert angry["pitch_st"] - neutral["pitch_st"] == pytest.approx(
        2 * (default["pitch_st"] - neutral["pitch_st"])
    )


def test_out_dir_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        synth.generate(f, 8, 0, labels_only=True)


# --- the stage entry point -----------------------------------------------------------


def _section(values: dict) -> dict:
    """A resolved ``synthetic`` section: the rule receives the validated config, defaults filled."""
    return config_mod.resolve({"synthetic": values})["synthetic"]


def _outputs(root: Path) -> dict[str, str]:
    return {
        "consensus": str(root / writers.CONSENSUS),
        "detailed": str(root / writers.DETAILED),
        "labels_txt": str(root / writers.LABELS_TXT),
        "truth": str(root / writers.LATENT_TRUTH),
        "audio": str(root / writers.AUDIO_DIR),
    }


def test_run_writes_the_corpus_the_outputs_name(tmp_path: Path) -> None:
    section = _section({"utterances": 8, "seed": SEED, "min_duration_s": 0.5, "max_duration_s": 0.6})
    summary = synth.run({}, _outputs(tmp_path / "c"), synthetic=section)
    direct = synth.generate(tmp_path / "d", 8, SEED, min_duration_s=0.5, max_duration_s=0.6)
    assert summary == direct and summary["audio_files"] == 8
    for rel in (
        writers.CONSENSUS,
        writers.DETAILED,
        writers.LABELS_TXT,
        writers.LATENT_TRUTH,
        writers.RATER_TRUTH,
    ):
        assert (tmp_path / "c" / rel).read_bytes() == (tmp_path / "d" / rel).read_bytes(), rel
    # a rule without the labels_txt output (older rule files) still runs
    outputs = {k: v for k, v in _outputs(tmp_path / "e").items() if k != "labels_txt"}
    assert synth.run({}, outputs, synthetic=section) == direct


def test_run_without_an_audio_output_writes_labels_only(tmp_path: Path) -> None:
    """The study's votes (rule study_votes): no Audios/, every label and latent file as with audio."""
    section = _section({"utterances": 8, "seed": SEED, "min_duration_s": 0.5, "max_duration_s": 0.6})
    full = synth.run({}, _outputs(tmp_path / "c"), synthetic=section)
    outputs = {k: v for k, v in _outputs(tmp_path / "v").items() if k != "audio"}
    summary = synth.run({}, outputs, synthetic=section)
    assert not (tmp_path / "v" / writers.AUDIO_DIR).exists()
    assert summary["audio_files"] == 0 and full["audio_files"] == 8
    for rel in (writers.CONSENSUS, writers.DETAILED, writers.LATENT_TRUTH):
        assert (tmp_path / "c" / rel).read_bytes() == (tmp_path / "v" / rel).read_bytes(), rel


def test_run_refuses_outputs_the_generator_does_not_write(tmp_path: Path) -> None:
    outputs = {**_outputs(tmp_path / "c"), "consensus": str(tmp_path / "c" / "consensus.csv")}
    section = _section({"utterances": 8, "seed": 0, "min_duration_s": 1.0, "max_duration_s": 1.0})
    with pytest.raises(ValueError, match=r"output 'consensus' is .*consensus\.csv'; the generator writes"):
        synth.run({}, outputs, synthetic=section)
    outputs = {**_outputs(tmp_path / "c"), "labels_txt": str(tmp_path / "c" / "labels.txt")}
    with pytest.raises(ValueError, match=r"output 'labels_txt' is .*c/labels\.txt'; the generator writes"):
        synth.run({}, outputs, synthetic=section)
    assert not (tmp_path / "c").exists()

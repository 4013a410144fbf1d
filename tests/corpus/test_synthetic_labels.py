"""The label model of the synthetic corpus (sertools.corpus.synthetic.labels): votes, consensus, statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sertools.classes import CLASSES, CODES, NO_AGREEMENT, K, primary_index
from sertools.corpus.synthetic import generate as synth
from sertools.corpus.synthetic import labels as synth_labels

N_SMALL = 64
N_STATS = 20_000
SEED = 5


def _read(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    cons = pd.read_csv(root / "Labels" / "labels_consensus.csv", keep_default_na=False)
    det = pd.read_csv(root / "Labels" / "labels_detailed.csv", keep_default_na=False)
    lt = pd.read_parquet(root / "latent_truth.parquet")
    return cons, det, lt


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synth_small")
    synth.generate(root, N_SMALL, SEED, labels_only=True)
    return _read(root)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("synth_big")
    summary = synth.generate(root, N_STATS, 11, labels_only=True)
    return root, summary


def test_primary_and_secondary_vocabulary(big: tuple[Path, dict]) -> None:
    _, det, _ = _read(big[0])
    major = det["EmoClass_Major"]
    assert major.map(primary_index).notna().all()
    other = major[major.str.startswith("Other")]
    assert other.str.fullmatch(r"Other(-[A-Z][a-z]+)?").all()
    assert (other == "Other").any() and other.str.startswith("Other-").mean() > 0.7
    assert set(major[~major.str.startswith("Other")]) == set(CLASSES[:-1])
    second = det["EmoClass_Second"]
    words = second[second != ""].str.split(",").explode()
    assert set(words) <= set(synth_labels.WORDS)
    assert (second == "").any() and second.str.contains(",").any()
    msp16 = set(synth_labels.WORDS[:16])
    assert msp16 <= set(words)  # the whole MSP vocabulary is used
    assert (~words.isin(msp16)).any()  # and some unmapped words too
    # Word lists never repeat a word within one annotation.
    lists = second[second.str.contains(",")].str.split(",")
    assert (lists.map(len) == lists.map(lambda w: len(set(w)))).all()


def test_secondary_words_follow_the_perceived_emotion(big: tuple[Path, dict]) -> None:
    _, det, _ = _read(big[0])
    angry_words = {"Angry", "Frustrated", "Annoyed"}
    happy_words = {"Happy", "Amused", "Excited"}

    def share(primary: str, vocab: set[str]) -> float:
        words = det.loc[det["EmoClass_Major"] == primary, "EmoClass_Second"]
        words = words[words != ""].str.split(",").explode()
        return float(words.isin(vocab).mean())

    assert share("Happy", happy_words) > 3 * share("Happy", angry_words)
    assert share("Angry", angry_words) > 3 * share("Angry", happy_words)


def test_test2_is_speaker_disjoint_from_train_and_speakers_nest_in_podcasts(big: tuple[Path, dict]) -> None:
    cons, _, lt = _read(big[0])
    train = set(cons.loc[cons["Split_Set"] == "Train", "SpkrID"])
    test2 = set(cons.loc[cons["Split_Set"] == "Test2", "SpkrID"])
    assert train and test2 and not train & test2
    podcast = cons["FileName"].str.slice(12, 16)
    assert (cons.assign(p=podcast).groupby("SpkrID")["p"].nunique() == 1).all()
    assert (cons.groupby("SpkrID")["Gender"].nunique() == 1).all()
    assert (lt["speaker"].to_numpy() == cons["SpkrID"].to_numpy()).all()
    assert cons["SpkrID"].nunique() > 100


# --- annotations and consensus ----------------------------------------------------


def test_annotators_per_utterance(tables, big: tuple[Path, dict]) -> None:
    _, det, _ = tables
    per_file = det.groupby("FileName")["WorkerID"]
    assert per_file.size().between(5, 12).all()
    assert (per_file.nunique() == per_file.size()).all()  # distinct workers per file
    summary = big[1]
    assert 5.2 < summary["annotators_per_utterance_mean"] < 5.7
    assert summary["annotation_rows"] / N_STATS == pytest.approx(
        summary["annotators_per_utterance_mean"], abs=1e-4
    )
    big_det = pd.read_csv(big[0] / "Labels" / "labels_detailed.csv", usecols=["FileName"])
    assert len(big_det) == summary["annotation_rows"]
    assert big_det["FileName"].value_counts().between(5, 12).all()


def _recompute_consensus(det: pd.DataFrame) -> pd.DataFrame:
    idx = det["EmoClass_Major"].map(primary_index).astype(int)
    counts = pd.crosstab(det["FileName"], idx).reindex(columns=range(K), fill_value=0)
    top = counts.max(axis=1)
    n_top = counts.eq(top, axis=0).sum(axis=1)
    code = np.where(n_top == 1, np.asarray(CODES)[counts.to_numpy().argmax(axis=1)], NO_AGREEMENT)
    means = det.groupby("FileName")[["EmoAct", "EmoVal", "EmoDom"]].mean()
    return means.assign(EmoClass=code)


@pytest.mark.parametrize("which", ["small", "big"])
def test_consensus_is_plurality_with_x_exactly_on_ties(which: str, tables, big: tuple[Path, dict]) -> None:
    cons, det, _ = tables if which == "small" else _read(big[0])
    expected = _recompute_consensus(det).loc[cons["FileName"]]
    assert (expected["EmoClass"].to_numpy() == cons["EmoClass"].to_numpy()).all()
    for col in ("EmoAct", "EmoVal", "EmoDom"):
        np.testing.assert_allclose(cons[col].to_numpy(), expected[col].to_numpy(), atol=5e-7)


def test_consensus_function_on_hand_made_votes() -> None:
    utt = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2])
    prim = np.array([7, 7, 2, 0, 0, 1, 1, 8, 8, 8, 2, 3])
    codes, counts = synth_labels.consensus(utt, prim, 3)
    assert list(codes) == ["N", "X", "O"]
    assert counts.sum() == len(utt)


# --- statistics at moderate N -----------------------------------------------------


def test_class_statistics_look_like_msp2(big: tuple[Path, dict]) -> None:
    summary = big[1]
    counts = summary["consensus_counts"]
    ranked = sorted(CODES, key=lambda c: -counts[c])
    assert set(ranked[:2]) == {"N", "H"}
    assert {"F", "D"} <= set(ranked[-3:])
    assert 0.05 < summary["x_rate"] < 0.35
    # Dominant classes of the latent distributions follow MSP 2.0 totals.
    dom = np.array([summary["dominant_class_counts"][c] for c in CLASSES], dtype=float)
    ref = np.asarray(synth_labels.MSP2_CLASS_TOTALS, dtype=float)
    assert 0.5 * np.abs(dom / dom.sum() - ref / ref.sum()).sum() < 0.03
    kinds = np.array([summary["kind_counts"][k] for k in synth_labels.KINDS]) / N_STATS
    np.testing.assert_allclose(kinds, synth_labels.KIND_PROBS, atol=0.02)


def test_ambiguous_utterances_disagree_more(big: tuple[Path, dict]) -> None:
    cons, _, lt = _read(big[0])
    x = (cons["EmoClass"] == NO_AGREEMENT).to_numpy()
    rate = {k: x[(lt["kind"] == k).to_numpy()].mean() for k in synth_labels.KINDS}
    assert rate["prototypical"] < rate["blended"] < rate["ambiguous"]


def test_ratings_track_the_true_attributes(big: tuple[Path, dict]) -> None:
    cons, _, lt = _read(big[0])
    for mine, truth in (("EmoAct", "arousal_true"), ("EmoVal", "valence_true"), ("EmoDom", "dominance_true")):
        assert np.corrcoef(cons[mine], lt[truth])[0, 1] > 0.5

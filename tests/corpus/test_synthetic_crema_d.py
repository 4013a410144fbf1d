"""The synthetic corpus over CREMA-D's six classes, in the CREMA-D download layout
(``synthetic.classes: crema_d``; sertools.corpus.synthetic.crema_d_layout)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sertools import config
from sertools.classes import CREMA_D
from sertools.corpus.crema_d import parse_file_name, read_crema_d
from sertools.corpus.synthetic import generate, labels
from sertools.labels.crema_d import build_labels


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth_crema_d")
    generate.generate(root, 240, 3, min_duration_s=0.3, max_duration_s=0.4, classes="crema_d")
    return root


def test_the_crema_d_reader_reads_it_and_drops_nothing(corpus: Path) -> None:
    raw = read_crema_d(corpus)
    assert raw.audio is not None and len(raw.audio) == 240
    df, summary = build_labels(raw, config.resolve({})["crema_d"])
    assert summary["utterances_read"] == summary["utterances_kept"] == 240
    assert summary["utterances_dropped"] == {}
    assert summary["audio"]["checked"] and summary["audio"]["audio_without_votes"] == 0
    assert df["file_id"].is_unique
    for name in df["file_id"]:
        assert parse_file_name(name) is not None
    assert set(df["split"]) >= {"Train", "Development", "Test1"}


def test_latent_truth_and_mixture_are_six_wide_and_keyed_by_clip(corpus: Path) -> None:
    truth = pd.read_parquet(corpus / "latent_truth.parquet")
    p = np.stack(truth["p_true"].to_numpy())
    assert p.shape == (240, CREMA_D.k)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert "split" not in truth.columns
    votes = pd.read_csv(corpus / "processedResults/tabulatedVotes.csv", keep_default_na=False)
    assert set(truth["file_id"]) == set(votes["fileName"])
    # the intended emotion of a name is the dominant latent class
    intended = [CREMA_D.codes.index(parse_file_name(f).intended) for f in truth["file_id"]]  # type: ignore[union-attr]
    assert intended == p.argmax(axis=1).tolist()
    mix = pd.read_parquet(corpus / "rater_mixture.parquet")
    q = np.stack(mix["p_raters"].to_numpy())
    assert q.shape == (240, CREMA_D.k)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-12)
    meta = json.loads((corpus / "synth_meta.json").read_text())
    assert meta["parameters"]["classes"] == "crema_d"
    assert list(meta["counts"]["dominant_class_counts"]) == list(CREMA_D.names)


def test_votes_file_columns(corpus: Path) -> None:
    votes = pd.read_csv(corpus / "processedResults/tabulatedVotes.csv", keep_default_na=False)
    counts = votes[list(CREMA_D.codes)].to_numpy()
    assert (counts.sum(axis=1) == votes["numResponses"]).all()
    assert (votes.iloc[:, 0] // 100000 == 1).all()  # voice rows only
    top = counts.max(axis=1)
    np.testing.assert_allclose(votes["agreement"], top / counts.sum(axis=1), atol=1e-6)
    tied = votes[votes["emoVote"].str.contains(":")]
    assert len(tied) > 0
    demo = pd.read_csv(corpus / "VideoDemographics.csv")
    assert set(demo["Sex"]) <= {"Male", "Female"}


def test_same_seed_same_bytes(corpus: Path, tmp_path: Path) -> None:
    generate.generate(
        tmp_path, 240, 3, min_duration_s=0.3, max_duration_s=0.4, classes="crema_d", labels_only=True
    )
    for rel in (
        "processedResults/tabulatedVotes.csv",
        "SentenceFilenames.csv",
        "VideoDemographics.csv",
        "latent_truth.parquet",
        "rater_mixture.parquet",
    ):
        assert (tmp_path / rel).read_bytes() == (corpus / rel).read_bytes(), rel
    assert not (tmp_path / "AudioWAV").exists()


def test_other_when_unsure_without_other_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no Other class"):
        generate.generate(
            tmp_path,
            20,
            0,
            labels_only=True,
            classes="crema_d",
            rater_settings=labels.RaterSettings(other_when_unsure=0.5),
        )
    with pytest.raises(config.ConfigError, match="other_when_unsure"):
        config.resolve(
            {"synthetic": {"classes": "crema_d", "raters": {"other_when_unsure": 0.5}}, "study": {}}
        )
    # the workflow's own synthetic corpus stays MSP-Podcast's: the six-class one is the study's
    with pytest.raises(config.ConfigError, match="read by the rater study only"):
        config.resolve({"synthetic": {"classes": "crema_d"}})


def test_class_tables_are_msp_rows_renormalised() -> None:
    t = labels.class_tables(CREMA_D)
    assert t.neighbours.shape == (6, 6)
    np.testing.assert_allclose(t.neighbours.sum(axis=1), 1.0)
    assert t.guess.sum() == pytest.approx(1.0)
    assert labels.class_tables(labels.MSP_PODCAST) is labels.MSP_TABLES


def test_run_checks_the_outputs_of_its_layout(tmp_path: Path) -> None:
    files = generate.output_files("crema_d")
    outputs = {k: str(tmp_path / v) for k, v in files.items() if k != "audio"}
    section = {**config.resolve({})["synthetic"], "utterances": 16, "classes": "crema_d"}
    summary = generate.run({}, outputs, synthetic=section)
    assert summary["utterances"] == 16
    with pytest.raises(ValueError, match="not files of"):
        generate.run({}, {**outputs, "consensus": str(tmp_path / "x.csv")}, synthetic=section)

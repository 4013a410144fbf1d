"""The CREMA-D reader, its file names, its speaker splits, and the class sets (sertools.classes)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from cremad import VOTES_HEADER, write_download

from sertools import classes
from sertools.corpus import crema_d
from sertools.corpus.crema_d import ClipName, CorpusFormatError, parse_file_name, speaker_splits

# ----------------------------------------------------------------------------- class sets


def test_msp_podcast_class_set_is_the_module_constants():
    cs = classes.MSP_PODCAST
    assert cs.names == classes.CLASSES and cs.codes == classes.CODES
    assert cs.other == classes.OTHER and cs.dimensional and cs.k == classes.K == 9
    assert cs.consensus_codes == classes.CONSENSUS_CODES
    assert classes.class_set("msp_podcast") is cs and classes.class_set("synthetic") is cs


def test_crema_d_class_set():
    cs = classes.class_set("crema_d")
    assert cs is classes.CREMA_D
    assert cs.names == ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad")
    assert cs.codes == ("A", "D", "F", "H", "N", "S")
    assert cs.other is None and not cs.dimensional and cs.k == 6
    assert [cs.index(c) for c in "ADFHNS"] == list(range(6)) and cs.index("O") is None
    # a class has the same name and code in both corpora
    for name, code in zip(cs.names, cs.codes, strict=True):
        assert classes.CODES[classes.CLASSES.index(name)] == code


def test_class_set_checks_itself():
    with pytest.raises(ValueError, match="distinct single letters"):
        classes.ClassSet("x", ("A", "B"), ("A", "A"), None, dimensional=False)
    with pytest.raises(ValueError, match="no-agreement"):
        classes.ClassSet("x", ("A", "B"), ("A", "X"), None, dimensional=False)
    with pytest.raises(ValueError, match="2 names but 1 codes"):
        classes.ClassSet("x", ("A", "B"), ("A",), None, dimensional=False)
    with pytest.raises(ValueError, match="unknown corpus source 'iemocap'"):
        classes.class_set("iemocap")


# ----------------------------------------------------------------------------- file names


def test_parse_file_name():
    assert parse_file_name("1001_IEO_HAP_LO") == ClipName("1001", "IEO", "H", "LO")
    assert parse_file_name("1091_WSI_NEU_XX.wav") == ClipName("1091", "WSI", "N", "XX")
    for emotion, code in crema_d.FILE_EMOTIONS.items():
        name = parse_file_name(f"1010_TIE_{emotion}_XX")
        assert name is not None and name.intended == code
    for bad in (
        "1001_IEO_HAP",
        "101_IEO_HAP_LO",
        "1001_IEO_JOY_LO",
        "1001_IEO_HAP_ZZ",
        "1001_ieo_hap_lo",
        "",
    ):
        assert parse_file_name(bad) is None, bad


# ----------------------------------------------------------------------------- files


def test_files_of_a_download(tmp_path: Path):
    root = write_download(tmp_path / "c")
    files = crema_d.crema_d_files(root)
    assert set(files) == {"votes", "sentences", "demographics"}
    write_download(root, responses=[], audio=["1001_IEO_ANG_HI"])
    assert set(crema_d.crema_d_files(root)) == {"votes", "sentences", "demographics", "responses", "audio"}
    raw = crema_d.read_crema_d(root)
    assert raw.audio == frozenset({"1001_IEO_ANG_HI"})
    assert raw.sentences["1"] == "1001_IEO_ANG_HI"
    assert list(raw.votes.columns[:7]) == ["row_id", "A", "D", "F", "H", "N", "S"]
    assert raw.votes["line"].tolist()[:2] == [2, 3]
    assert crema_d.read_crema_d(root, with_audio=False).audio is None


def test_a_missing_file_names_the_download(tmp_path: Path):
    root = write_download(tmp_path / "c")
    (root / "VideoDemographics.csv").unlink()
    with pytest.raises(CorpusFormatError, match=r"c: VideoDemographics.csv not found .* CREMA-D download"):
        crema_d.crema_d_files(root)


def test_a_missing_column_names_the_file(tmp_path: Path):
    # the header up to meanEmoResp, with emoVote misspelt
    kept = VOTES_HEADER[: VOTES_HEADER.index("meanEmoResp") + 1]
    header = ["vote" if c == "emoVote" else c for c in kept]
    root = write_download(tmp_path / "c", votes_header=header)
    with pytest.raises(
        CorpusFormatError, match=r"tabulatedVotes.csv: required column\(s\) 'emoVote' missing"
    ):
        crema_d.read_crema_d(root)


def test_a_clip_number_listed_twice(tmp_path: Path):
    root = write_download(tmp_path / "c", sentences=[(1, "1001_IEO_ANG_HI"), (1, "1001_IEO_HAP_LO")])
    with pytest.raises(
        CorpusFormatError, match=r"SentenceFilenames.csv line 3: Stimulus_Number '1' is listed twice"
    ):
        crema_d.read_crema_d(root)


def test_an_actor_listed_twice(tmp_path: Path):
    root = write_download(tmp_path / "c", actors=[("1001", 51, "Male"), ("1001", 50, "Male")])
    with pytest.raises(
        CorpusFormatError, match=r"VideoDemographics.csv line 3: ActorID '1001' is listed twice"
    ):
        crema_d.read_crema_d(root)


# ----------------------------------------------------------------------------- speaker splits

ACTORS = [str(1001 + i) for i in range(91)]
SEXES = ["Male" if i % 2 == 0 or i > 85 else "Female" for i in range(91)]
SHARES = {"Train": 0.7, "Development": 0.1, "Test1": 0.2}


def test_speaker_splits_assign_every_actor_once_with_sexes_balanced():
    got = speaker_splits(ACTORS, SEXES, SHARES, seed=0)
    assert set(got) == set(ACTORS)  # each actor in exactly one split (a dict)
    sex_of = dict(zip(ACTORS, SEXES, strict=True))
    for sex in set(SEXES):
        n = SEXES.count(sex)
        per_split = Counter(s for a, s in got.items() if sex_of[a] == sex)
        for split, share in SHARES.items():
            assert abs(per_split[split] - share * n) < 1, (sex, split, per_split)


def test_speaker_splits_are_a_pure_function_of_their_arguments():
    a = speaker_splits(ACTORS, SEXES, SHARES, seed=3)
    assert a == speaker_splits(ACTORS, SEXES, SHARES, seed=3)
    assert a == speaker_splits(ACTORS[::-1], SEXES[::-1], SHARES, seed=3)  # order of the input
    assert a != speaker_splits(ACTORS, SEXES, SHARES, seed=4)


def test_speaker_splits_refuse_bad_shares():
    for shares, message in (
        ({"Train": 0.7, "Development": 0.2}, "sum to 1"),
        ({"Train": 1.0, "Holdout": 0.0}, "unknown split"),
        ({"Train": 1.2, "Test1": -0.2}, "positive"),
    ):
        with pytest.raises(ValueError, match=message):
            speaker_splits(ACTORS, SEXES, shares, seed=0)
    with pytest.raises(ValueError, match="listed twice"):
        speaker_splits(["1", "1"], ["Male", "Male"], SHARES, seed=0)


# ----------------------------------------------------------------------------- config and preflight


def test_config_section_crema_d():
    from sertools import config

    cfg = config.resolve({})["crema_d"]
    assert cfg["modality"] == "voice" and cfg["split_shares"] == {
        "Train": 0.7,
        "Development": 0.1,
        "Test1": 0.2,
    }
    with pytest.raises(config.ConfigError, match=r"'crema_d\.modality': 'video' is not one of"):
        config.resolve({"crema_d": {"modality": "video"}})
    with pytest.raises(config.ConfigError, match=r"crema_d\.split_shares': the shares must sum to 1"):
        config.resolve({"crema_d": {"split_shares": {"Train": 0.5, "Test1": 0.2}}})
    with pytest.raises(config.ConfigError, match=r"required when corpus\.source is crema_d"):
        config.resolve({"corpus": {"source": "crema_d"}})
    # a free-form map: the user's shares replace the default whole
    user = {"crema_d": {"split_shares": {"Train": 0.7, "Development": 0.1, "Test2": 0.2}}}
    assert config.resolve(user)["crema_d"]["split_shares"] == user["crema_d"]["split_shares"]
    with pytest.raises(config.ConfigError, match="Train and Development need a share"):
        config.resolve({"crema_d": {"split_shares": {"Train": 0.8, "Test1": 0.2}}})


def test_preflight_looks_at_a_crema_d_download(tmp_path: Path):
    from sertools import check, config

    root = write_download(tmp_path / "c")
    cfg = config.resolve({"corpus": {"source": "crema_d", "root": str(root)}})
    found = {f.check: f for f in check.corpus_findings(cfg)}
    assert found["corpus labels"].ok and not found["corpus audio"].ok
    write_download(root, audio=["1001_IEO_ANG_HI"])
    found = {f.check: f for f in check.corpus_findings(cfg)}
    assert found["corpus audio"].ok and "1 audio files" in found["corpus audio"].detail
    (root / "SentenceFilenames.csv").unlink()
    found = {f.check: f for f in check.corpus_findings(cfg)}
    assert (
        not found["corpus labels"].ok and "SentenceFilenames.csv not found" in found["corpus labels"].detail
    )


def test_git_lfs_pointers(tmp_path: Path):
    """A clone without `git lfs pull`: an optional responses pointer is skipped, a required one is named."""
    root = write_download(tmp_path / "c")
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 123\n"
    (root / "finishedResponses.csv").write_text(pointer)
    assert "responses" not in crema_d.crema_d_files(root)
    (root / "processedResults" / "tabulatedVotes.csv").write_text(pointer)
    with pytest.raises(
        CorpusFormatError, match=r"tabulatedVotes\.csv: a Git LFS pointer, not the file itself"
    ):
        crema_d.read_crema_d(root)

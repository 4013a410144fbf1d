"""Tiny CREMA-D-layout downloads written from Python rows (no file of the real corpus is copied).

The layout and columns are those of a CREMA-D clone (docs/corpus.md, "CREMA-D"):
``processedResults/tabulatedVotes.csv``, ``SentenceFilenames.csv``,
``VideoDemographics.csv``, optionally ``finishedResponses.csv`` and ``AudioWAV/``
with short synthetic WAV files.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

VOTES_HEADER = [
    "",
    "A",
    "D",
    "F",
    "H",
    "N",
    "S",
    "fileName",
    "numResponses",
    "agreement",
    "emoVote",
    "meanEmoResp",
]
RESPONSES_HEADER = [
    "localid",
    "sessionNums",
    "queryType",
    "clipNum",
    "clipName",
    "respEmo",
    "respLevel",
    "dispEmo",
]

#: (file name, voice counts A D F H N S): the clips of the default fixture, numbered 1.. in this order
CLIPS: list[tuple[str, tuple[int, ...]]] = [
    ("1001_IEO_ANG_HI", (6, 1, 0, 0, 2, 0)),  # A, intended A
    ("1001_IEO_HAP_LO", (0, 0, 0, 3, 6, 0)),  # N, intended H
    ("1001_TIE_DIS_XX", (4, 4, 0, 0, 1, 0)),  # a tie A:D
    ("1002_IEO_SAD_MD", (0, 0, 1, 0, 2, 7)),  # S, intended S
    ("1002_TIE_FEA_XX", (1, 0, 5, 0, 3, 0)),  # F, intended F
    ("1003_IWW_NEU_XX", (0, 0, 0, 1, 9, 0)),  # N, intended N
    ("1004_IOM_HAP_XX", (0, 0, 0, 8, 1, 1)),  # H, intended H
]
#: (ActorID, Age, Sex)
ACTORS: list[tuple[str, int, str]] = [
    ("1001", 51, "Male"),
    ("1002", 21, "Female"),
    ("1003", 21, "Female"),
    ("1004", 42, "Female"),
    ("1005", 29, "Male"),
    ("1006", 58, "Female"),
]
CODES = "ADFHNS"


def emo_vote(counts: Sequence[int]) -> str:
    """The most-voted class code(s), joined by ``:`` on a tie (as tabulatedVotes.csv writes them)."""
    top = max(counts)
    return ":".join(c for c, n in zip(CODES, counts, strict=True) if n == top)


def vote_row(query: int, clip: int, name: str, counts: Sequence[int]) -> list[object]:
    """One row of tabulatedVotes.csv, its derived columns computed from ``counts``."""
    n = sum(counts)
    return [query * 100000 + clip, *counts, name, n, max(counts) / n if n else 0, emo_vote(counts), 60.5]


def default_votes(clips: Sequence[tuple[str, Sequence[int]]] = CLIPS) -> list[list[object]]:
    """Rows of every modality: voice the given counts, face and audio-visual the counts rotated."""
    rows = []
    for query in (1, 2, 3):
        for clip, (name, counts) in enumerate(clips, start=1):
            c = list(counts)
            shift = query - 1
            rows.append(vote_row(query, clip, name, c[shift:] + c[:shift] if shift else c))
    return rows


def write_download(
    root: Path,
    *,
    votes: Sequence[Sequence[object]] | None = None,
    clips: Sequence[tuple[str, Sequence[int]]] = CLIPS,
    sentences: Sequence[tuple[object, str]] | None = None,
    actors: Sequence[tuple[str, int, str]] = ACTORS,
    responses: Sequence[Sequence[object]] | None = None,
    audio: Sequence[str] | None = None,
    votes_header: Sequence[str] = VOTES_HEADER,
) -> Path:
    """Write a CREMA-D download at ``root``; ``audio``: the stems to write as 0.6 s WAV files
    (default: none and no AudioWAV/ folder)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "processedResults").mkdir(exist_ok=True)
    _csv(root / "processedResults" / "tabulatedVotes.csv", votes_header, votes or default_votes(clips))
    if sentences is None:
        sentences = [(i, name) for i, (name, _) in enumerate(clips, start=1)]
    _csv(root / "SentenceFilenames.csv", ["Stimulus_Number", "Filename"], sentences)
    _csv(
        root / "VideoDemographics.csv",
        ["ActorID", "Age", "Sex", "Race", "Ethnicity"],
        [(a, age, sex, "Caucasian", "Not Hispanic") for a, age, sex in actors],
    )
    if responses is not None:
        _csv(root / "finishedResponses.csv", RESPONSES_HEADER, responses)
    if audio is not None:
        folder = root / "AudioWAV"
        folder.mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        for stem in audio:
            sf.write(folder / f"{stem}.wav", 0.1 * rng.standard_normal(9600), 16000, subtype="PCM_16")
    return root


def responses_for(clips: Sequence[tuple[str, Sequence[int]]] = CLIPS, query: int = 1) -> list[list[object]]:
    """finishedResponses.csv rows that reproduce the voice counts: one rater per vote."""
    rows: list[list[object]] = []
    for clip, (name, counts) in enumerate(clips, start=1):
        rater = 0
        for code, n in zip(CODES, counts, strict=True):
            for _ in range(n):
                rater += 1
                rows.append(
                    [f"r{rater:02d}", 1, query, clip, name, code, 10 * rater % 101, name.split("_")[2]]
                )
    return rows


def _csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)
        w.writerow(header)
        w.writerows(rows)


def settings(**over: object) -> dict[str, object]:
    """The ``crema_d`` config section with overrides."""
    from sertools import config

    return {**config.resolve({})["crema_d"], **over}


#: the file-name emotion codes in class-set order (sertools.classes.CREMA_D)
FILE_CODES = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
PIPELINE_SENTENCES = ("IEO", "TIE")


def pipeline_clips(seed: int = 0) -> list[tuple[str, tuple[int, ...]]]:
    """Clips for the stages after labels: every actor of :data:`ACTORS` says each sentence of
    :data:`PIPELINE_SENTENCES` in each of the six emotions; 9 voice votes, most often for the
    intended class (so some clips are tied, X)."""
    rng = np.random.default_rng(seed)
    clips = []
    for actor, _, _ in ACTORS:
        for sentence in PIPELINE_SENTENCES:
            for c, code in enumerate(FILE_CODES):
                p = np.full(6, 0.3 / 5)
                p[c] = 0.7
                counts = np.bincount(rng.choice(6, size=9, p=p), minlength=6)
                level = "HI" if sentence == "IEO" else "XX"
                clips.append((f"{actor}_{sentence}_{code}_{level}", tuple(int(n) for n in counts)))
    return clips


def write_pipeline_download(root: Path, seed: int = 0) -> Path:
    """A download with :func:`pipeline_clips` and their audio: 0.6 s tones whose pitch and loudness
    follow the intended class (so a head on eGeMAPS features has something to learn)."""
    clips = pipeline_clips(seed)
    write_download(root, clips=clips)
    folder = root / "AudioWAV"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed + 1)
    t = np.arange(9600) / 16000
    for name, _ in clips:
        c = FILE_CODES.index(name.split("_")[2])
        x = (0.05 + 0.05 * c) * np.sin(2 * np.pi * (120 + 40 * c) * t) + 0.01 * rng.standard_normal(len(t))
        sf.write(folder / f"{name}.wav", x, 16000, subtype="PCM_16")
    return root


#: speaker split shares that give every split of a :func:`write_pipeline_download` actors
PIPELINE_SHARES = {"Train": 0.5, "Development": 0.25, "Test1": 0.25}

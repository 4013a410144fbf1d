"""The synthetic corpus in the CREMA-D download layout (``synthetic.classes: crema_d``).

The same generator (layout, latent truth, raters, votes, audio) over CREMA-D's six classes
(:func:`sertools.corpus.synthetic.labels.class_tables`), written as the files the CREMA-D
reader (:mod:`sertools.corpus.crema_d`) reads, unchanged:

- ``AudioWAV/<AAAA_SSS_EEE_LL>.wav``: the synthetic audio. ``AAAA`` is the speaker as an actor
  (``1001`` + the speaker's index), ``SSS`` the utterance's rank among its speaker's utterances
  written in three letters (``AAA``, ``AAB``, ...), so every name is unique; ``EEE`` the dominant
  latent class as the "intended" emotion; ``LL`` is ``XX`` (unspecified level);
- ``processedResults/tabulatedVotes.csv``: one voice row per clip (row id ``100000 + clip``),
  the vote counts ``A, D, F, H, N, S``, ``fileName``, ``numResponses``, ``agreement`` (the
  plurality's share) and ``emoVote`` (the most-voted codes, ties joined by ``:``);
- ``SentenceFilenames.csv`` (clip number -> file name, clips numbered in the layout's order);
- ``VideoDemographics.csv``: one actor per speaker, with its sex and a synthetic age.

The known truth is at the root as for the MSP-Podcast layout (``latent_truth.parquet``,
``rater_mixture.parquet``, 6-wide; ``rater_truth.parquet``; ``synth_meta.json``), keyed by the
clip name (the CREMA-D label table's ``file_id``). The latent truth has no ``split`` column: the
CREMA-D label stage assigns actors to splits (``crema_d.split_shares``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from sertools.classes import CREMA_D
from sertools.corpus import crema_d as reader
from sertools.corpus.synthetic import sampling
from sertools.corpus.synthetic.layout import Layout
from sertools.io import atomic_path

#: the files of a CREMA-D-layout corpus, relative to its root
AUDIO_DIR = reader.AUDIO_DIR
VOTES = "/".join(reader.VOTES)
SENTENCES = reader.SENTENCES
DEMOGRAPHICS = reader.DEMOGRAPHICS
VOTES_HEADER = ("", *CREMA_D.codes, "fileName", "numResponses", "agreement", "emoVote")
#: the first actor id (CREMA-D's actors are 1001-1091)
FIRST_ACTOR = 1001
#: the file-name emotion code of each class of CREMA_D, in class order
FILE_CODES: tuple[str, ...] = tuple({v: k for k, v in reader.FILE_EMOTIONS.items()}[c] for c in CREMA_D.codes)
LEVEL = "XX"
#: the random stream of the actors' ages (after the streams of :mod:`.sampling`)
STREAM_DEMOGRAPHICS = sampling.STREAM_AUDIO + 1
_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def actor_ids(layout: Layout) -> np.ndarray:
    """The actor id (4 digits) of every speaker."""
    n = len(layout.spk_id)
    if FIRST_ACTOR + n - 1 > 9999:
        raise ValueError(f"{n:,} speakers do not fit CREMA-D's 4-digit actor ids; lower `utterances`")
    return np.array([str(FIRST_ACTOR + i) for i in range(n)], dtype=object)


def clip_names(layout: Layout, dominant: np.ndarray) -> np.ndarray:
    """``AAAA_SSS_EEE_LL`` of every utterance (see the module docstring); unique by (actor, sentence)."""
    n = len(layout.speaker)
    order = np.argsort(layout.speaker, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(layout.speaker[order])) + 1]
    lengths = np.diff(np.r_[starts, n])
    rank[order] = np.arange(n) - np.repeat(starts, lengths)
    if n and rank.max() >= 26**3:
        raise ValueError("a speaker has more than 17,576 utterances: CREMA-D's sentence codes have 3 letters")
    sentence = _LETTERS[rank // 676] + _LETTERS[(rank // 26) % 26] + _LETTERS[rank % 26]
    emotion = np.array(FILE_CODES, dtype=object)[dominant]
    actors = actor_ids(layout)[layout.speaker]
    return (actors + "_" + sentence.astype(object) + "_" + emotion + "_" + LEVEL).astype(object)


def audio_layout(layout: Layout, names: np.ndarray) -> Layout:
    """``layout`` with the clips' wav names (for :func:`sertools.corpus.synthetic.writers.write_audio`)."""
    return dataclasses.replace(layout, file_id=(names + reader.AUDIO_SUFFIX).astype(object))


def _write_csv(dest: Path, df: pd.DataFrame) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")


def emo_votes(counts: np.ndarray) -> np.ndarray:
    """The most-voted class code(s) of every row, ties joined by ``:`` in class order."""
    codes = np.array(CREMA_D.codes, dtype=object)
    top = counts == counts.max(axis=1, keepdims=True)
    return np.array([":".join(codes[row]) for row in top], dtype=object)


def write_votes(root: Path, names: np.ndarray, counts: np.ndarray) -> None:
    """``processedResults/tabulatedVotes.csv``: the voice rows (clip ``i + 1`` is ``names[i]``)."""
    n_resp = counts.sum(axis=1)
    if (n_resp == 0).any():
        raise ValueError("an utterance has no votes")  # pragma: no cover (every utterance has annotators)
    frame = {"": reader.MODALITIES["voice"] * reader.ID_FACTOR + np.arange(1, len(names) + 1)}
    frame.update({c: counts[:, j] for j, c in enumerate(CREMA_D.codes)})
    frame.update(
        {
            "fileName": names,
            "numResponses": n_resp,
            "agreement": np.round(counts.max(axis=1) / n_resp, 6),
            "emoVote": emo_votes(counts),
        }
    )
    _write_csv(root / VOTES, pd.DataFrame(frame, columns=list(VOTES_HEADER)))


def write_sentences(root: Path, names: np.ndarray) -> None:
    """``SentenceFilenames.csv``: clip number -> file name."""
    df = pd.DataFrame({"Stimulus_Number": np.arange(1, len(names) + 1), "Filename": names})
    _write_csv(root / SENTENCES, df)


def write_demographics(root: Path, layout: Layout, seed: int) -> None:
    """``VideoDemographics.csv``: every speaker as an actor, its sex from the layout, an age of 20-74."""
    rng = sampling.rng(seed, STREAM_DEMOGRAPHICS)
    n = len(layout.spk_id)
    df = pd.DataFrame(
        {
            "ActorID": actor_ids(layout),
            "Age": rng.integers(20, 75, n),
            "Sex": np.where(layout.spk_female, "Female", "Male"),
            "Race": "Unknown",
            "Ethnicity": "Unknown",
        }
    )
    _write_csv(root / DEMOGRAPHICS, df)

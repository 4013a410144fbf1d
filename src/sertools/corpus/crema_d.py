"""Reader of a CREMA-D download, as it is cloned (docs/corpus.md, "CREMA-D").

The reader only parses: it returns the files' rows as strings (with their line
numbers) so that the label stage (:mod:`sertools.labels.crema_d`) decides, and
counts, what is valid. Columns are found by name, in any order; extra columns
are ignored; a missing file or column is an error naming the file.

Files read from the root of a download:

- ``processedResults/tabulatedVotes.csv``: one row per clip and modality; the
  unnamed first column is ``100000 * queryType + clipNum`` (:data:`MODALITIES`),
  then the counts ``A, D, F, H, N, S``, ``fileName``, ``numResponses``,
  ``agreement``, ``emoVote`` (tied classes joined by ``:``) and ``meanEmoResp``;
- ``SentenceFilenames.csv``: ``Stimulus_Number`` (the clip number) and ``Filename``;
- ``VideoDemographics.csv``: ``ActorID``, ``Age``, ``Sex`` (and race and ethnicity, not read);
- ``finishedResponses.csv`` when present: one row per response, of which
  ``localid`` (the rater), ``queryType``, ``clipNum``, ``respEmo`` (a class
  code) and ``respLevel`` (0-100) are read. It is stored in Git LFS: a clone
  that holds only its pointer is read as a download without it
  (:func:`crema_d_files`), while a pointer given as a file to read, or in place
  of a required file, is an error saying so;
- ``AudioWAV/``: the clips' audio, ``<fileName>.wav`` (only the names are listed).

A clip's file name ``AAAA_SSS_EEE_LL`` is the actor, the sentence, the intended
emotion (:data:`FILE_EMOTIONS`) and the intended level (:data:`LEVELS`),
parsed by :func:`parse_file_name`. :func:`speaker_splits` assigns actors to
splits (the corpus has no official partition).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sertools.classes import CREMA_D
from sertools.corpus.msp import CorpusFormatError, find_entry
from sertools.splits import SPLITS

__all__ = [
    "AUDIO_DIR",
    "FILE_EMOTIONS",
    "LEVELS",
    "MODALITIES",
    "ClipName",
    "CorpusFormatError",
    "RawCremaD",
    "crema_d_files",
    "parse_file_name",
    "read_crema_d",
    "read_files",
    "speaker_splits",
]

#: the audio folder of a download (16 kHz mono WAV)
AUDIO_DIR = "AudioWAV"
#: a clip's audio file is ``AUDIO_DIR/<fileName><AUDIO_SUFFIX>``
AUDIO_SUFFIX = ".wav"
#: the tabulated votes, relative to the root
VOTES = ("processedResults", "tabulatedVotes.csv")
SENTENCES = "SentenceFilenames.csv"
DEMOGRAPHICS = "VideoDemographics.csv"
RESPONSES = "finishedResponses.csv"

#: modality name -> queryType of the response logs (the leading digit of tabulatedVotes' row id)
MODALITIES: dict[str, int] = {"voice": 1, "face": 2, "audiovisual": 3}

#: the factor of queryType in tabulatedVotes' row id (``100000 * queryType + clipNum``)
ID_FACTOR = 100_000
#: the intended-emotion code of a file name -> the class code of :data:`sertools.classes.CREMA_D`
FILE_EMOTIONS: dict[str, str] = {"ANG": "A", "DIS": "D", "FEA": "F", "HAP": "H", "NEU": "N", "SAD": "S"}
#: the intended levels of a file name: low, medium, high, unspecified
LEVELS: tuple[str, ...] = ("LO", "MD", "HI", "XX")
#: the vote-count columns of tabulatedVotes.csv, in class-set order
COUNT_COLUMNS: tuple[str, ...] = CREMA_D.codes
VOTE_COLUMNS: tuple[str, ...] = ("fileName", "numResponses", "agreement", "emoVote")
OPTIONAL_VOTE_COLUMNS: tuple[str, ...] = ("meanEmoResp",)
RESPONSE_COLUMNS: tuple[str, ...] = ("localid", "queryType", "clipNum", "respEmo", "respLevel")

_FILE_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


def modality_order(names: Iterable[str]) -> list[str]:
    """``names`` in the corpus's query-type order (voice, face, audio-visual), unknown names last by
    name (a summary read back from JSON has its modalities in key order)."""
    return sorted(names, key=lambda m: (MODALITIES.get(m, len(MODALITIES) + 1), m))


@dataclass(frozen=True)
class ClipName:
    """The parts of a clip's file name ``AAAA_SSS_EEE_LL``."""

    actor: str
    sentence: str
    intended: str  # a class code of CREMA_D (A, D, F, H, N, S)
    level: str  # one of LEVELS


def parse_file_name(name: str) -> ClipName | None:
    """The actor, sentence, intended emotion (as a class code) and level of a file name; None when malformed.

    ``name`` may carry a ``.wav`` suffix. Malformed: not four digits, three letters, one of
    :data:`FILE_EMOTIONS` and one of :data:`LEVELS` joined by ``_``.
    """
    m = _FILE_NAME.match(name.strip().removesuffix(".wav"))
    if m is None:
        return None
    actor, sentence, emotion, level = m.groups()
    code = FILE_EMOTIONS.get(emotion)
    if code is None or level not in LEVELS:
        return None
    return ClipName(actor, sentence, code, level)


@dataclass(frozen=True)
class RawCremaD:
    """The files of a download as read (every value a string, whitespace stripped).

    ``votes``: tabulatedVotes.csv, columns ``row_id``, ``A`` ... ``S``, ``fileName``,
    ``numResponses``, ``agreement``, ``emoVote``, ``meanEmoResp`` (empty when the file has
    none) and ``line`` (1-based line number in the file).
    ``sentences``: clip number (``Stimulus_Number``) -> file name.
    ``demographics``: columns ``actor``, ``age``, ``sex``, ``line``.
    ``responses``: finishedResponses.csv (None when absent), columns ``rater``,
    ``query_type``, ``clip``, ``emotion``, ``level``, ``line``.
    ``audio``: the stems of ``AudioWAV/*.wav`` (None when the download has no audio folder).
    """

    votes: pd.DataFrame
    sentences: dict[str, str]
    demographics: pd.DataFrame
    responses: pd.DataFrame | None
    votes_path: Path
    sentences_path: Path
    demographics_path: Path
    responses_path: Path | None
    audio: frozenset[str] | None = None
    audio_dir: Path | None = None


def crema_d_files(root: str | Path) -> dict[str, Path]:
    """The files of a download: ``votes``, ``sentences``, ``demographics``, and ``responses`` and
    ``audio`` (the AudioWAV folder) when present. Names are matched in any case; a missing
    required file is an error naming the root."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusFormatError(f"{root}: not a directory (expected a CREMA-D download)")
    processed = find_entry(root, [VOTES[0]], directory=True)
    votes = find_entry(processed, [VOTES[1]]) if processed is not None else None
    out: dict[str, Path] = {}
    for key, found, name in (
        ("votes", votes, "/".join(VOTES)),
        ("sentences", find_entry(root, [SENTENCES]), SENTENCES),
        ("demographics", find_entry(root, [DEMOGRAPHICS]), DEMOGRAPHICS),
    ):
        if found is None:
            raise CorpusFormatError(
                f"{root}: {name} not found - this does not look like a CREMA-D download (expected "
                f"{'/'.join(VOTES)}, {SENTENCES}, {DEMOGRAPHICS} and {AUDIO_DIR}/)"
            )
        out[key] = found
    responses = find_entry(root, [RESPONSES])
    if responses is not None and not is_lfs_pointer(responses):  # a pointer: read as absent (module doc)
        out["responses"] = responses
    audio = find_entry(root, [AUDIO_DIR], directory=True)
    if audio is not None:
        out["audio"] = audio
    return out


#: the first bytes of a Git LFS pointer file (a clone without ``git lfs pull`` holds these instead of the files)
LFS_POINTER = b"version https://git-lfs.github.com/spec/"


def is_lfs_pointer(path: Path) -> bool:
    """Whether ``path`` is a Git LFS pointer rather than the file it stands for."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(LFS_POINTER)) == LFS_POINTER
    except OSError:
        return False


def _read_csv(path: Path) -> pd.DataFrame:
    if is_lfs_pointer(path):
        raise CorpusFormatError(
            f"{path}: a Git LFS pointer, not the file itself (fetch it with `git lfs pull --include "
            f"{path.name}` in the clone)"
        )
    try:
        df = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", encoding_errors="replace"
        )
    except FileNotFoundError:
        raise CorpusFormatError(f"{path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise CorpusFormatError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as e:
        raise CorpusFormatError(f"{path}: not a readable CSV file ({e})") from None
    df.columns = [str(c).strip() for c in df.columns]
    for c in df.columns:
        df[c] = df[c].astype(str).str.strip()
    return df


def _require(path: Path, df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CorpusFormatError(
            f"{path}: required column(s) {', '.join(map(repr, missing))} missing "
            f"(columns found: {', '.join(df.columns)})"
        )


def _lines(n: int) -> np.ndarray:
    return np.arange(2, n + 2, dtype=np.int64)


def read_votes(path: Path) -> pd.DataFrame:
    """tabulatedVotes.csv as strings: ``row_id`` (the first column, unnamed in the download), the
    count columns, :data:`VOTE_COLUMNS`, ``meanEmoResp`` and ``line``."""
    raw = _read_csv(path)
    if not len(raw.columns):
        raise CorpusFormatError(f"{path}: no columns")
    _require(path, raw, (*COUNT_COLUMNS, *VOTE_COLUMNS))
    first = raw.columns[0]
    if first in (*COUNT_COLUMNS, *VOTE_COLUMNS):
        raise CorpusFormatError(f"{path}: the first column must be the row id (100000 x queryType + clipNum)")
    out = pd.DataFrame({"row_id": raw[first]})
    for c in (*COUNT_COLUMNS, *VOTE_COLUMNS):
        out[c] = raw[c]
    for c in OPTIONAL_VOTE_COLUMNS:
        out[c] = raw[c] if c in raw.columns else ""
    out["line"] = _lines(len(raw))
    return out


def read_sentences(path: Path) -> dict[str, str]:
    """SentenceFilenames.csv: clip number (as written, e.g. ``"1"``) -> file name; a clip number
    listed twice is an error naming the file and line."""
    raw = _read_csv(path)
    _require(path, raw, ("Stimulus_Number", "Filename"))
    out: dict[str, str] = {}
    for line, number, name in zip(_lines(len(raw)), raw["Stimulus_Number"], raw["Filename"], strict=True):
        key = _int_text(number)
        if key is None:
            raise CorpusFormatError(f"{path} line {line}: Stimulus_Number {number!r} is not a whole number")
        if key in out:
            raise CorpusFormatError(f"{path} line {line}: Stimulus_Number {number!r} is listed twice")
        out[key] = name
    return out


def read_demographics(path: Path) -> pd.DataFrame:
    """VideoDemographics.csv: ``actor``, ``age``, ``sex`` and ``line`` (strings); an actor listed
    twice is an error naming the file and line."""
    raw = _read_csv(path)
    _require(path, raw, ("ActorID", "Age", "Sex"))
    out = pd.DataFrame({"actor": raw["ActorID"], "age": raw["Age"], "sex": raw["Sex"]})
    out["line"] = _lines(len(raw))
    dup = out["actor"].duplicated(keep="first").to_numpy()
    if dup.any():
        row = out.loc[dup].iloc[0]
        raise CorpusFormatError(f"{path} line {row['line']}: ActorID {row['actor']!r} is listed twice")
    return out


def read_responses(path: Path) -> pd.DataFrame:
    """finishedResponses.csv: ``rater``, ``query_type``, ``clip``, ``emotion``, ``level`` and ``line``."""
    raw = _read_csv(path)
    _require(path, raw, RESPONSE_COLUMNS)
    out = pd.DataFrame(
        {
            "rater": raw["localid"],
            "query_type": raw["queryType"],
            "clip": raw["clipNum"],
            "emotion": raw["respEmo"],
            "level": raw["respLevel"],
        }
    )
    out["line"] = _lines(len(raw))
    return out


def _int_text(text: str) -> str | None:
    """The canonical text of a whole number (``"007"`` and ``"7.0"`` -> ``"7"``), or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or value != int(value):
        return None
    return str(int(value))


def audio_stems(folder: Path) -> frozenset[str]:
    """The stems of the ``.wav`` files (any case of the suffix) in an AudioWAV folder."""
    return frozenset(p.stem for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".wav")


def read_files(
    votes: str | Path,
    sentences: str | Path,
    demographics: str | Path,
    responses: str | Path | None = None,
    audio: str | Path | None = None,
) -> RawCremaD:
    """Read the files of a download (see :class:`RawCremaD`); ``responses`` and ``audio`` are optional."""
    vpath, spath, dpath = Path(votes), Path(sentences), Path(demographics)
    rpath = Path(responses) if responses is not None else None
    apath = Path(audio) if audio is not None else None
    if apath is not None and not apath.is_dir():
        raise CorpusFormatError(f"{apath}: audio folder not found")
    return RawCremaD(
        votes=read_votes(vpath),
        sentences=read_sentences(spath),
        demographics=read_demographics(dpath),
        responses=read_responses(rpath) if rpath is not None else None,
        votes_path=vpath,
        sentences_path=spath,
        demographics_path=dpath,
        responses_path=rpath,
        audio=audio_stems(apath) if apath is not None else None,
        audio_dir=apath,
    )


def read_crema_d(root: str | Path, *, with_audio: bool = True) -> RawCremaD:
    """Read a download at ``root`` (:func:`crema_d_files`); ``with_audio=False`` ignores AudioWAV/."""
    files = crema_d_files(root)
    return read_files(
        files["votes"],
        files["sentences"],
        files["demographics"],
        files.get("responses"),
        files.get("audio") if with_audio else None,
    )


# ----------------------------------------------------------------------------- splits


def speaker_splits(
    actors: Sequence[str], sexes: Sequence[str], shares: Mapping[str, float], seed: int
) -> dict[str, str]:
    """Assign every actor to one split, sexes balanced across splits: actor -> split name.

    ``shares``: split name (of :data:`sertools.splits.SPLITS`) -> share of the actors, positive and
    summing to 1. Within each sex (its actors sorted, then shuffled by ``numpy.random.default_rng(seed)``)
    the splits get ``share x n`` actors rounded by the largest remainder (ties to the earlier split
    of :data:`~sertools.splits.SPLITS`), so that each split's share of every sex is as close to its
    share as whole actors allow. A pure function of its arguments, the same for any order of ``actors``.
    """
    if len(actors) != len(sexes):
        raise ValueError(f"{len(actors)} actors but {len(sexes)} sexes")
    if len(set(actors)) != len(actors):
        raise ValueError("an actor is listed twice")
    _check_shares(shares)
    names = [s for s in SPLITS if s in shares]
    weights = np.array([float(shares[s]) for s in names])
    rng = np.random.default_rng(seed)
    sex_of = dict(zip(actors, sexes, strict=True))
    out: dict[str, str] = {}
    for sex in sorted(set(sexes)):
        group = sorted(a for a in actors if sex_of[a] == sex)
        order = [group[i] for i in rng.permutation(len(group))]
        counts = _largest_remainder(len(group), weights)
        start = 0
        for name, n in zip(names, counts, strict=True):
            for actor in order[start : start + n]:
                out[actor] = name
            start += n
    return out


def _check_shares(shares: Mapping[str, float]) -> None:
    unknown = [s for s in shares if s not in SPLITS]
    if unknown:
        raise ValueError(f"split shares name unknown split(s) {unknown} (known: {', '.join(SPLITS)})")
    if not shares or any(not float(v) > 0 for v in shares.values()):
        raise ValueError(f"split shares must be positive, got {dict(shares)}")
    if abs(sum(float(v) for v in shares.values()) - 1.0) > 1e-6:
        raise ValueError(f"split shares must sum to 1, got {dict(shares)}")


def _largest_remainder(n: int, weights: np.ndarray) -> list[int]:
    """``n`` split into whole parts proportional to ``weights`` (Hamilton's method, ties to the first)."""
    exact = n * weights / weights.sum()
    base = np.floor(exact).astype(int)
    rest = n - int(base.sum())
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - base[i]), i))
    for i in order[:rest]:
        base[i] += 1
    return [int(b) for b in base]

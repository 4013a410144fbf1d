"""The inputs of an ``infer`` call: which files it reads, and each one as mono samples at the model's rate.

Sources (:func:`expand`), each in the order given:

* an audio file: itself (any format libsndfile reads: WAV, FLAC, OGG/Vorbis, ...);
* a folder: every file under it, recursively, whose suffix is one of
  :data:`AUDIO_SUFFIXES` (any case), sorted by path;
* a list file (suffix in :data:`LIST_SUFFIXES`): one path per line, relative
  to the list's folder unless absolute; blank lines and lines starting with
  ``#`` are skipped; a listed folder is expanded as above.

A source that does not exist is a drop (``missing``), not an error, so the
rest is still read; a call with nothing to read at all is an error.

Decoding (:func:`decode`), the same conversion the manifest stage applies
(:func:`sertools.data.audio.load_mono`): samples as float32 through
soundfile; several channels are averaged into one (the documented downmix:
the mean of the channels, so a stereo file with the voice on one channel comes
out at half its level, which the ``utterance`` waveform normalisation undoes);
any other rate is resampled to the model's with
``torchaudio.functional.resample`` (band-limited sinc interpolation, its
defaults). A file that cannot be used is a :class:`Dropped` with one reason of
:data:`REASONS`; what is too short for the model is decided by the predictor
(``too_short``, :mod:`sertools.inference.predictor`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sertools.data.audio import load_mono, probe

AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg", ".oga")
LIST_SUFFIXES: tuple[str, ...] = (".txt", ".lst", ".list")
#: why an input has no row: the file is missing, libsndfile cannot read it, it holds no samples, a
#: WAV's data chunk is cut short, a sample is NaN or infinite, or it is shorter than the model's
#: receptive field (checked by the predictor)
REASONS: tuple[str, ...] = ("missing", "unreadable", "empty", "truncated", "not_finite", "too_short")


@dataclass(frozen=True)
class Dropped:
    """An input without a row: its path as given, the reason (one of :data:`REASONS`) and a detail."""

    path: str
    reason: str
    detail: str = ""


class AudioProblem(ValueError):
    """A file that cannot be used, with its reason (one of :data:`REASONS`)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def _folder(path: Path) -> list[str]:
    return sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def _list_file(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.strip()
        if entry and not entry.startswith("#"):
            out.append(str(Path(entry) if Path(entry).is_absolute() else path.parent / entry))
    return out


def expand(sources: Iterable[str | Path]) -> tuple[list[str], list[Dropped]]:
    """(audio files to read, in order; sources that do not exist) of the sources of an ``infer`` call."""
    files: list[str] = []
    missing: list[Dropped] = []
    todo = [(str(s), True) for s in sources]
    while todo:
        source, may_be_list = todo.pop(0)
        path = Path(source).expanduser()
        if path.is_dir():
            files.extend(_folder(path))
        elif not path.exists():
            missing.append(Dropped(source, "missing", "no such file or folder"))
        elif may_be_list and path.suffix.lower() in LIST_SUFFIXES:
            todo[0:0] = [(entry, False) for entry in _list_file(path)]  # a list does not name lists
        else:
            files.append(source)
    if not files and not missing:
        raise ValueError(
            f"no audio found in {[str(s) for s in sources]} (folders are searched for "
            f"{', '.join(AUDIO_SUFFIXES)} files)"
        )
    return files, missing


def decode(path: str, sample_rate: int) -> np.ndarray:
    """Mono float32 samples of ``path`` at ``sample_rate`` (see the module docstring), or :class:`AudioProblem`."""
    facts = probe(Path(path))
    if facts.problem is not None:
        raise AudioProblem(facts.problem, facts.detail)
    try:
        wave = load_mono(path, sample_rate)
    except (RuntimeError, OSError, ValueError) as e:  # libsndfile errors are RuntimeErrors
        raise AudioProblem("unreadable", str(e).splitlines()[0][:200]) from None
    if not len(wave):
        raise AudioProblem("empty", "no audio frames")
    if not np.isfinite(wave).all():
        raise AudioProblem("not_finite", f"{int((~np.isfinite(wave)).sum())} NaN or infinite samples")
    return wave


def drop_counts(dropped: Sequence[Dropped]) -> dict[str, int]:
    """Drops per reason, in the order of :data:`REASONS` (reasons without a drop left out)."""
    return {r: n for r in REASONS if (n := sum(d.reason == r for d in dropped))}

"""eGeMAPSv02 functionals with openSMILE: 88 hand-crafted acoustic features per utterance.

The extended Geneva Minimalistic Acoustic Parameter Set (Eyben et al., 2016)
summarises pitch, loudness, jitter/shimmer, formants, spectral slope and
MFCCs 1-4 over a whole utterance: the classic frozen baseline for speech
emotion recognition, and a cheap upstream next to WavLM. Each file is read
with :func:`sertools.data.audio.read_audio` (the manifest's promise of mono
audio at ``sample_rate`` is checked there) and passed to openSMILE's
eGeMAPSv02 configuration at the Functionals level, which yields one row of 88
values in openSMILE's order (:func:`feature_names`).

Two things openSMILE does not check are checked here (:func:`functionals`, which
the ``infer`` command also calls on decoded audio), each stopping with one line
naming the file (:class:`~sertools.data.errors.DataError`):

* openSMILE scales float samples by 32768 and casts them to int16. A sample at
  or beyond full scale (possible in a float WAV) would wrap around to the
  opposite sign, and a NaN sample becomes an arbitrary integer; so samples are
  clipped to the int16 range first (PCM_16 audio is unchanged by this) and
  non-finite samples are refused.
* A clip shorter than openSMILE's analysis windows (about 0.1 s) gets a row of
  NaN and a ``UserWarning``; the warning is silenced and any non-finite row is
  refused instead, so no NaN reaches a downstream head.

Parallelism: openSMILE's engine is single-threaded and each call is
independent of the others, so utterances are spread over processes
(:func:`extract` with ``workers`` > 1). A row does not depend on which process
computed it, nor on which other files it was processed with: ``workers=1`` and
``workers=2`` give bitwise identical arrays.
"""

from __future__ import annotations

import math
import multiprocessing
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from itertools import repeat

import numpy as np
import opensmile

from sertools.data.audio import read_audio
from sertools.data.errors import DataError

FEATURE_SET = "eGeMAPSv02"
DIM = 88
#: default chunks per worker: enough that a worker that drew long files does not
#: leave the other idle at the end, few enough that the per-task overhead is nil
CHUNKS_PER_WORKER = 4
#: largest float sample that survives openSMILE's ``x * 32768 -> int16`` unchanged
_FULL_SCALE = 32767 / 32768


@cache
def _smile() -> opensmile.Smile:
    """This process's extractor, built once (parsing the configuration takes ~0.3 s).

    Cached per process: the caller's process for ``workers=1``, and each pool
    worker on its first chunk. Each ``process_signal`` call starts a fresh
    openSMILE engine from it, so no state carries over from one file to the next.
    """
    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,  # FEATURE_SET
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def feature_names() -> list[str]:
    """The 88 functional names, in the column order of :func:`extract`'s rows."""
    names = list(_smile().feature_names)
    if len(names) != DIM:  # a different openSMILE release changed the set
        raise RuntimeError(f"openSMILE {FEATURE_SET} functionals have {len(names)} names, expected {DIM}")
    return names


def _row(path: str, sample_rate: int) -> np.ndarray:
    """The 88 float32 functionals of one file (one line naming it if they cannot be had)."""
    return functionals(read_audio(path, sample_rate), sample_rate, path)


def functionals(wav: np.ndarray, sample_rate: int, where: str) -> np.ndarray:
    """The 88 float32 functionals of mono float samples ``wav`` (modified in place: clipped);
    ``where`` names the audio in the one-line error (the checks of the module docstring)."""
    if not np.isfinite(wav).all():
        raise DataError(f"{where}: audio has non-finite samples")
    np.clip(wav, -1.0, _FULL_SCALE, out=wav)
    with warnings.catch_warnings():
        # too short a clip: openSMILE warns and returns NaN, which is refused below with the file's name
        warnings.filterwarnings("ignore", message="Segment too short", category=UserWarning)
        frame = _smile().process_signal(wav, sample_rate)
    row = frame.to_numpy(dtype=np.float32)
    if row.shape != (1, DIM):
        raise DataError(f"{where}: openSMILE returned {row.shape} functionals, expected (1, {DIM})")
    bad = ~np.isfinite(row[0])
    if bad.any():
        first = feature_names()[int(np.argmax(bad))]
        raise DataError(
            f"{where}: {int(bad.sum())} of {DIM} eGeMAPS features are not finite (first: {first}); "
            f"{len(wav) / sample_rate:.3f} s of audio (too short or silent?)"
        )
    return row[0]


def _rows(paths: Sequence[str], sample_rate: int) -> np.ndarray:
    """[len(paths), 88] float32, in this process (one pool task = one contiguous chunk)."""
    out = np.empty((len(paths), DIM), dtype=np.float32)
    for i, path in enumerate(paths):
        out[i] = _row(path, sample_rate)
    return out


def extract(
    paths: Sequence[str], sample_rate: int, workers: int = 1, chunk_size: int | None = None
) -> np.ndarray:
    """eGeMAPSv02 functionals of each file: float32 [len(paths), 88], rows in the order of ``paths``.

    ``workers`` = 1 runs here, in this process. With more, ``paths`` is cut
    into contiguous chunks of ``chunk_size`` files (default: about
    :data:`CHUNKS_PER_WORKER` chunks per worker) that a pool of ``workers``
    processes works through; rows come back in the order of ``paths`` whatever
    order the chunks finish in. A single chunk is run here too (a pool would
    only add its start-up).

    The pool's processes are started with ``fork``. ``spawn`` would re-run the
    caller's main module in every worker, and a Snakemake script (the
    ``features`` rule's caller) is a main module whose top level is the
    stage itself. Forking is safe here because the workers only run
    openSMILE, soundfile and numpy, never torch or OpenMP: the locks a forked
    child can inherit from the parent's torch threads are never taken in it.

    Raises :class:`~sertools.data.errors.DataError` naming the first file that
    cannot be read or gives a non-finite row (with a pool: the first such file
    in the order of ``paths``; chunks not yet started are cancelled).
    """
    paths = [str(p) for p in paths]
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if not paths:
        return np.zeros((0, DIM), dtype=np.float32)
    if workers == 1:
        return _rows(paths, sample_rate)
    size = chunk_size or max(1, math.ceil(len(paths) / (CHUNKS_PER_WORKER * workers)))
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    if len(chunks) == 1:
        return _rows(paths, sample_rate)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=context) as pool:
        try:
            parts = list(pool.map(_rows, chunks, repeat(sample_rate)))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return np.concatenate(parts)

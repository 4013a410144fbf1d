"""Audio file I/O of the manifest stage: probe, truncation check, mono loading, conversion cache.

:func:`probe` reports a file's header facts or the first reason it cannot be
used: ``missing`` (no file), ``unreadable`` (libsndfile cannot parse the
header), ``empty`` (zero frames) or ``truncated`` (a RIFF/WAVE file whose
``data`` chunk declares more bytes than the file holds: libsndfile would
silently read the part that is there).

Audio that is not mono at the model's sample rate is converted once (downmix by
channel mean, torchaudio's band-limited sinc resampling) and cached as float
WAV; :func:`cached_frames` recognises a valid cached copy so it is not redone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from sertools.data.errors import DataError
from sertools.io import atomic_path


@dataclass(frozen=True)
class AudioFacts:
    """What the manifest records about one source file (None fields when unreadable)."""

    sample_rate: int | None
    channels: int | None
    frames: int | None
    subtype: str | None
    problem: str | None
    detail: str = ""

    @property
    def duration_s(self) -> float:
        """Seconds of audio (0 when unknown)."""
        return (self.frames or 0) / self.sample_rate if self.sample_rate else 0.0


def probe(path: Path) -> AudioFacts:
    """Header facts of one audio file, or the reason it cannot be used."""
    if not path.is_file():
        return AudioFacts(None, None, None, None, "missing", "file not found")
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as e:  # LibsndfileError subclasses RuntimeError
        return AudioFacts(None, None, None, None, "unreadable", str(e).splitlines()[0][:200])
    if info.frames <= 0 or info.samplerate <= 0:
        return AudioFacts(info.samplerate, info.channels, 0, info.subtype, "empty", "no audio frames")
    shortfall = wav_data_shortfall(path)
    if shortfall is not None:
        declared, held = shortfall
        detail = f"data chunk declares {declared} bytes, the file holds {held}"
        return AudioFacts(info.samplerate, info.channels, int(info.frames), info.subtype, "truncated", detail)
    return AudioFacts(info.samplerate, info.channels, int(info.frames), info.subtype, None)


def wav_data_shortfall(path: Path, scan_bytes: int = 1 << 16) -> tuple[int, int] | None:
    """(declared, present) byte counts of a RIFF/WAVE ``data`` chunk cut short, else None.

    Walks the chunk list of the first ``scan_bytes``. Files that are not RIFF/WAVE,
    whose ``data`` chunk lies further in, or whose size field is a streaming
    placeholder (0 or 0xFFFFFFFF) are not judged.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(scan_bytes)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        chunk, length = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"data":
            held = size - (pos + 8)
            if length in (0, 0xFFFFFFFF) or held >= length:
                return None
            return length, held
        pos += 8 + length + (length & 1)  # chunks are word-aligned
    return None


def load_mono(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read a file as float32 mono at ``sample_rate`` (downmix + resample if needed)."""
    wav, sr = sf.read(str(path), dtype="float32", always_2d=True)
    mono = wav.mean(axis=1) if wav.shape[1] > 1 else wav[:, 0]
    if sr != sample_rate:
        import torch
        import torchaudio.functional as taf

        mono = taf.resample(torch.from_numpy(np.ascontiguousarray(mono)), sr, sample_rate).numpy()
    return np.ascontiguousarray(mono, dtype=np.float32)


def convert_to_cache(src: Path, dest: Path, sample_rate: int) -> int:
    """Write ``src`` as mono float WAV at ``sample_rate`` to ``dest`` (atomic); returns frames."""
    mono = load_mono(src, sample_rate)
    with atomic_path(dest) as tmp:
        sf.write(str(tmp), mono, sample_rate, subtype="FLOAT", format="WAV")
    return len(mono)


def cached_frames(path: Path, sample_rate: int) -> int | None:
    """Frames of an existing, valid cached conversion (None to (re)convert)."""
    if not path.is_file():
        return None
    facts = probe(path)
    if facts.problem or facts.sample_rate != sample_rate or facts.channels != 1:
        return None
    return facts.frames


def mono_at(src: Path, cache: Path, sample_rate: int) -> int:
    """Frames of ``src`` converted to mono ``sample_rate`` at ``cache``, converting only if needed."""
    frames = cached_frames(cache, sample_rate)
    return frames if frames is not None else convert_to_cache(src, cache, sample_rate)


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """float32 mono samples of ``path``; the manifest promised mono at ``sample_rate``."""
    try:
        wav, sr = sf.read(str(path), dtype="float32", always_2d=False)
    except (RuntimeError, OSError) as e:
        raise DataError(f"{path}: cannot read audio ({e})") from None
    if sr != sample_rate:
        raise DataError(f"{path}: sample rate {sr} Hz, expected {sample_rate} Hz (rebuild the manifest)")
    if wav.ndim != 1:
        raise DataError(f"{path}: {wav.shape[1]} channels, expected mono (rebuild the manifest)")
    return np.ascontiguousarray(wav, dtype=np.float32)

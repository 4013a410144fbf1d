"""Audio manifest stage: one row per labelled utterance with its audio facts.

Audio that is not mono at the model's sample rate is converted once (downmix by
channel mean, torchaudio's band-limited sinc resampling) and cached as float
WAV under the cache directory; the manifest then points at the cached copy.

Per utterance, in this order, the first problem found decides its fate:

- ``missing`` (no file), ``unreadable`` (soundfile cannot parse the header),
  ``truncated`` (a RIFF/WAVE file whose ``data`` chunk declares more bytes
  than the file holds: libsndfile would silently read the part that is
  there), ``empty`` (zero frames), ``too_short`` (under
  ``manifest.min_duration_s``):
  *bad audio* - the stage stops with a message naming every such file, unless
  ``manifest.drop_bad_audio`` is true, in which case they are dropped and
  listed by name in the manifest summary;
- ``too_long`` (over ``manifest.max_duration_s``): a documented duration
  filter, always a counted drop.

Wav files in ``Audios/`` without labels are counted (``audio_without_labels``)
but are not utterances of the label table.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

from sertools.io import atomic_path, write_json, write_parquet

log = logging.getLogger(__name__)

BAD_AUDIO = ("missing", "unreadable", "truncated", "empty", "too_short")


class AudioError(RuntimeError):
    """Bad audio files that the configuration does not allow to drop."""


@dataclass(frozen=True)
class AudioFacts:
    """What the manifest records about one source file (None fields when unreadable)."""

    sample_rate: int | None
    channels: int | None
    frames: int | None
    subtype: str | None
    problem: str | None
    detail: str = ""


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


def build_manifest(
    corpus_dir: str | Path,
    labels: pd.DataFrame,
    manifest_cfg: Mapping[str, Any],
    cache_dir: str | Path,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Probe (and if needed convert) the audio of every labelled utterance."""
    audio_dir = Path(corpus_dir) / "Audios"
    cache_dir = Path(cache_dir)
    sr_target = int(manifest_cfg["sample_rate"])
    min_s, max_s = float(manifest_cfg["min_duration_s"]), float(manifest_cfg["max_duration_s"])

    rows: list[dict[str, Any]] = []
    problems: list[dict[str, str]] = []
    dropped: Counter[str] = Counter()
    converted = 0
    for file_id, split in zip(labels["file_id"], labels["split"], strict=True):
        src = audio_dir / file_id
        facts = probe(src)
        problem, detail = facts.problem, facts.detail
        duration = (facts.frames or 0) / facts.sample_rate if facts.sample_rate else 0.0
        if problem is None and duration < min_s:
            problem, detail = "too_short", f"{duration:.3f} s < min_duration_s {min_s}"
        elif problem is None and duration > max_s:
            problem, detail = "too_long", f"{duration:.3f} s > max_duration_s {max_s}"
        if problem is not None:
            dropped[problem] += 1
            problems.append({"file_id": file_id, "path": str(src), "reason": problem, "detail": detail})
            continue
        path, frames, was_converted = src, int(facts.frames), False
        if facts.sample_rate != sr_target or facts.channels != 1:
            path = cache_dir / file_id
            frames = _cached_frames(path, sr_target)
            if frames is None:
                frames = convert_to_cache(src, path, sr_target)
            was_converted = True
            converted += 1
        rows.append(
            {
                "file_id": file_id,
                "split": split,
                "path": str(path),
                "source_path": str(src),
                "duration_s": frames / sr_target,
                "frames": frames,
                "sample_rate": sr_target,
                "source_sample_rate": int(facts.sample_rate),
                "source_channels": int(facts.channels),
                "source_subtype": facts.subtype,
                "converted": was_converted,
            }
        )

    bad = [p for p in problems if p["reason"] in BAD_AUDIO]
    if bad and not manifest_cfg["drop_bad_audio"]:
        listing = "\n  ".join(f"{p['path']}: {p['reason']} ({p['detail']})" for p in bad[:50])
        more = f"\n  ... and {len(bad) - 50} more" if len(bad) > 50 else ""
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(Counter(p["reason"] for p in bad).items()))
        raise AudioError(
            f"{len(bad)} labelled utterance(s) have unusable audio ({counts}):\n  {listing}{more}\n"
            "Fix the files, or set manifest.drop_bad_audio: true to drop them (they are then listed in "
            "the manifest summary)."
        )

    columns = [
        "file_id",
        "split",
        "path",
        "source_path",
        "duration_s",
        "frames",
        "sample_rate",
        "source_sample_rate",
        "source_channels",
        "source_subtype",
        "converted",
    ]
    manifest = pd.DataFrame(rows, columns=columns)
    labelled = set(labels["file_id"])
    unlabelled = (
        sorted(p.name for p in audio_dir.glob("*.wav") if p.name not in labelled)
        if audio_dir.is_dir()
        else []
    )
    summary = {
        "utterances_read": len(labels),
        "utterances_kept": len(manifest),
        "utterances_dropped": dict(sorted(dropped.items())),
        "dropped_files": problems,
        "converted_to_cache": converted,
        "audio_without_labels": len(unlabelled),
        "audio_without_labels_examples": unlabelled[:20],
        "hours": float(manifest["duration_s"].sum() / 3600) if len(manifest) else 0.0,
        "duration_s": _duration_stats(manifest),
        "per_split": {s: int(n) for s, n in manifest["split"].value_counts().sort_index().items()},
    }
    if summary["utterances_kept"] + sum(dropped.values()) != summary["utterances_read"]:
        raise AssertionError("manifest accounting broken")  # a bug, never bad input
    return manifest, summary


def _cached_frames(path: Path, sample_rate: int) -> int | None:
    """Frames of an existing, valid cached conversion (None to (re)convert)."""
    if not path.is_file():
        return None
    facts = probe(path)
    if facts.problem or facts.sample_rate != sample_rate or facts.channels != 1:
        return None
    return facts.frames


def _duration_stats(manifest: pd.DataFrame) -> dict[str, float]:
    if manifest.empty:
        return {}
    d = manifest["duration_s"]
    return {"min": float(d.min()), "mean": float(d.mean()), "max": float(d.max())}


def run(
    corpus_dir: str | Path,
    labels_path: str | Path,
    out: str | Path,
    summary_path: str | Path,
    manifest_cfg: Mapping[str, Any],
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """The ``manifest`` stage: write the manifest parquet and its summary JSON."""
    labels = pd.read_parquet(labels_path, columns=["file_id", "split"])
    cache = Path(cache_dir) if cache_dir is not None else Path(out).parent / "audio_cache"
    manifest, summary = build_manifest(corpus_dir, labels, manifest_cfg, cache)
    write_parquet(out, manifest)
    write_json(summary_path, summary)
    log.info(
        "manifest: kept %d of %d utterances (%.2f h), dropped %s, converted %d",
        summary["utterances_kept"],
        summary["utterances_read"],
        summary["hours"],
        summary["utterances_dropped"],
        summary["converted_to_cache"],
    )
    return summary

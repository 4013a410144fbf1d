"""The ``manifest`` stage: one row per labelled utterance with its audio facts.

Each labelled utterance's file in the corpus's audio folder (``Audios/``, or a CREMA-D
download's ``AudioWAV/``: the label table says which corpus it is, :mod:`sertools.labels.view`) is probed (:mod:`sertools.data.audio`);
audio that is not mono at ``manifest.sample_rate`` is converted once into the
audio cache and the manifest points at the cached copy. The manifest's schema
is :mod:`sertools.data.manifest_table`.

Per utterance, in this order, the first problem found decides its fate:

- ``missing``, ``unreadable``, ``truncated``, ``empty`` (see
  :func:`sertools.data.audio.probe`), ``too_short`` (under
  ``manifest.min_duration_s``): *bad audio* - the stage stops with a message
  naming every such file, unless ``manifest.drop_bad_audio`` is true, in which
  case they are dropped and listed by name in the manifest summary;
- ``too_long`` (over ``manifest.max_duration_s``): a documented duration
  filter, always a counted drop.

Wav files in ``Audios/`` without labels are counted (``audio_without_labels``)
but are not utterances of the label table.

No manifest is written on nothing: an empty label table, or a split of it whose
every utterance is dropped, stops the stage with a message naming the label
table, the audio directory, the drop reasons and example files
(:class:`EmptySplitError`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sertools.data import audio, manifest_table
from sertools.io import write_json
from sertools.labels import view as label_view
from sertools.splits import ordered

log = logging.getLogger(__name__)

BAD_AUDIO = ("missing", "unreadable", "truncated", "empty", "too_short")
MAX_LISTED = 50  # bad files named in the error message


class AudioError(RuntimeError):
    """Bad audio files that the configuration does not allow to drop."""


class EmptySplitError(RuntimeError):
    """No utterance of the label table, or of one of its splits, has usable audio."""


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    manifest: Mapping[str, Any],
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """The ``manifest`` rule: probe the audio of every utterance of the label table.

    ``inputs``: ``labels`` (the label table) and ``audio`` (the corpus's
    ``Audios/`` directory); ``outputs``: ``manifest`` and ``summary``; both
    Snakemake named lists or dicts. ``manifest`` is the config section.
    Converted audio goes to ``cache_dir`` (default: ``audio_cache/`` beside the
    manifest; it is kept across runs and is not an output).
    """
    view = label_view.read_columns(inputs["labels"], ["file_id", "split"])
    out = Path(outputs["manifest"])
    cache = Path(cache_dir) if cache_dir is not None else out.parent / "audio_cache"
    df, summary = build_manifest(
        view.table,
        inputs["audio"],
        manifest=manifest,
        cache_dir=cache,
        source=str(inputs["labels"]),
        audio_suffix=view.audio_suffix,
    )
    manifest_table.write(df, out)
    write_json(outputs["summary"], summary)
    log.info(
        "manifest: kept %d of %d utterances (%.2f h), dropped %s, converted %d",
        summary["utterances_kept"],
        summary["utterances_read"],
        summary["hours"],
        summary["utterances_dropped"],
        summary["converted_to_cache"],
    )
    return summary


def build_manifest(
    labels: pd.DataFrame,
    audio_dir: str | Path,
    *,
    manifest: Mapping[str, Any],
    cache_dir: str | Path,
    source: str = "the label table",
    audio_suffix: str = "",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Probe (and if needed convert) the audio of every labelled utterance (``file_id``, ``split``).

    An utterance's audio is ``audio_dir / (file_id + audio_suffix)``
    (:attr:`sertools.labels.view.LabelView.audio_suffix`).

    Returns the manifest and its summary; raises :class:`AudioError` for bad
    audio unless ``manifest.drop_bad_audio``, and :class:`EmptySplitError` when
    ``labels`` (named ``source`` in messages) is empty or a split of it keeps
    no utterance.
    """
    audio_dir, cache_dir = Path(audio_dir), Path(cache_dir)
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, str]] = []
    for file_id, split in zip(labels["file_id"], labels["split"], strict=True):
        row = _utterance(audio_dir / f"{file_id}{audio_suffix}", file_id, split, manifest, cache_dir)
        (problems if "reason" in row else rows).append(row)
    _stop_on_bad_audio(problems, manifest)
    df = pd.DataFrame(rows, columns=list(manifest_table.COLUMNS))
    _stop_on_empty_split(labels, df, problems, audio_dir, source)
    return df, _summary(labels, df, problems, audio_dir, audio_suffix)


def _utterance(
    src: Path, file_id: str, split: str, cfg: Mapping[str, Any], cache_dir: Path
) -> dict[str, Any]:
    """The manifest row of one utterance, or its problem (a dict with ``reason``)."""
    sr = int(cfg["sample_rate"])
    min_s, max_s = float(cfg["min_duration_s"]), float(cfg["max_duration_s"])
    facts = audio.probe(src)
    problem, detail = facts.problem, facts.detail
    duration = facts.duration_s
    if problem is None and duration < min_s:
        problem, detail = "too_short", f"{duration:.3f} s < min_duration_s {min_s}"
    elif problem is None and duration > max_s:
        problem, detail = "too_long", f"{duration:.3f} s > max_duration_s {max_s}"
    if problem is not None:
        return {"file_id": file_id, "path": str(src), "reason": problem, "detail": detail}
    if facts.frames is None or facts.sample_rate is None or facts.channels is None:
        raise RuntimeError(f"{src}: probed as usable without its frames, sample rate or channels")
    path, frames, converted = src, int(facts.frames), False
    if facts.sample_rate != sr or facts.channels != 1:
        path = cache_dir / src.name
        frames = audio.mono_at(src, path, sr)
        converted = True
    return {
        "file_id": file_id,
        "split": split,
        "path": str(path),
        "source_path": str(src),
        "duration_s": frames / sr,
        "frames": frames,
        "sample_rate": sr,
        "source_sample_rate": int(facts.sample_rate),
        "source_channels": int(facts.channels),
        "source_subtype": facts.subtype,
        "converted": converted,
    }


def _stop_on_bad_audio(problems: Sequence[Mapping[str, str]], cfg: Mapping[str, Any]) -> None:
    """Raise :class:`AudioError` naming every bad file, unless bad audio may be dropped."""
    bad = [p for p in problems if p["reason"] in BAD_AUDIO]
    if not bad or cfg["drop_bad_audio"]:
        return
    listing = "\n  ".join(f"{p['path']}: {p['reason']} ({p['detail']})" for p in bad[:MAX_LISTED])
    more = f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(Counter(p["reason"] for p in bad).items()))
    raise AudioError(
        f"{len(bad)} labelled utterance(s) have unusable audio ({counts}):\n  {listing}{more}\n"
        "Fix the files, or set manifest.drop_bad_audio: true to drop them (they are then listed in "
        "the manifest summary)."
    )


def _stop_on_empty_split(
    labels: pd.DataFrame,
    df: pd.DataFrame,
    problems: Sequence[Mapping[str, str]],
    audio_dir: Path,
    source: str,
) -> None:
    """Raise :class:`EmptySplitError` when nothing, or nothing of a labelled split, is kept."""
    if labels.empty:
        raise EmptySplitError(f"{source} holds no utterance: there is no audio to list (audio: {audio_dir})")
    kept = set(df["split"])
    lost = [s for s in ordered(set(labels["split"])) if s not in kept]
    if not lost:
        return
    split_of = dict(zip(labels["file_id"], labels["split"], strict=True))
    mine = [p for p in problems if split_of.get(p["file_id"]) in lost]
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(Counter(p["reason"] for p in mine).items()))
    listing = "\n  ".join(f"{p['path']}: {p['reason']} ({p['detail']})" for p in mine[:MAX_LISTED])
    more = f"\n  ... and {len(mine) - MAX_LISTED} more" if len(mine) > MAX_LISTED else ""
    n = int(labels["split"].isin(lost).sum())
    raise EmptySplitError(
        f"no utterance of {', '.join(lost)} is kept: all {n} labelled in {source} were dropped "
        f"(audio: {audio_dir}; {counts}):\n  {listing}{more}\n"
        "The stage stops rather than write a manifest without them; fix the audio or "
        "manifest.min_duration_s / max_duration_s."
    )


def _summary(
    labels: pd.DataFrame,
    df: pd.DataFrame,
    problems: Sequence[dict[str, str]],
    audio_dir: Path,
    audio_suffix: str = "",
) -> dict[str, Any]:
    """Counts read, kept and dropped (by reason, files listed), conversions, unlabelled audio, durations."""
    dropped = Counter(p["reason"] for p in problems)
    labelled = {f"{f}{audio_suffix}" for f in labels["file_id"]}
    unlabelled = (
        sorted(p.name for p in audio_dir.glob("*.wav") if p.name not in labelled)
        if audio_dir.is_dir()
        else []
    )
    summary: dict[str, Any] = {
        "utterances_read": len(labels),
        "utterances_kept": len(df),
        "utterances_dropped": dict(sorted(dropped.items())),
        "dropped_files": list(problems),
        "converted_to_cache": int(df["converted"].sum()) if len(df) else 0,
        "audio_without_labels": len(unlabelled),
        "audio_without_labels_examples": unlabelled[:20],
        "hours": float(df["duration_s"].sum() / 3600) if len(df) else 0.0,
        "duration_s": _duration_stats(df),
        "per_split": {s: int(n) for s, n in df["split"].value_counts().sort_index().items()},
    }
    if summary["utterances_kept"] + sum(dropped.values()) != summary["utterances_read"]:
        raise AssertionError("manifest accounting broken")  # a bug, never bad input
    return summary


def _duration_stats(df: pd.DataFrame) -> dict[str, float]:
    if df.empty:
        return {}
    d = df["duration_s"]
    return {"min": float(d.min()), "mean": float(d.mean()), "max": float(d.max())}

"""The ``infer`` command: one row per input file, written as CSV or Parquet with a JSON sidecar.

Columns (:func:`columns`): ``path`` (as given, or as found in a folder or list),
``p_<Class>`` for each class of the model, in its order (MSP-Podcast's 9 of
:data:`sertools.classes.CLASSES`, or CREMA-D's 6), ``pred`` (the class name of
the largest probability), ``entropy`` (of the probabilities, divided by ln K of
the model's K classes: 0 sure, 1 uniform), ``arousal``, ``valence``,
``dominance`` (1-7 ratings) when the model rates them, their
``<attribute>_var`` (variance in rating units) when the head predicts one,
``duration_s`` (of the decoded file) and ``chunks`` (how many pieces the model
saw, :mod:`sertools.inference.predictor`). Rows follow the order of the inputs.

A file that cannot be used has no row: it is listed in the sidecar with its
reason (:data:`sertools.inference.inputs.REASONS`) and counted, and every
other file is still written; ``read = kept + dropped`` is checked before
anything is written. The sidecar (``<out>.json``) and, for Parquet, the file's
own schema metadata (key ``sertools_infer``) name the model, its checkpoint
and its SHA-256, the settings, the counts and the drops.

Files are processed in blocks of about :data:`BLOCK_FILES` (a whole number of
the run's batches) or at most :data:`BLOCK_SECONDS` of audio, in file-name order,
so a long list never holds more than one block of audio in memory, and a
progress bar advances block by block. A file is decoded whole: a recording of
hours needs its decoded samples in memory (4 bytes per sample and channel).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from sertools import __version__
from sertools.classes import CLASSES, DIMENSIONS
from sertools.inference import bundle as bundles
from sertools.inference.inputs import AudioProblem, Dropped, decode, drop_counts, expand
from sertools.inference.predictor import DEFAULT_MAX_CHUNK_SECONDS, Outputs, Predictor, Prepared
from sertools.io import atomic_path, write_json
from sertools.measures import normalised_entropy

log = logging.getLogger(__name__)

FORMAT = "sertools-infer"
VERSION = 1
META_KEY = "sertools_infer"
BLOCK_FILES = 64
BLOCK_SECONDS = 1800.0  # audio per block at most (about 115 MB of float32 samples at 16 kHz)
OUT_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True, eq=False)
class Result:
    """The rows of an ``infer`` call, what was dropped, and how many inputs were read."""

    table: pd.DataFrame
    dropped: list[Dropped]
    read: int


def columns(
    with_variance: bool, classes: Sequence[str] = CLASSES, dimensions: Sequence[str] = DIMENSIONS
) -> list[str]:
    """The output columns of a model of ``classes`` and ``dimensions``, in order (see the module
    docstring)."""
    cols = ["path", *(f"p_{c}" for c in classes), "pred", "entropy", *dimensions]
    if with_variance:
        cols += [f"{d}_var" for d in dimensions]
    return [*cols, "duration_s", "chunks"]


def predictor_columns(predictor: Predictor) -> list[str]:
    """The output columns of ``predictor``'s model."""
    return columns(predictor.has_variance, predictor.classes, predictor.dimensions)


def load_model(source: str | Path, device: str = "cpu", **settings: Any) -> Predictor:
    """The model of an exported folder (or a run directory, or its ``best.safetensors``), ready for audio:
    ``sertools.load_model(DIR).predict_files(["a.wav", "folder/"])`` gives :func:`predict_sources`'s table.
    ``settings``: ``max_chunk_seconds``, ``batching`` and ``features_dir`` (a run's frozen SSL head)."""
    features_dir = settings.pop("features_dir", None)
    return Predictor(bundles.load(source, features_dir), device, **settings)


@dataclass(eq=False)
class Block:
    """Files decoded and prepared together: kept file indices, their audio, the drops, files seen."""

    kept: list[int] = field(default_factory=list)
    prepared: list[Prepared] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    seen: int = 0
    samples: int = 0


def _blocks(predictor: Predictor, files: Sequence[str], order: list[int]) -> Iterator[Block]:
    """The files in ``order``, decoded and prepared block by block: a block ends after a whole number of
    the run's batches of about :data:`BLOCK_FILES` files (so the run's batches are those of the dumps), or
    once it holds :data:`BLOCK_SECONDS` of audio (long recordings), whichever comes first."""
    batch_size = int(predictor.bundle.meta["batching"]["batch_size"])
    size = batch_size * max(1, math.ceil(BLOCK_FILES / batch_size))
    block = Block()
    for i in order:
        block.seen += 1
        try:
            wave = decode(files[i], predictor.sample_rate)
            block.prepared.append(predictor.prepare(wave, Path(files[i]).name, files[i]))
            block.kept.append(i)
            block.samples += len(wave)
        except AudioProblem as e:
            block.dropped.append(Dropped(files[i], e.reason, e.detail))
        if block.seen == size or block.samples >= BLOCK_SECONDS * predictor.sample_rate:
            yield block
            block = Block()
    if block.seen:
        yield block


def _rows(
    predictor: Predictor, files: Sequence[str], kept: list[int], prepared: list[Prepared], out: Outputs
) -> dict:
    classes, dimensions = predictor.classes, predictor.dimensions
    rows: dict[str, Any] = {"path": [files[i] for i in kept]}
    for c, name in enumerate(classes):
        rows[f"p_{name}"] = out.probs[:, c]
    rows["pred"] = [classes[j] for j in out.probs.argmax(axis=1)] if len(kept) else []
    rows["entropy"] = normalised_entropy(out.probs).astype(np.float32)  # by ln of the model's K
    for j, d in enumerate(dimensions):
        rows[d] = out.ratings[:, j]
    for j, d in enumerate(dimensions):
        if out.variance is not None:
            rows[f"{d}_var"] = out.variance[:, j]
    sr = predictor.sample_rate
    rows["duration_s"] = np.array([p.samples / sr for p in prepared], dtype=np.float64)
    rows["chunks"] = out.chunks
    return rows


def predict_sources(predictor: Predictor, sources: Sequence[str | Path], progress: bool = True) -> Result:
    """Every input of ``sources`` (files, folders, list files; :func:`sertools.inference.inputs.expand`)
    through ``predictor``: its rows in input order, its drops, and the count read."""
    files, dropped = expand(sources)
    read = len(files) + len(dropped)  # found files, and sources that do not exist
    order = sorted(range(len(files)), key=lambda i: (Path(files[i]).name, files[i]))
    parts: list[tuple[list[int], dict]] = []
    with tqdm(total=len(files), unit="file", desc="infer", file=sys.stderr, disable=not progress) as bar:
        for block in _blocks(predictor, files, order):
            dropped += block.dropped
            out = predictor.run(block.prepared)
            parts.append((block.kept, _rows(predictor, files, block.kept, block.prepared, out)))
            bar.update(block.seen)
    frames = [pd.DataFrame(rows, index=kept) for kept, rows in parts if kept]
    table = pd.concat(frames).sort_index() if frames else pd.DataFrame(columns=predictor_columns(predictor))
    table = table.reset_index(drop=True)
    if len(table) + len(dropped) != read:  # every input is a row or a listed drop
        raise RuntimeError(f"infer: {len(table)} rows + {len(dropped)} drops != {read} inputs read")
    return Result(table, dropped, read)


def predict_arrays(predictor: Predictor, waves: Sequence[np.ndarray], sample_rate: int) -> pd.DataFrame:
    """Rows (``path`` the item's index) of mono waveforms at ``sample_rate`` (resampled to the model's
    as :func:`sertools.inference.inputs.decode` resamples a file); ValueError for one that is too short."""
    import torch
    import torchaudio.functional as taf

    prepared = []
    for i, wave in enumerate(waves):
        x = np.ascontiguousarray(np.asarray(wave, dtype=np.float32))
        if x.ndim != 1:
            raise ValueError(f"waveform {i}: expected mono samples [T], got shape {x.shape}")
        if sample_rate != predictor.sample_rate:
            x = taf.resample(torch.from_numpy(x), sample_rate, predictor.sample_rate).numpy()
        try:
            prepared.append(predictor.prepare(x, f"{i:09d}", f"waveform {i}"))
        except AudioProblem as e:
            raise ValueError(f"waveform {i}: {e}") from None
    rows = _rows(
        predictor,
        [str(i) for i in range(len(waves))],
        list(range(len(waves))),
        prepared,
        predictor.run(prepared),
    )
    return pd.DataFrame(rows, columns=predictor_columns(predictor))


def describe(predictor: Predictor, source: str | Path, result: Result) -> dict[str, Any]:
    """The sidecar document: the model and checkpoint, the settings, the counts and every drop."""
    meta = predictor.bundle.meta
    return {
        "format": FORMAT,
        "version": VERSION,
        "sertools": __version__,
        "model": {
            "source": str(Path(source).resolve()),
            "kind": meta["kind"],
            "upstream": (meta.get("upstream") or {}).get("name"),
            "checkpoint": meta["checkpoint"],
        },
        "settings": {
            "sample_rate": predictor.sample_rate,
            "batching": predictor.batching,
            "run_batching": meta["batching"],
            "max_chunk_seconds": predictor.max_chunk / predictor.sample_rate,
            "device": str(predictor.device),
            "downmix": meta["preprocessing"]["downmix"],
            "resampler": meta["preprocessing"]["resampler"],
        },
        "columns": list(result.table.columns),
        "counts": {"read": result.read, "kept": len(result.table), "dropped": drop_counts(result.dropped)},
        "dropped": [asdict(d) for d in result.dropped],
    }


def write(out: str | Path, result: Result, sidecar: dict[str, Any]) -> Path:
    """Write the table (CSV or Parquet by ``out``'s suffix) and ``<out>.json``; returns the sidecar's path."""
    out = Path(out)
    kind = OUT_SUFFIXES.get(out.suffix.lower())
    if kind is None:
        raise ValueError(f"--out {out}: the suffix must be one of {', '.join(OUT_SUFFIXES)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        if kind == "csv":
            result.table.to_csv(tmp, index=False)
        else:
            table = pa.Table.from_pandas(result.table, preserve_index=False)
            meta = {**(table.schema.metadata or {}), META_KEY.encode(): json.dumps(sidecar).encode()}
            pq.write_table(table.replace_schema_metadata(meta), tmp)
    side = out.with_name(out.name + ".json")
    write_json(side, sidecar)
    return side


def run(
    source: str | Path,
    sources: Sequence[str | Path],
    out: str | Path,
    *,
    device: str = "auto",
    batching: str = "run",
    max_chunk_seconds: float = DEFAULT_MAX_CHUNK_SECONDS,
    features_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """The ``infer`` command: ``source``'s model on ``sources``, written to ``out``; returns the sidecar."""
    if Path(out).suffix.lower() not in OUT_SUFFIXES:  # before any audio is read
        raise ValueError(f"--out {out}: the suffix must be one of {', '.join(OUT_SUFFIXES)}")
    predictor = load_model(
        source, device, batching=batching, max_chunk_seconds=max_chunk_seconds, features_dir=features_dir
    )
    result = predict_sources(predictor, sources, progress)
    sidecar = describe(predictor, source, result)
    write(out, result, sidecar)
    if result.dropped:
        first = result.dropped[0]
        log.warning(
            "infer: %d of %d inputs dropped (%s), e.g. %s: %s %s",
            len(result.dropped),
            result.read,
            ", ".join(f"{r} {n}" for r, n in drop_counts(result.dropped).items()),
            first.path,
            first.reason,
            first.detail,
        )
    return sidecar

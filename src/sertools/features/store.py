"""The features artifact: one file per (upstream, split) of fixed-size utterance representations.

Format: a safetensors file (``results/features/{upstream}/{split}.safetensors``)
holding one tensor ``features`` of shape [N, L, D] - N utterances, L stacked
representations (hidden layers for ``wavlm``, 1 for ``egemaps``), D values each
- and ``frames`` [N] (int64, the audio length the row was computed from), with
JSON metadata (one entry, key-sorted, so equal features give equal bytes):
the file ids in row order, the upstream, its settings, and per-layer names. Why safetensors: it is memory-mappable, loads without
unpickling anything (like the checkpoints, :mod:`sertools.training.runtime.checkpoint`)
and is read by numpy and torch alike.

Precision: ``wavlm`` rows are stored as float16 by default (``features.wavlm.dtype``):
WavLM-Base's 13 layers x 768 means (x 2 with std pooling) over MSP-Podcast's
~150k utterances are 3-6 GB in float16, twice that in float32, and the rounding
(relative 5e-4) is far below what a downstream head resolves. ``egemaps`` is
stored as float32: 88 values per utterance cost nothing, and its functionals
span several orders of magnitude. Readers always get float32.

:func:`aligned` returns the rows of a list of manifest utterances and is where
a stale or foreign file is caught: an utterance missing from the file, or
recorded with another audio length, stops with one line naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sertools.io import atomic_path

FORMAT = "sertools-features"
VERSION = 1
META_KEY = "sertools_features"  # the one metadata entry: a JSON object (format, version, upstream, ...)
UPSTREAMS: tuple[str, ...] = ("wavlm", "egemaps")
#: the stored feature dtypes (torch is imported by the functions that write and read
#: files, so that the workflow's Snakefile, which imports this module for its paths,
#: does not import torch)
DTYPES: tuple[str, ...] = ("float16", "float32")


class FeatureError(ValueError):
    """A features file that is missing, malformed or does not fit what reads it."""


@dataclass(frozen=True, eq=False)
class Features:
    """The rows of one features file (float32 in memory)."""

    file_ids: list[str]
    values: np.ndarray  # [N, L, D] float32
    frames: np.ndarray  # [N] int64
    upstream: str
    settings: Mapping[str, Any] = field(default_factory=dict)  # how they were computed
    layer_names: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        """(L, D): representations per utterance and values per representation."""
        return int(self.values.shape[1]), int(self.values.shape[2])


def check_upstream(name: str, where: str = "upstream") -> str:
    if name not in UPSTREAMS:
        raise FeatureError(f"{where}: unknown upstream {name!r} (known: {', '.join(UPSTREAMS)})")
    return name


def write(path: str | Path, feats: Features, dtype: str = "float32") -> None:
    """Write ``feats`` atomically, the values stored as ``dtype`` (``float16`` or ``float32``)."""
    import torch
    from safetensors.torch import save_file

    check_upstream(feats.upstream)
    values = np.asarray(feats.values, dtype=np.float32)
    if values.ndim != 3 or values.shape[0] != len(feats.file_ids) or len(feats.frames) != len(feats.file_ids):
        raise FeatureError(
            f"{path}: features of shape {values.shape} for {len(feats.file_ids)} file ids "
            f"and {len(feats.frames)} lengths"
        )
    if dtype not in DTYPES:
        raise FeatureError(f"{path}: dtype {dtype!r} is not one of {sorted(DTYPES)}")
    if dtype == "float16" and np.abs(values).max(initial=0.0) > np.finfo(np.float16).max:
        raise FeatureError(f"{path}: values exceed the float16 range; set features.wavlm.dtype: float32")
    tensors = {
        "features": torch.from_numpy(np.array(values)).to(getattr(torch, dtype)).contiguous(),
        "frames": torch.from_numpy(np.array(feats.frames, dtype=np.int64)),
    }
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "upstream": feats.upstream,
        "file_ids": list(feats.file_ids),
        "settings": dict(feats.settings),
        "layer_names": list(feats.layer_names),
    }
    # one metadata entry: safetensors writes several in hash order, so the same
    # features would not give the same bytes from run to run
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta, sort_keys=True)})


def read(path: str | Path, upstream: str | None = None) -> Features:
    """Read a features file; ``upstream``: the upstream the reader expects (checked)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise FeatureError(f"{path}: features file not found (run the features rule)")
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
        tensors = load_file(str(path))
        meta = json.loads(header.get(META_KEY, "{}"))
    except (SafetensorError, OSError, ValueError) as e:
        raise FeatureError(f"{path}: not a readable features file ({e})") from None
    if meta.get("format") != FORMAT or "features" not in tensors or "frames" not in tensors:
        raise FeatureError(f"{path}: not a sertools features file (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise FeatureError(f"{path}: features format version {meta.get('version')}, expected {VERSION}")
    found = check_upstream(meta.get("upstream", ""), f"{path}: key 'upstream'")
    if upstream is not None and found != upstream:
        raise FeatureError(f"{path}: features of upstream {found!r}, but model.upstream is {upstream!r}")
    values = tensors["features"].to(torch.float32).numpy()
    file_ids = list(meta["file_ids"])
    if values.ndim != 3 or values.shape[0] != len(file_ids):
        raise FeatureError(
            f"{path}: key 'features' has shape {tuple(values.shape)} for {len(file_ids)} file ids"
        )
    return Features(
        file_ids=file_ids,
        values=values,
        frames=tensors["frames"].numpy(),
        upstream=found,
        settings=dict(meta.get("settings", {})),
        layer_names=list(meta.get("layer_names", [])),
    )


def read_header(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a features file (upstream, settings, layer names, file ids) without reading
    its tensors: what the ``export`` command records of the upstream a head was trained on."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FeatureError(f"{path}: features file not found")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = json.loads((fh.metadata() or {}).get(META_KEY, "{}"))
    except (SafetensorError, OSError, ValueError) as e:
        raise FeatureError(f"{path}: not a readable features file ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise FeatureError(f"{path}: not a sertools features file")
    check_upstream(meta.get("upstream", ""), f"{path}: key 'upstream'")
    return meta


def aligned(
    feats: Features, file_ids: Sequence[str], frames: Sequence[int] | np.ndarray, where: str
) -> np.ndarray:
    """The rows of ``feats`` for ``file_ids`` in that order ([n, L, D] float32).

    Every utterance must be in the file with the same audio length (``frames``,
    from the manifest); extra rows in the file are ignored (a superset is still
    valid, e.g. after a label setting set an utterance aside). ``where`` names
    the file in the one-line error.
    """
    position = {f: i for i, f in enumerate(feats.file_ids)}
    missing = [f for f in file_ids if f not in position]
    if missing:
        raise FeatureError(
            f"{where}: key 'file_ids' lacks {len(missing)} of the manifest's {len(file_ids)} utterances "
            f"(e.g. {missing[:3]}); the features are stale: rerun them (snakemake -R features)"
        )
    rows = np.fromiter((position[f] for f in file_ids), dtype=np.int64, count=len(file_ids))
    recorded = feats.frames[rows]
    differ = np.flatnonzero(recorded != np.asarray(frames, dtype=np.int64))
    if len(differ):
        i = int(differ[0])
        raise FeatureError(
            f"{where}: key 'frames' of {file_ids[i]} is {int(recorded[i])} samples but the manifest says "
            f"{int(frames[i])} ({len(differ)} such utterances); the features are stale: rerun them "
            "(snakemake -R features)"
        )
    return feats.values[rows]


# ----------------------------------------------------------------------------- where the files are

INPUT_PREFIX = "features_"  # the named inputs of the train_head and predict_head rules: features_<split>


def split_file(directory: str | Path, split: str) -> Path:
    """The features file of ``split`` in an upstream's directory (``results/features/{upstream}``)."""
    return Path(directory) / f"{split}.safetensors"


def input_paths(directory: str | Path, splits: Sequence[str]) -> dict[str, str]:
    """Named inputs ``features_<split>`` -> file, for the rules and the command line."""
    return {f"{INPUT_PREFIX}{s}": str(split_file(directory, s)) for s in splits}


def paths_from_inputs(inputs: Mapping[str, Any]) -> dict[str, str]:
    """split -> features file, from a stage's named inputs (empty for fine-tuning)."""
    return {k[len(INPUT_PREFIX) :]: str(v) for k, v in inputs.items() if k.startswith(INPUT_PREFIX)}

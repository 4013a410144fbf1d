"""Everything a trained model needs besides audio: from a run's checkpoint, or from an exported folder.

A :class:`Bundle` is the model's description (``meta``, the ``model.json`` of an
exported folder), its weights and, for a head on frozen SSL features, the
frozen upstream's weights. :func:`load` makes one from any of

* an exported folder (holding ``model.json``; :func:`read`): safetensors and
  JSON only, nothing is unpickled and nothing else is read;
* a run directory, or its ``best.safetensors`` (:func:`from_checkpoint`): the
  checkpoint's architecture, weights and metadata, and the run's ``config.yaml``
  for how its prediction stage batched (``train.eval_batching``,
  ``batch_size``, ``max_eval_batch_seconds``, ``amp``; the schema defaults
  without one).

``meta`` holds (docs/inference.md, "The exported folder"): ``architecture``,
``classes`` and ``dimensions`` (the names of the model's outputs, in order; a
checkpoint's class set by :func:`checkpoint_classes`), ``dim_scale``, ``preprocessing`` (sample rate,
downmix, resampler, waveform statistics), ``batching``, ``upstream`` (None for
a fine-tuned model; for a frozen-upstream head, what computes its input) and
``checkpoint`` (the file it came from, its SHA-256, variant, seed, epoch).

Frozen upstreams. ``egemaps`` needs only openSMILE's configuration, named with
the version it ran. ``wavlm`` (any SSL family) needs its backbone: its settings
are read from the header of the features file the head trained on
(``Train.safetensors`` in ``features_dir``; default ``results/features/wavlm``,
three levels above a workflow run directory), and the backbone is rebuilt from
them exactly as the ``features`` stage built it
(:func:`sertools.features.wavlm.frozen_backbone`: a local checkpoint is loaded,
``tiny`` is drawn from ``features.wavlm.seed``) and its weights kept.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from sertools import classes as class_sets
from sertools import config as config_mod
from sertools.classes import ClassSet
from sertools.features import store
from sertools.io import atomic_path, file_sha256, write_json
from sertools.model.frozen import KIND as FROZEN_KIND
from sertools.model.network import architecture_dim_scale, architecture_outputs
from sertools.training.runtime import checkpoint

FORMAT = "sertools-model"
VERSION = 1
MODEL_JSON = "model.json"
WEIGHTS = "model.safetensors"
UPSTREAM_WEIGHTS = "upstream.safetensors"
#: the train keys that decide how prediction batches (the predict rule's, less device and threads)
BATCHING_KEYS = ("eval_batching", "batch_size", "max_eval_batch_seconds", "amp")
#: the one metadata entry of the weight files: the format marker
_WEIGHTS_META = {"format": FORMAT}


class BundleError(ValueError):
    """A model source that is missing, malformed or incomplete."""


@dataclass(frozen=True, eq=False)
class Bundle:
    """A model's description (``meta``), its weights and its frozen upstream's weights (if any)."""

    meta: dict[str, Any]
    weights: dict[str, torch.Tensor]
    upstream_weights: dict[str, torch.Tensor] | None
    origin: Path  # the folder or checkpoint it was read from

    @property
    def upstream(self) -> dict[str, Any] | None:
        """What computes a frozen-upstream head's input (None for a fine-tuned model)."""
        return self.meta.get("upstream")

    @property
    def sample_rate(self) -> int:
        return int(self.meta["preprocessing"]["sample_rate"])


# ----------------------------------------------------------------------------- from a run


def load(source: str | Path, features_dir: str | Path | None = None) -> Bundle:
    """The bundle of an exported folder, a run directory or a ``best.safetensors`` file."""
    path = Path(source).expanduser()
    if path.is_dir() and (path / MODEL_JSON).is_file():
        return read(path)
    if path.is_dir():
        if not (path / "best.safetensors").is_file():
            raise BundleError(
                f"{path}: neither an exported model ({MODEL_JSON}) nor a run directory (best.safetensors)"
            )
        path = path / "best.safetensors"
    elif not path.is_file():
        raise BundleError(f"{path}: no such model, run directory or checkpoint")
    return from_checkpoint(path, features_dir)


def run_train_section(run_dir: Path) -> dict[str, Any]:
    """The run's train section (its ``config.yaml``), or the schema defaults when the run has none."""
    path = run_dir / "config.yaml"
    defaults = config_mod.resolve({})["train"]
    if not path.is_file():
        return defaults
    doc = yaml.safe_load(path.read_text()) or {}
    return {**defaults, **(doc.get("train") or {})}


def from_checkpoint(path: Path, features_dir: str | Path | None = None) -> Bundle:
    """The bundle of a ``best`` checkpoint (see the module docstring)."""
    try:
        ck = checkpoint.load(path, kind="best")
    except checkpoint.CheckpointError as e:
        raise BundleError(str(e)) from None
    arch = ck.meta.get("architecture")
    if not isinstance(arch, dict):
        raise BundleError(f"{path}: no model architecture in the checkpoint metadata")
    classes = checkpoint_classes(ck.meta, arch, path)
    train = run_train_section(path.parent)
    upstream, upstream_weights = None, None
    if arch.get("kind") == FROZEN_KIND:
        upstream, upstream_weights = frozen_upstream(arch, path.parent, features_dir)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "frozen_head" if upstream else "finetune",
        "architecture": arch,
        "classes": list(classes.names),
        "dimensions": list(classes.dimensions),
        "dim_scale": architecture_dim_scale(arch),
        "preprocessing": {
            "sample_rate": int(ck.meta.get("sample_rate", 16000)),
            "downmix": "mean of the channels",
            "resampler": "torchaudio.functional.resample (band-limited sinc, default settings)",
            "waveform_stats": ck.meta.get("waveform_stats"),
        },
        "batching": {k: train[k] for k in BATCHING_KEYS},
        "upstream": upstream,
        "checkpoint": {
            "path": str(path.resolve()),
            "sha256": file_sha256(path),
            **{k: ck.meta.get(k) for k in ("variant", "seed", "epoch", "selection_metric", "metric_value")},
            "config_hash": ck.meta.get("config_hash"),
        },
    }
    return Bundle(meta, checkpoint.strip_prefix(ck.tensors, "model."), upstream_weights, path)


def checkpoint_classes(meta: Mapping[str, Any], arch: Mapping[str, Any], path: Path) -> ClassSet:
    """The class set of a checkpoint's model: the one its metadata names (``classes``, which training
    records for every class set but MSP-Podcast's), else the one known class set with the model's
    outputs (``num_classes`` and ``dimensions`` of the architecture; a description from before those
    were recorded means MSP-Podcast's 9 classes and A/V/D). Anything else is refused, not guessed."""
    try:
        num_classes, dimensions = architecture_outputs(arch)
    except ValueError as e:
        raise BundleError(f"{path}: {e}") from None
    predicts = f"the model predicts {num_classes} classes and dimensions {list(dimensions)}"
    recorded = meta.get("classes")
    if recorded is not None:
        try:
            found = class_sets.from_names(list(recorded))
        except (TypeError, ValueError) as e:
            raise BundleError(f"{path}: {e}") from None
        if (found.k, found.dimensions) != (num_classes, dimensions):
            raise BundleError(
                f"{path}: {predicts}, but its metadata names the {found.name} classes {list(found.names)}"
            )
        return found
    matches = class_sets.from_outputs(num_classes, dimensions)
    if len(matches) != 1:
        known = "; ".join(
            f"{c.name}: {c.k} classes and dimensions {list(c.dimensions)}" for c in class_sets.KNOWN
        )
        raise BundleError(f"{path}: {predicts}, which no known class set does (known: {known})")
    return matches[0]


def check_outputs(meta: Mapping[str, Any], where: Path) -> None:
    """Refuse a model description whose ``classes`` and ``dimensions`` do not name the outputs of its
    architecture."""
    try:
        num_classes, dimensions = architecture_outputs(meta["architecture"])
        names, dims = list(meta["classes"]), tuple(meta["dimensions"])
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"{where}: no valid architecture, classes and dimensions ({e})") from None
    if (len(names), dims) != (num_classes, dimensions):
        raise BundleError(
            f"{where}: names {len(names)} classes and dimensions {list(dims)}, but the model predicts "
            f"{num_classes} classes and dimensions {list(dimensions)}"
        )


def frozen_upstream(
    arch: Mapping[str, Any], run_dir: Path, features_dir: str | Path | None
) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """(the ``upstream`` entry, the frozen backbone's weights or None) of a frozen-upstream head."""
    name = str(arch["upstream"])
    if name == "egemaps":
        from sertools.features import egemaps

        spec = {
            "name": name,
            "feature_set": egemaps.FEATURE_SET,
            "feature_level": "Functionals",
            "opensmile": importlib.metadata.version("opensmile"),
            "feature_names": egemaps.feature_names(),
        }
        return spec, None
    return _ssl_upstream(arch, run_dir, features_dir)


def _ssl_upstream(
    arch: Mapping[str, Any], run_dir: Path, features_dir: str | Path | None
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The frozen SSL backbone of a ``wavlm``-upstream head, rebuilt from its features file's settings."""
    from sertools.features import wavlm

    parents = run_dir.resolve().parents  # a workflow run: results/train/<variant>/seed<N>
    default = parents[2] / "features" / "wavlm" if len(parents) > 2 else run_dir / "features"
    directory = Path(features_dir) if features_dir is not None else default
    features = store.split_file(directory, "Train")
    if not features.is_file():
        raise BundleError(
            f"the head reads frozen {arch['upstream']!r} features, whose settings are recorded in the "
            f"features file it trained on; {features} does not exist: give its folder (--features-dir)"
        )
    settings = store.read_header(features)["settings"]
    model_cfg = config_mod.resolve({"model": {k: settings[k] for k in config_mod.WAVLM_FEATURE_KEYS}})
    frozen = wavlm.frozen_backbone(model_cfg["model"], int(settings["seed"]))
    names = wavlm.layer_names(frozen)
    width = frozen.backbone.config.hidden_size * (2 if settings["std_pooling"] else 1)
    if (len(names), width) != (int(arch["layers"]), int(arch["dim"])):
        raise BundleError(
            f"{features}: its settings give rows of [{len(names)}, {width}], the head takes "
            f"[{arch['layers']}, {arch['dim']}]: not the features this head trained on"
        )
    spec = {
        "name": str(arch["upstream"]),
        "architecture": frozen.architecture(),
        "settings": {k: settings[k] for k in ("std_pooling", "max_batch_seconds", "amp", "seed", "dtype")},
        "model": {k: settings[k] for k in config_mod.WAVLM_FEATURE_KEYS},
        "layer_names": names,
        "features_file": str(features.resolve()),
    }
    return spec, checkpoint.model_state(frozen)


# ----------------------------------------------------------------------------- the exported folder


def write(bundle: Bundle, directory: str | Path) -> dict[str, str]:
    """Write ``model.json`` and the weight file(s) of ``bundle`` into ``directory``; file -> SHA-256."""
    from safetensors.torch import save_file

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    parts = {WEIGHTS: bundle.weights}
    if bundle.upstream_weights is not None:
        parts[UPSTREAM_WEIGHTS] = bundle.upstream_weights
    digests = {}
    for name, tensors in parts.items():
        prepared = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
        with atomic_path(out / name) as tmp:
            save_file(prepared, str(tmp), metadata=_WEIGHTS_META)
        digests[name] = file_sha256(out / name)
    write_json(out / MODEL_JSON, {**bundle.meta, "files": digests})
    return {**digests, MODEL_JSON: file_sha256(out / MODEL_JSON)}


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as fh:
            marker = (fh.metadata() or {}).get("format")
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise BundleError(f"{path}: not a readable safetensors file ({e})") from None
    if marker != FORMAT:
        raise BundleError(f"{path}: safetensors file without the {FORMAT!r} marker")
    return tensors


def read(directory: str | Path) -> Bundle:
    """The bundle of an exported folder: ``model.json`` and its safetensors files, checked by SHA-256."""
    folder = Path(directory)
    try:
        meta = json.loads((folder / MODEL_JSON).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise BundleError(f"{folder / MODEL_JSON}: not readable JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BundleError(f"{folder / MODEL_JSON}: not a sertools model description")
    if int(meta.get("version", 0)) > VERSION:
        raise BundleError(f"{folder}: model format version {meta.get('version')} is newer than this sertools")
    check_outputs(meta, folder / MODEL_JSON)
    for name, digest in (meta.get("files") or {}).items():
        if not (folder / name).is_file():
            raise BundleError(f"{folder}: {name} is missing")
        if file_sha256(folder / name) != digest:
            raise BundleError(f"{folder / name}: SHA-256 differs from model.json's (changed or corrupted)")
    weights = _weights(folder / WEIGHTS)
    upstream = _weights(folder / UPSTREAM_WEIGHTS) if (folder / UPSTREAM_WEIGHTS).is_file() else None
    if (meta.get("upstream") or {}).get("architecture") and upstream is None:
        raise BundleError(f"{folder}: the frozen upstream's weights ({UPSTREAM_WEIGHTS}) are missing")
    return Bundle(meta, weights, upstream, folder)

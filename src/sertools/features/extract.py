"""The ``features`` stage: one upstream's fixed-size representation of every utterance of one split.

Reads the manifest's rows of the split (every utterance with usable audio) and
writes :mod:`sertools.features.store`'s file for them, in manifest order, plus
a summary JSON (rows read and written, shape, seconds, device). Upstreams:

* ``wavlm`` (:mod:`sertools.features.wavlm`): the frozen ``model.backbone``,
  every hidden layer mean (and optionally std) pooled; GPU when there is one;
* ``egemaps`` (:mod:`sertools.features.egemaps`): the 88 eGeMAPSv02
  functionals, in ``features.egemaps.workers`` processes (default: the job's
  threads).

Features are a function of the audio and the upstream only: the rule reads
the manifest as ``ancient`` (workflow/rules/features.smk), so a label, variant,
seed or head setting never recomputes them, and :func:`sertools.features.store.aligned`
refuses a file that no longer matches the manifest. Nothing is dropped: an
utterance whose features cannot be computed stops the stage naming its file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sertools.config import WAVLM_FEATURE_KEYS
from sertools.data import manifest_table
from sertools.device import resolve_device, torch_threads
from sertools.features import egemaps, store
from sertools.io import write_json

log = logging.getLogger(__name__)

#: the model keys that decide ``wavlm`` features (the stage also reads ``features.<upstream>``)
MODEL_KEYS = WAVLM_FEATURE_KEYS
#: the manifest columns this stage reads
NEEDED = ("file_id", "split", "path", "frames", "sample_rate")


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    upstream: str,
    split: str,
    settings: Mapping[str, Any],
    model: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Write ``outputs["features"]`` and ``outputs["summary"]`` for the manifest's ``split`` rows.

    ``inputs``: ``manifest``. ``settings``: the ``features.<upstream>`` section;
    ``model``: the model section (``wavlm`` reads :data:`MODEL_KEYS` of it).
    """
    store.check_upstream(upstream, "features rule")
    started = time.monotonic()
    manifest = manifest_table.read(inputs["manifest"], require=NEEDED)
    rows = manifest[manifest["split"] == split].sort_values("file_id", kind="stable")
    paths, frames = rows["path"].tolist(), rows["frames"].to_numpy()
    rates = sorted({int(r) for r in rows["sample_rate"]}) or [16000]
    if len(rates) > 1:
        raise manifest_table.ManifestError(f"{inputs['manifest']}: split {split} mixes sample rates {rates}")
    device = "cpu"
    with torch_threads(threads):
        if upstream == "wavlm":
            # imported here: an egemaps job need not load transformers (seconds per job)
            from sertools.features import wavlm

            if model is None:
                raise ValueError("the wavlm upstream needs the model section (model.backbone)")
            dev = resolve_device(settings["device"], key="features.wavlm.device")
            device = str(dev)
            values, names = wavlm.extract(paths, frames, rates[0], model, settings, dev)
            recorded = {**dict(settings), **{k: model[k] for k in MODEL_KEYS}}
            dtype = settings["dtype"]
        else:
            workers = int(settings.get("workers") or threads or 1)
            values = egemaps.extract(paths, rates[0], workers=workers)[:, None, :]
            names, dtype = [egemaps.FEATURE_SET], "float32"
            recorded = {**dict(settings), "workers": workers, "feature_names": egemaps.feature_names()}
    feats = store.Features(
        file_ids=rows["file_id"].tolist(),
        values=values,
        frames=frames,
        upstream=upstream,
        settings=recorded,
        layer_names=names,
    )
    store.write(outputs["features"], feats, dtype)
    summary = {
        "upstream": upstream,
        "split": split,
        "rows_read": len(rows),
        "rows_written": len(feats.file_ids),
        "shape": list(feats.shape),
        "dtype": dtype,
        "device": device,
        "seconds": round(time.monotonic() - started, 3),
        "settings": recorded,
        "manifest": str(inputs["manifest"]),
    }
    write_json(outputs["summary"], summary)
    log.info(
        "features: %s %s: %d of %d manifest rows -> %s [%d x %d], %.1f s",
        upstream,
        split,
        len(feats.file_ids),
        len(rows),
        Path(outputs["features"]).name,
        *feats.shape,
        summary["seconds"],
    )
    return summary

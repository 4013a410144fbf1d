"""The ``export`` command: a trained run as a self-contained folder that ``infer`` and ``load_model`` use.

The folder (docs/inference.md, "The exported folder")::

    model.json            architecture, classes, dimensions, preprocessing, batching, upstream,
                          checkpoint, and the SHA-256 of every weight file
    model.safetensors     the model's weights
    upstream.safetensors  the frozen SSL backbone's weights (a head on frozen wavlm features only)
    config.yaml           the run's config.yaml (model, train and variant sections, config hash)
    provenance/           the run's env.json, run.json and train_log.csv, as they were
    metrics/              the variant's metrics document and/or main.csv, when found
    README.md             the model card (:mod:`sertools.inference.card`)

Nothing in it is a pickle, and reading it needs neither the corpus nor the
repository's results. The metrics are looked for in ``results`` (default: the
results folder of a workflow run directory ``results/train/<variant>/seed<N>``,
three levels up).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from sertools.inference import bundle as bundles
from sertools.inference import card
from sertools.io import write_text

PROVENANCE_FILES = ("env.json", "run.json", "train_log.csv")


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _metrics(results: Path | None, variant: str, seed: Any, out: Path) -> tuple[list[str], str, str]:
    """(card table lines, their source, where they were looked for); copies the files found to ``out/metrics``."""
    if results is None:
        return [], "", "the run is not in a workflow's results folder and no --results was given"
    doc_path = results / "metrics" / f"{variant}.json"
    main_path = results / "tables" / "main.csv"
    looked = f"neither {doc_path} nor {main_path} exists"
    found = [p for p in (doc_path, main_path) if p.is_file()]
    if not found:
        return [], "", looked
    (out / "metrics").mkdir(exist_ok=True)
    for p in found:
        shutil.copyfile(p, out / "metrics" / p.name)
    if doc_path.is_file():
        rows = card.metric_rows(json.loads(doc_path.read_text()), [], seed)
        return rows, f"`metrics/{doc_path.name}` (the workflow's {doc_path})", looked
    with open(main_path, newline="") as fh:
        mine = [r for r in csv.DictReader(fh) if r.get("variant") == variant]
    return card.metric_rows(None, mine, seed), f"`metrics/main.csv` (the workflow's {main_path})", looked


def default_results(run_dir: Path) -> Path | None:
    """The results folder of a workflow run directory (``results/train/<variant>/seed<N>``), else None."""
    parents = run_dir.resolve().parents
    if len(parents) >= 3 and parents[1].name == "train":
        return parents[2]
    return None


def export(
    run: str | Path,
    out_dir: str | Path,
    *,
    features_dir: str | Path | None = None,
    results: str | Path | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Write the folder of ``run`` (a run directory or its ``best.safetensors``) to ``out_dir``; returns
    ``{"files": {name: sha256}, "metrics": where they came from or why there are none}``."""
    source = Path(run)
    if source.is_dir() and (source / bundles.MODEL_JSON).is_file():
        raise ValueError(f"{source} is already an exported model; copy the folder instead")
    bundle = bundles.load(source, features_dir)
    run_dir = bundle.origin.parent
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"{out} exists and is not empty (--force replaces it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    files = bundles.write(bundle, out)
    config = (
        yaml.safe_load((run_dir / "config.yaml").read_text()) if (run_dir / "config.yaml").is_file() else {}
    )
    if config:
        shutil.copyfile(run_dir / "config.yaml", out / "config.yaml")
    (out / "provenance").mkdir()
    for name in PROVENANCE_FILES:
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, out / "provenance" / name)
    ck = bundle.meta["checkpoint"]
    where = Path(results) if results is not None else default_results(run_dir)
    rows, found, looked = _metrics(where, str(ck.get("variant")), ck.get("seed"), out)
    text = card.render(
        bundle.meta,
        config or {},
        _json(run_dir / "run.json"),
        _json(run_dir / "env.json"),
        (rows, found, looked),
    )
    write_text(out / "README.md", text)
    return {"files": files, "metrics": found or looked}

"""One (setting, seed) of the study (sertools.study.fit): every variant trained and predicted; a rerun
after the job's outputs were deleted (what Snakemake does to a killed job) gives the same predictions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from sertools import config
from sertools.features import extract, store
from sertools.study import fit, layout

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from tinyrun import make_corpus

FROZEN = {"mode": "frozen", "upstream": "egemaps"}
VARIANTS = {
    "hard": {"targets": "consensus", "loss": "ce", "model": FROZEN},
    "dist": {"targets": "primary", "loss": "kl", "model": FROZEN},
}
SPLITS = ("Train", "Development", "Test1")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("studyfit")
    labels, manifest = make_corpus(root / "corpus")
    cfg = config.resolve(
        {
            "variants": VARIANTS,
            "train": {"max_epochs": 2, "batch_size": 8},
            "evaluation": {"baseline_variant": "hard"},
        }
    )
    for split in SPLITS:
        extract.run(
            {"manifest": manifest},
            {"features": root / "feat" / f"{split}.safetensors", "summary": root / "feat" / f"{split}.json"},
            upstream="egemaps",
            split=split,
            settings=cfg["features"]["egemaps"],
        )
    inputs = {"labels": labels, "manifest": manifest, **store.input_paths(root / "feat", SPLITS)}
    sections = {
        v: {
            "model": config.variant_model(cfg, v),
            "train": config.variant_train(cfg, v),
            "variant": cfg["variants"][v],
        }
        for v in VARIANTS
    }
    return root, inputs, sections


def _outputs(root: Path) -> dict[str, Path]:
    return {
        k: root / v for k, v in layout.fit_outputs(list(VARIANTS), ["Test1"], setting="s", seed=0).items()
    }


def test_trains_and_predicts_every_variant_and_resumes(corpus):
    root, inputs, sections = corpus
    outputs = _outputs(root)
    summaries = fit.run(inputs, outputs, variants=sections, splits=["Test1"], seed=0, threads=1)
    assert set(summaries) == set(VARIANTS)
    n_test = int((pd.read_parquet(inputs["manifest"])["split"] == "Test1").sum())
    first = {}
    for v in VARIANTS:
        run = json.loads(Path(outputs[f"{v}.run"]).read_text())
        assert run["variant"] == v and run["seed"] == 0
        first[v] = pd.read_parquet(outputs[f"{v}.pred.Test1"])
        assert len(first[v]) == n_test
    for path in outputs.values():  # a killed job: Snakemake removes every output of it
        Path(path).unlink()
    fit.run(inputs, outputs, variants=sections, splits=["Test1"], seed=0, threads=1)
    for v in VARIANTS:
        pd.testing.assert_frame_equal(pd.read_parquet(outputs[f"{v}.pred.Test1"]), first[v])


def test_refuses_a_fine_tuned_variant_or_missing_features(corpus):
    root, inputs, sections = corpus
    fine = {"x": {**sections["hard"], "model": {**sections["hard"]["model"], "mode": "finetune"}}}
    with pytest.raises(ValueError, match="not a frozen-upstream head"):
        fit.run(inputs, _outputs(root), variants=fine, splits=["Test1"], seed=0)
    no_test = {k: v for k, v in inputs.items() if k != "features_Test1"}
    with pytest.raises(ValueError, match=r"no features input for split\(s\) \['Test1'\]"):
        fit.run(no_test, _outputs(root), variants=sections, splits=["Test1"], seed=0)

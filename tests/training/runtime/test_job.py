"""A job's config hash: what enters it, and what does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from sertools import architecture, config, deps
from sertools.training.runtime import job as jobs
from sertools.training.runtime import provenance


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "labels.parquet").write_bytes(b"labels")
    (tmp_path / "manifest.parquet").write_bytes(b"manifest")
    return tmp_path / "labels.parquet", tmp_path / "manifest.parquet"


def _job(files: tuple[Path, Path], variant: str = "hard_ce", seed: int = 0, **train: object) -> jobs.Job:
    cfg = config.resolve({"train": train})
    cfg["variants"][variant]["train"] = {"batch_size": 8}
    return jobs.make_job(
        cfg["model"], config.variant_train(cfg, variant), cfg["variants"][variant], variant, seed, *files
    )


def test_job_sections(files: tuple[Path, Path]) -> None:
    job = _job(files, "dist_primary_kl_curriculum")
    assert job.train["batch_size"] == 8 and "train" not in job.variant
    assert job.curriculum["order"] == "easy_to_hard" and _job(files).curriculum["order"] == "none"
    doc = job.config_doc()
    assert doc["variant"]["name"] == "dist_primary_kl_curriculum" and doc["config_hash"] == job.config_hash
    assert job.max_epochs == job.train["max_epochs"]


def test_hash_covers_settings_variant_seed_inputs_and_code(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _job(files).config_hash
    assert _job(files).config_hash == base
    assert _job(files, seed=1).config_hash != base
    assert _job(files, "hard_cbce").config_hash != base
    assert _job(files, max_epochs=2).config_hash != base
    files[0].write_bytes(b"other labels")
    assert _job(files).config_hash != base
    files[0].write_bytes(b"labels")
    real = provenance.code_fingerprint
    monkeypatch.setattr(provenance, "code_fingerprint", lambda m: {**real(m), "sertools_code": "x"})
    assert _job(files).config_hash != base


def test_fingerprint_reads_the_stage_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert architecture.STAGES["train"] == architecture.STAGES["train_head"] == jobs.STAGE_MODULE
    fp = provenance.code_fingerprint(jobs.STAGE_MODULE)
    assert set(fp) == {"sertools_code", "torch", "transformers"}
    assert fp["sertools_code"] == deps.code_fingerprint(jobs.STAGE_MODULE)
    assert provenance.code_fingerprint(jobs.STAGE_MODULE) == fp
    assert provenance.code_fingerprint("sertools.classes") != fp

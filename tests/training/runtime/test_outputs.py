"""A run's files: where they go, stale temporaries, which resume checkpoints are used."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from sertools.training.runtime import checkpoint, distributed, outputs


def test_files_from_the_rule_outputs_and_from_a_directory(tmp_path: Path) -> None:
    files = outputs.RunFiles.from_outputs(
        {
            "best": tmp_path / "w" / "best.safetensors",
            "log_csv": tmp_path / "l.csv",
            "run": tmp_path / "r" / "run.json",
        }
    )
    assert files.best == tmp_path / "w" / "best.safetensors" and files.log == tmp_path / "l.csv"
    assert files.resume == tmp_path / "r" / "resume" / "last.safetensors"
    assert files.config == tmp_path / "r" / "config.yaml"
    std = outputs.RunFiles.in_dir(tmp_path)
    assert (std.best, std.log, std.run) == tuple(outputs.outputs_in(tmp_path).values())


def test_prepare_removes_only_our_stale_temporaries(tmp_path: Path) -> None:
    files = outputs.RunFiles.in_dir(tmp_path)
    (tmp_path / "resume").mkdir()
    stale = [
        tmp_path / ".best.safetensors.abc.tmp.safetensors",
        tmp_path / "resume" / ".last.safetensors.x.tmp",
    ]
    other = tmp_path / ".notes.tmp"
    for p in (*stale, other):
        p.write_text("x")
    files.prepare(distributed.DistContext())
    assert not any(p.exists() for p in stale) and other.exists()


def test_resume_checkpoint_of_another_job_or_unreadable_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "last.safetensors"
    assert outputs.read_resume(path, "h") is None  # none yet: nothing to say
    checkpoint.save(path, {"x": torch.ones(1)}, {"config_hash": "other"}, "resume")
    with caplog.at_level(logging.WARNING, logger="sertools.training"):
        assert outputs.read_resume(path, "mine") is None
        assert outputs.read_resume(path, "other") is not None
        path.write_bytes(b"garbage")
        assert outputs.read_resume(path, "other") is None
    assert "has config hash other" in caplog.text and "unusable" in caplog.text

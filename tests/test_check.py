"""``sertools check``: the preflight of a run, and the workflow's own check when it loads."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from sertools import check, cli
from sertools import config as config_mod
from sertools.corpus.synthetic.generate import generate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's working directory: an MSP-Podcast-layout corpus and a local WavLM-Base-shaped checkpoint."""
    d = tmp_path_factory.mktemp("site")
    generate(d / "msp", 30, 1, min_duration_s=0.5, max_duration_s=0.6)
    model = d / "models" / "wavlm-base"
    model.mkdir(parents=True)
    (model / "config.json").write_text(
        json.dumps({"model_type": "wavlm", "num_hidden_layers": 12, "hidden_size": 768})
    )
    (model / "model.safetensors").write_bytes(b"\0" * 4096)
    return d


def paper(**changes: object) -> dict:
    user = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    user["corpus"]["root"] = "msp"
    return config_mod.resolve(config_mod.deep_merge(user, changes))


def by_check(findings: list[check.Finding]) -> dict[str, check.Finding]:
    return {f.check: f for f in findings}


def test_the_demo_passes_and_its_plan_is_the_configs() -> None:
    cfg = config_mod.load(ROOT / "config" / "config.yaml")
    found = check.run_checks(cfg, workdir=ROOT)
    assert not check.failures(found), check.report(found)
    jobs = check.plan(cfg)
    finetuned = [v for v in cfg["variants"] if config_mod.variant_model(cfg, v)["mode"] != "frozen"]
    assert jobs["train"] == jobs["predict"] == len(finetuned) * len(cfg["seeds"])


def test_the_paper_run_with_a_local_checkpoint_passes_on_a_gpu_less_login_node(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(site)
    found = by_check(check.run_checks(paper(), gpu_here=False, workdir=site))
    assert not check.failures(found.values()), check.report(found.values())
    assert found["backbone shape"].ok and "up to 12" in found["backbone shape"].detail
    assert "sha256 " in found["backbone weights"].detail
    assert found["corpus audio"].detail.endswith("30 audio files")
    if torch.version.cuda is not None and not torch.cuda.is_available():
        assert found["cuda"].ok is None and "srun --gpus=1" in found["cuda"].detail
        # on the node itself (no --gpu-elsewhere) the same torch fails, naming why
        cuda = by_check(check.run_checks(paper(), workdir=site))["cuda"]
        assert cuda.ok is False and "CUDA" in cuda.detail


@pytest.mark.parametrize(
    ("changes", "name", "message"),
    [
        ({"model": {"backbone": "microsoft/wavlm-base"}}, "backbone", "model-hub id.*hf download"),
        ({"model": {"backbone": "models/wavlm-bas"}}, "backbone", "no such directory"),
        ({"corpus": {"root": "nowhere"}}, "corpus", "is not a directory"),
    ],
)
def test_a_bad_path_fails_naming_it(
    site: Path, monkeypatch: pytest.MonkeyPatch, changes: dict, name: str, message: str
) -> None:
    monkeypatch.chdir(site)
    found = by_check(check.run_checks(paper(**changes), gpu_here=False, workdir=site))
    assert found[name].ok is False
    assert re.search(message, found[name].detail), found[name].detail


def test_a_checkpoint_of_the_wrong_shape_fails(
    site: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small = tmp_path / "small"
    shutil.copytree(site / "models" / "wavlm-base", small)
    # HuBERT is a supported family (docs/upstreams.md) whose depth is checked like WavLM's; whisper is no family
    (small / "config.json").write_text(json.dumps({"model_type": "hubert", "num_hidden_layers": 4}))
    monkeypatch.chdir(site)
    found = by_check(check.run_checks(paper(model={"backbone": str(small)}), gpu_here=False, workdir=site))
    assert found["backbone config"].ok is True and "'hubert', 4 layers" in found["backbone config"].detail
    assert found["backbone shape"].ok is False and "has 4" in found["backbone shape"].detail
    (small / "config.json").write_text(json.dumps({"model_type": "whisper", "num_hidden_layers": 12}))
    found = by_check(check.run_checks(paper(model={"backbone": str(small)}), gpu_here=False, workdir=site))
    assert found["backbone config"].ok is False and "'whisper'" in found["backbone config"].detail


def test_profile_placeholders_are_listed_and_gpu_hours_planned(tmp_path: Path) -> None:
    found = check.profile_findings(ROOT / "profiles" / "slurm")
    assert found[0].ok is False and "fill 5 placeholder(s)" in found[0].detail
    assert "set-resources.features_gpu.slurm_partition" in found[0].detail
    filled = tmp_path / "slurm"
    filled.mkdir()
    text = (ROOT / "profiles" / "slurm" / "config.yaml").read_text().replace("EDIT_ME", "gpu_a100")
    (filled / "config.yaml").write_text(text)
    assert check.profile_findings(filled)[0].ok
    cfg = paper()
    jobs = check.plan(cfg)
    hours = by_check(check.plan_findings(cfg, filled))["gpu hours"].detail
    prof = yaml.safe_load(text)["set-resources"]
    expected = sum(jobs[r] * prof[r]["gpu"] * prof[r]["runtime"] / 60 for r in check.GPU_RULES)
    assert hours.startswith(f"{expected:.0f} GPU-hours")


def free_disk(free: int) -> SimpleNamespace:
    """What shutil.disk_usage returns, with ``free`` bytes free."""
    return SimpleNamespace(total=free, used=0, free=free)


def test_the_disk_check_compares_free_space_with_the_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = paper()
    need = check.estimate_bytes(cfg)
    assert need > 10 * 2**30  # checkpoints with optimiser state of 30 WavLM-Base runs, and features
    monkeypatch.setattr(check.shutil, "disk_usage", lambda _p: free_disk(need - 1))
    (short,) = check.disk_findings(cfg)
    assert not short.ok
    monkeypatch.setattr(check.shutil, "disk_usage", lambda _p: free_disk(need + 1))
    (room,) = check.disk_findings(cfg)
    assert room.ok


def test_the_command_exits_1_on_a_failure_and_0_when_all_pass(
    site: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the paper's run writes about 48 GiB: the exit codes must not depend on this machine's free disk
    # (test_the_disk_check_compares_free_space_with_the_estimate tests that check)
    monkeypatch.setattr(check.shutil, "disk_usage", lambda _p: free_disk(2**60))
    args = ["check", "-d", str(site), "--configfile", str(ROOT / "config" / "paper.yaml"), "--gpu-elsewhere"]
    args += ["--config", "corpus={root: msp}"]
    cwd = os.getcwd()
    try:
        assert cli.main(args) == 0
        assert "all checks passed" in capsys.readouterr().out
        assert cli.main([*args, "model={backbone: microsoft/wavlm-base}"]) == 1
        out = capsys.readouterr().out
        assert "FAIL  backbone" in out and "1 check(s) failed" in out
    finally:
        os.chdir(cwd)


@pytest.mark.workflow
def test_the_workflow_refuses_a_bad_backbone_before_any_job(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path)]
    cmd += ["--configfile", str(ROOT / "tests" / "workflow" / "config.yaml"), "--cores", "1", "-n"]
    cmd += ["--config", "model={backbone: models/wavlm-base}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "preflight (sertools check) failed" in text and "no such directory" in text
    assert "Job stats" not in text


def test_torch_build_is_read_without_importing_torch() -> None:
    """The workflow's load-time check learns torch's CUDA build from torch/version.py."""
    code = (
        "import sys, json; from sertools import check; v, c = check.torch_build(); "
        "print(json.dumps([v, c, 'torch' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    version, cuda, imported = json.loads(out)
    assert (version, cuda, imported) == (torch.__version__, torch.version.cuda, False)

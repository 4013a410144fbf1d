"""`make readme` (sertools.report.readme): the demo block always, the study block after `make study`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sertools.report import readme


def _demo_results(root: Path) -> Path:
    results = root / "results"
    (results / "tables").mkdir(parents=True)
    (results / "figures").mkdir()
    (results / "labels").mkdir()
    (results / "tables" / "main.md").write_text("| a |\n|---|\n| 1 |\n")
    (results / "figures" / "strata_jsd_primary.png").write_bytes(b"png")
    summary = {"utterances_kept": 12, "reliability": {"fleiss_kappa_primary": {"all": 0.25}}}
    (results / "labels" / "summary.json").write_text(json.dumps(summary))
    return results


def _readme(root: Path) -> Path:
    text = "\n".join(
        [
            "# x",
            readme.BEGIN,
            "old demo",
            readme.END,
            "## sim",
            readme.STUDY_BEGIN,
            "old study",
            readme.STUDY_END,
            "",
        ]
    )
    path = root / "README.md"
    path.write_text(text)
    return path


def test_without_study_results_the_study_block_stays(tmp_path: Path) -> None:
    results, path = _demo_results(tmp_path), _readme(tmp_path)
    readme.update(path, results, tmp_path / "docs", "abc1234")
    text = path.read_text()
    assert "| 1 |" in text and "old demo" not in text and "old study" in text
    assert "12 utterances" in text and "0.250" in text


def test_study_block_is_the_findings_and_figure(tmp_path: Path) -> None:
    results, path = _demo_results(tmp_path), _readme(tmp_path)
    (results / "study" / "tables").mkdir(parents=True)
    (results / "study" / "figures").mkdir()
    (results / "study" / "tables" / "findings.md").write_text(
        "# What the simulation shows\n\nRows differ by 0.5.\n"
    )
    (results / "study" / "figures" / "reliability_jsd.png").write_bytes(b"fig")
    readme.update(path, results, tmp_path / "docs", "abc1234")
    text = path.read_text()
    assert "Rows differ by 0.5." in text and "old study" not in text
    assert "# What the simulation shows" not in text  # the README's own heading stays
    assert (tmp_path / "docs" / "study_reliability_jsd.png").read_bytes() == b"fig"


def test_study_only_leaves_the_demo_block(tmp_path: Path) -> None:
    path = _readme(tmp_path)
    results = tmp_path / "results"
    (results / "study" / "tables").mkdir(parents=True)
    (results / "study" / "figures").mkdir()
    (results / "study" / "tables" / "findings.md").write_text("# What the simulation shows\n\nNew study.\n")
    (results / "study" / "figures" / "reliability_jsd.png").write_bytes(b"fig")
    readme.update_study(path, results, tmp_path / "docs", "abc1234")
    text = path.read_text()
    assert "New study." in text and "old study" not in text and "old demo" in text
    with pytest.raises(SystemExit, match=r"findings\.md"):
        readme.update_study(path, tmp_path / "none", tmp_path / "docs", "abc1234")


def test_missing_markers_stop_with_a_message(tmp_path: Path) -> None:
    results = _demo_results(tmp_path)
    path = tmp_path / "README.md"
    path.write_text("# nothing\n")
    with pytest.raises(SystemExit, match="markers"):
        readme.update(path, results, tmp_path / "docs", "abc")


def _env(cpu: str, cores: int | None = 2, threads: int = 2, **more) -> dict:
    """An env.json's machine fields; ``cores=None``: written before the core count was recorded."""
    env = {"device": "cpu", "cpu": cpu, "cpu_count": cores, "torch_threads": threads, "gpu_name": None}
    if cores is None:
        del env["cpu_count"]
    return {**env, **more}


def _runs(results: Path, envs: dict[str, dict]) -> None:
    """``envs``: "variant/seedK" -> env.json, and a main.csv listing those variants."""
    for run, env in envs.items():
        (results / "train" / run).mkdir(parents=True)
        (results / "train" / run / "env.json").write_text(json.dumps(env))
    variants = sorted({run.split("/")[0] for run in envs} - {"stale"})
    rows = [f"{v},m,Test1,macro_f1,0.1,,0.0,0.2,2,10" for v in variants]
    rows.append("prior,reference,Test1,macro_f1,0.1,,0.0,0.2,1,10")
    header = "variant,model,split,metric,mean,sd_seeds,ci_low,ci_high,n_seeds,n_utterances"
    (results / "tables" / "main.csv").write_text("\n".join([header, *rows]) + "\n")


def _demo_paragraph(path: Path) -> str:
    return path.read_text().split(readme.BEGIN, 1)[1].split("\n\n", 1)[0]


def test_demo_block_states_the_machine_the_runs_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results, path = _demo_results(tmp_path), _readme(tmp_path)
    cpu = "AMD EPYC 7B13"
    _runs(
        results,
        {
            "hard_ce/seed0": _env(cpu),
            "hard_ce/seed1": _env(cpu),
            "head_kl/seed0": _env(cpu, threads=1),
            # a variant main.csv does not show (an earlier config's run): not counted
            "stale/seed0": _env("Intel(R) Xeon(R) CPU @ 2.20GHz", cores=64),
        },
    )
    # what the machine running `make readme` would say plays no part
    monkeypatch.setattr("sertools.training.runtime.provenance._cpu_name", lambda *a: "Other CPU")
    readme.update(path, results, tmp_path / "docs", "abc1234")
    text = _demo_paragraph(path)
    assert "The 3 training runs ran on AMD EPYC 7B13 (2 logical CPUs), 1 or 2 torch threads" in text
    assert "Intel" not in text and "Other CPU" not in text and "did not all" not in text
    # the table as CSV is kept in docs/, the reference `sertools compare` checks a run against
    assert "`sertools compare docs/demo_main.csv results/tables/main.csv`" in text
    assert (tmp_path / "docs" / "demo_main.csv").read_text() == (results / "tables" / "main.csv").read_text()


def test_demo_block_says_when_the_runs_used_different_machines(tmp_path: Path) -> None:
    results, path = _demo_results(tmp_path), _readme(tmp_path)
    intel = "Intel(R) Xeon(R) CPU @ 2.20GHz"
    _runs(
        results,
        {
            "hard_ce/seed0": _env("AMD EPYC 7B13"),
            "hard_ce/seed1": _env(intel, cores=4),
            "dist_kl/seed0": _env(intel, cores=4),
        },
    )
    readme.update(path, results, tmp_path / "docs", "abc1234")
    text = _demo_paragraph(path)
    assert "The 3 training runs did not all run on one machine" in text
    assert f"2 on {intel} (4 logical CPUs); 1 on AMD EPYC 7B13 (2 logical CPUs)" in text
    assert "2 torch threads per training job" in text


def test_demo_block_with_old_or_missing_provenance(tmp_path: Path) -> None:
    results, path = _demo_results(tmp_path), _readme(tmp_path)
    readme.update(path, results, tmp_path / "docs", "abc1234")
    text = _demo_paragraph(path)
    assert "No training run's provenance" in text and "`sertools compare`" in text
    assert not (tmp_path / "docs" / "demo_main.csv").exists()  # no main.csv, no copy
    # an env.json written before the core count was recorded
    _runs(results, {"hard_ce/seed0": _env("AMD EPYC 7B13", cores=None, threads=1)})
    path = _readme(tmp_path)
    readme.update(path, results, tmp_path / "docs", "abc1234")
    text = _demo_paragraph(path)
    assert "The 1 training run ran on AMD EPYC 7B13 (core count not recorded), 1 torch thread per" in text


def test_demo_block_names_a_gpu(tmp_path: Path) -> None:
    results, path = _demo_results(tmp_path), _readme(tmp_path)
    _runs(results, {"hard_ce/seed0": _env("AMD EPYC 7B13", cores=32, device="cuda", gpu_name="NVIDIA A100")})
    readme.update(path, results, tmp_path / "docs", "abc1234")
    assert "AMD EPYC 7B13 (32 logical CPUs) with GPU NVIDIA A100" in _demo_paragraph(path)

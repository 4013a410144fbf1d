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


def test_without_study_results_the_study_block_stays(tmp_path):
    results, path = _demo_results(tmp_path), _readme(tmp_path)
    readme.update(path, results, tmp_path / "docs", "abc1234")
    text = path.read_text()
    assert "| 1 |" in text and "old demo" not in text and "old study" in text
    assert "12 utterances" in text and "0.250" in text


def test_study_block_is_the_findings_and_figure(tmp_path):
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


def test_missing_markers_stop_with_a_message(tmp_path):
    results = _demo_results(tmp_path)
    path = tmp_path / "README.md"
    path.write_text("# nothing\n")
    with pytest.raises(SystemExit, match="markers"):
        readme.update(path, results, tmp_path / "docs", "abc")

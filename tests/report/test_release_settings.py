"""docs/paper_release/settings.md: regenerated from config/paper.yaml and the release transcription; every
difference has a reason, and a new one without a reason fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from sertools.report import release_settings as rs


def test_the_page_is_up_to_date_and_every_difference_has_a_reason() -> None:
    table = rs.lines()
    assert not rs.unexplained(table), [(line.setting.name, line.rows) for line in rs.unexplained(table)]
    assert (rs.ROOT / rs.OUTPUT).read_text() == rs.render(), (
        "docs/paper_release/settings.md is stale: run python -m sertools.report.release_settings"
    )
    assert rs.main(["--check"]) == 0


def test_every_row_of_table_2_and_the_release_values_it_must_match() -> None:
    table = rs.lines()
    for setting in rs.SETTINGS:
        covered = [row for line in table if line.setting is setting for row in line.rows]
        assert len(covered) == len(set(covered)), setting.name
    same = {(line.setting.name, row) for line in table if line.same for row in line.rows}
    # the counts behind H CB's and the WKLD rows' weights are the transcribed ones
    assert ("CBCE class counts", "H CB") in same
    assert {("WKLD class counts", "ML KLD"), ("WKLD class counts", "MH WKLD")} <= same
    for row in rs.ROWS:
        for name in ("gradient clipping", "LayerDrop", "training batches", "validation and test batches"):
            assert (name, row) in same, (name, row)


def _copy_root(tmp_path: Path) -> Path:
    for rel in (rs.PAPER_CONFIG, rs.TRANSCRIPTION):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(rs.ROOT / rel, tmp_path / rel)
    return tmp_path


def test_a_difference_without_a_reason_fails(tmp_path: Path) -> None:
    root = _copy_root(tmp_path)
    paper = yaml.safe_load((root / rs.PAPER_CONFIG).read_text())
    paper["train"]["batch_size"] = 16
    paper["train"]["grad_clip"] = 5.0
    (root / rs.PAPER_CONFIG).write_text(yaml.safe_dump(paper))
    bad = {line.setting.name for line in rs.unexplained(rs.lines(root))}
    assert bad == {"mini-batch", "gradient clipping"}
    assert rs.main(["--root", str(root)]) == 1  # written, but with unexplained differences
    assert "NO REASON" in (root / rs.OUTPUT).read_text()
    assert rs.main(["--check", "--root", str(root)]) == 1


def test_a_stale_page_fails_the_check(tmp_path: Path) -> None:
    root = _copy_root(tmp_path)
    (root / rs.OUTPUT).write_text("old\n")
    assert rs.main(["--check", "--root", str(root)]) == 1
    assert rs.main(["--root", str(root)]) == 0
    assert rs.main(["--check", "--root", str(root)]) == 0

"""The CREMA-D label statistics block of docs/corpus.md: made from a label summary, and in step with
the summary kept in docs/crema_d/ (the corpus's own file, measured by the label stage)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sertools.report import crema_d_stats

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = ROOT / "docs" / "crema_d" / "label_summary.json"


def test_the_docs_block_is_the_kept_summary() -> None:
    text = (ROOT / "docs" / "corpus.md").read_text()
    start = text.index(crema_d_stats.BEGIN)
    end = text.index(crema_d_stats.END) + len(crema_d_stats.END)
    summary = json.loads(SUMMARY.read_text())
    assert text[start:end] == crema_d_stats.block(summary, "docs/crema_d/label_summary.json")


def test_block_numbers_come_from_the_summary(tmp_path: Path) -> None:
    summary = json.loads(SUMMARY.read_text())
    summary["statistics"]["voice"]["responses_matching_intended"] = 0.123456
    summary["statistics"]["voice"]["responses_matching_intended_by_class"]["Sad"] = 0.5
    block = crema_d_stats.block(summary, "x.json")
    assert "| responses naming the intended emotion | 12.3 % |" in block
    assert "| difference from the published rate, all responses (mean over emotions) | -28.6 (" in block
    assert "| Neutral | 1087 |" in block
    assert "| Sad | 1271 | 50.0 % |" in block
    assert "| published recognition rate (Cao et al. 2014) | 40.9 % | 58.2 % | 63.6 % |" in block
    doc = tmp_path / "doc.md"
    doc.write_text(f"head\n{crema_d_stats.BEGIN}\nold\n{crema_d_stats.END}\ntail\n")
    crema_d_stats.main([str(SUMMARY), "--write", str(doc), "--source", "s.json"])
    assert doc.read_text().startswith("head\n" + crema_d_stats.BEGIN) and doc.read_text().endswith("tail\n")
    with pytest.raises(ValueError, match="not a CREMA-D label summary"):
        crema_d_stats.block({"corpus": "msp_podcast"}, "m.json")

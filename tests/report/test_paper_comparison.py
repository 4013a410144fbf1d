"""Published vs reproduced on a fabricated run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sertools.report import paper_comparison as P

ROOT = Path(__file__).resolve().parents[2]
TABLE2 = ROOT / "docs/paper_release/table2.csv"


def test_published_table_is_complete():
    pub = P.read_published(TABLE2)
    assert len(pub) == 10 * 2 * 7
    assert pub.groupby("split")["row"].nunique().to_dict() == {"Test1": 10, "Test2": 10}
    row = pub.query("row == 'MH +F' and split == 'Test1' and metric == 'macro_f1_published'").iloc[0]
    assert (row.value, row.ci_low, row.ci_high) == (34.81, 34.37, 35.29)


def test_compare_a_fabricated_run():
    pub = P.read_published(TABLE2)
    ours = pd.DataFrame(
        [
            # MH KLD Test1: macro-F1 0.2922 -> 29.22, CI overlapping the published one
            ("mh_kld", "Test1", "macro_f1_published", 0.2922, 0.2880, 0.2960),
            # KLD far off: no overlap
            ("mh_kld", "Test1", "kld", 1.2, 1.1, 1.3),
        ],
        columns=["variant", "split", "metric", "value", "ci_low", "ci_high"],
    )
    table = P.compare(pub, ours, {"mh_kld": "MH KLD"})
    assert len(table) == len(pub)
    hit = table.query("paper_row == 'MH KLD' and split == 'Test1'").set_index("metric")
    assert hit.loc["macro_f1_published", "ours"] == pytest.approx(29.22)
    assert hit.loc["macro_f1_published", "difference"] == pytest.approx(0.0, abs=1e-9)
    assert bool(hit.loc["macro_f1_published", "cis_overlap"]) is True
    assert hit.loc["kld", "difference"] == pytest.approx(1.2 - 0.809)
    assert bool(hit.loc["kld", "cis_overlap"]) is False
    assert pd.isna(hit.loc["uar", "ours"]) and pd.isna(hit.loc["uar", "cis_overlap"])
    other = table.query("paper_row == 'H CE'")
    assert other["ours"].isna().all() and other["variant"].isna().all()
    md = P.to_markdown(table, comparable=False)
    assert P.NOT_COMPARABLE in md
    assert (
        "| MH KLD | mh_kld | macro_f1_published | 29.22 [28.69, 29.73] | 29.22 [28.80, 29.60] | 0.00 | yes |"
        in md
    )
    assert P.NOT_COMPARABLE not in P.to_markdown(table, comparable=True)


def test_unknown_paper_row_is_refused():
    with pytest.raises(ValueError, match="paper_row names not in the published table"):
        P.compare(
            P.read_published(TABLE2),
            pd.DataFrame(columns=["variant", "split", "metric", "value", "ci_low", "ci_high"]),
            {"x": "MH KLDD"},
        )

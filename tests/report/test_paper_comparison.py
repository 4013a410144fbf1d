"""Published vs reproduced on a fabricated run."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from sertools.evaluation import metrics, metrics_doc
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


# ------------------------------------------------------------------ the stage on a fabricated run


def _dumps():
    """tests/evaluation/dumps.py (label table, latent truth and prediction dumps on disk)."""
    spec = importlib.util.spec_from_file_location("eval_dumps", ROOT / "tests/evaluation/dumps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VARIANTS = {
    "hard_ce": {
        "targets": "consensus",
        "loss": "ce",
        "hard_labels": "consensus_x_other",
        "paper_row": "H CE",
    },
    "mh_kld": {"targets": "release_MH", "loss": "kl", "hard_labels": "guarded_argmax", "paper_row": "MH KLD"},
    "extra": {"targets": "primary", "loss": "kl", "paper_row": None},
}
SOURCE = {"hard_ce": "noisy", "mh_kld": "perfect", "extra": "uniform"}


@pytest.fixture(scope="module")
def fabricated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Metrics documents written by the metrics stage for three variants, one naming no row."""
    d = _dumps()
    root = tmp_path_factory.mktemp("paper")
    corpus = d.make_corpus(root)
    paths = []
    for v, cfg in VARIANTS.items():
        out = root / "metrics" / f"{v}.json"
        metrics.run(
            {**corpus["paths"][SOURCE[v]], "labels": corpus["labels"]},
            {"metrics": out},
            evaluation=d.EVAL_CFG,
            seeds=d.SEEDS,
            variant=v,
            variant_cfg=cfg,
        )
        paths.append(out)
    return {"root": root, "metrics": paths}


def test_run_on_a_fabricated_run(fabricated: dict) -> None:
    out = {"csv": fabricated["root"] / "t" / "paper_comparison.csv", "md": fabricated["root"] / "t" / "pc.md"}
    inputs = {"published": TABLE2, "metrics": fabricated["metrics"]}
    table = P.run(inputs, out, variants=VARIANTS, comparable=False)
    pub = P.read_published(TABLE2)
    assert len(table) == len(pub)
    docs = {v: metrics_doc.read(p) for v, p in zip(VARIANTS, fabricated["metrics"], strict=True)}
    for variant, row in (("hard_ce", "H CE"), ("mh_kld", "MH KLD")):
        doc = docs[variant]
        for split in ("Test1", "Test2"):
            got = table[(table["paper_row"] == row) & (table["split"] == split)].set_index("metric")
            assert (got["variant"] == variant).all()
            for published, (where, name) in P.OURS.items():
                e = (
                    metrics_doc.own_entry(doc, split, name)
                    if where == "own"
                    else metrics_doc.entry(doc, split, name)
                )
                scale = P.PUBLISHED_SCALE[published]
                assert got.loc[published, "ours"] == pytest.approx(scale * e["mean"]), (variant, published)
                assert got.loc[published, "ours_low"] == pytest.approx(scale * e["ci_low"])
                assert got.loc[published, "ours_high"] == pytest.approx(scale * e["ci_high"])
            # the hard-label numbers are the OWN scheme's, not the common block's
            own_acc = metrics_doc.own_entry(doc, split, "accuracy")["mean"]
            assert got.loc["accuracy", "ours"] == pytest.approx(100 * own_acc)
            assert own_acc != pytest.approx(metrics_doc.entry(doc, split, "accuracy")["mean"])
    # a published row nobody reproduces: empty cells
    assert table.query("paper_row == 'P KLD'")["ours"].isna().all()
    with open(out["csv"], newline="") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert list(csv_rows[0]) == list(P.COLUMNS) and len(csv_rows) == len(pub)
    hit = next(
        r for r in csv_rows if r["paper_row"] == "MH KLD" and r["split"] == "Test1" and r["metric"] == "jsd"
    )
    assert (
        hit["variant"] == "mh_kld"
        and hit["published"] == "0.189000"
        and hit["cis_overlap"] in ("true", "false")
    )
    empty = next(r for r in csv_rows if r["paper_row"] == "P KLD")
    assert empty["variant"] == "" and empty["ours"] == "" and empty["cis_overlap"] == ""
    md = out["md"].read_text()
    assert P.NOT_COMPARABLE in md and "## Test1" in md and "## Test2" in md
    assert "mh_kld (MH KLD): guarded_argmax:release_MH" in md and "hard_ce (H CE): consensus_x_other" in md
    assert "release_MH (evaluation.paper_reference)" in md
    # the same inputs give the same bytes; comparable drops the heading
    first = out["csv"].read_bytes(), md
    P.run(inputs, out, variants=VARIANTS, comparable=True)
    assert out["csv"].read_bytes() == first[0]
    assert P.NOT_COMPARABLE not in out["md"].read_text()


def test_run_refuses_inconsistent_inputs(fabricated: dict, tmp_path: Path) -> None:
    out = {"csv": tmp_path / "a.csv", "md": tmp_path / "a.md"}
    inputs = {"published": TABLE2, "metrics": fabricated["metrics"]}
    with pytest.raises(ValueError, match="3 metrics documents for 2 variants"):
        P.run(inputs, out, variants={k: VARIANTS[k] for k in ("hard_ce", "mh_kld")}, comparable=False)
    swapped = dict(reversed(list(VARIANTS.items())))
    with pytest.raises(ValueError, match="holds the metrics of variant"):
        P.run(inputs, out, variants=swapped, comparable=False)
    twice = {**VARIANTS, "extra": {**VARIANTS["extra"], "paper_row": "H CE"}}
    with pytest.raises(ValueError, match="both reproduce paper row 'H CE'"):
        P.run(inputs, out, variants=twice, comparable=False)


def test_paper_rows_and_no_compared_variant(fabricated: dict, tmp_path: Path) -> None:
    assert P.paper_rows(VARIANTS) == {"hard_ce": "H CE", "mh_kld": "MH KLD"}
    assert P.paper_rows({"a": "MH +F", "b": None}) == {"a": "MH +F"}
    # one row fine-tuned and on frozen features: two models, both compared
    both = {
        "ft": {"paper_row": "H CE", "model": "fine-tuned tiny (tc_gru)"},
        "fz": {"paper_row": "H CE", "model": "frozen eGeMAPS"},
    }
    assert P.paper_rows(both) == {"ft": "H CE", "fz": "H CE"}
    with pytest.raises(ValueError, match="both reproduce paper row 'H CE'"):
        P.paper_rows({**both, "fz2": dict(both["fz"])})
    none = {v: {**c, "paper_row": None} for v, c in VARIANTS.items()}
    out = {"csv": tmp_path / "n.csv", "md": tmp_path / "n.md"}
    table = P.run(
        {"published": TABLE2, "metrics": fabricated["metrics"]}, out, variants=none, comparable=False
    )
    assert table["ours"].isna().all() and table["variant"].isna().all()
    assert "No variant names a paper_row" in out["md"].read_text()

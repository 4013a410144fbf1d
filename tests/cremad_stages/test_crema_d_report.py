"""Tables and figures of a 6-class corpus (CREMA-D), and the one rule for what a corpus has to show
(sertools.report.shown): no Other-class table or figure without Other, no CCC table without A/V/D,
no paper comparison off the paper's classes, an intended-emotion table where the corpus has one."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from stagefiles import CremaDRun
from test_crema_d_metrics import evaluation
from test_crema_d_training import make_cfg

from sertools.classes import CREMA_D, MSP_PODCAST
from sertools.evaluation import metrics, reference, significance
from sertools.report import figures, shown, tables


@pytest.fixture(scope="module")
def documents(
    cremad_run: CremaDRun, dumps: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """Metrics of two heads and the prior reference, significance of one head against the other."""
    d = tmp_path_factory.mktemp("cremad_report")
    cfg = make_cfg()
    ev = {**evaluation(), "baseline_variant": "hard_ce"}
    prior = d / "prior.parquet"
    reference.run(
        {"labels": cremad_run.labels, "manifest": cremad_run.manifest},
        [prior],
        reference="prior",
        splits=["Test1"],
    )
    docs = {
        v: metrics.variant_metrics(
            {"Test1": [dumps[v]]}, cremad_run.labels, ev, variant=v, variant_cfg=cfg["variants"][v]
        )
        for v in ("hard_ce", "primary_kl_filter")
    }
    docs["prior"] = metrics.variant_metrics(
        {"Test1": [prior]},
        cremad_run.labels,
        ev,
        variant="prior",
        variant_cfg={"targets": "consensus", "hard_labels": "consensus", "model": reference.MODEL},
    )
    sig = {
        "primary_kl_filter": significance.compare(
            {"Test1": [dumps["primary_kl_filter"]]},
            {"Test1": [dumps["hard_ce"]]},
            cremad_run.labels,
            ev,
            variant="primary_kl_filter",
            baseline="hard_ce",
        )
    }
    summary = json.loads(cremad_run.labels.with_name("summary.json").read_text())
    return {"metrics": docs, "significance": sig, "summary": summary, "evaluation": ev, "dir": d}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_the_rule_for_what_a_corpus_shows() -> None:
    assert shown.lacking({"other", "dimensions", "paper_classes"}, MSP_PODCAST) == []
    assert shown.lacking({"intended"}, MSP_PODCAST) == ["the corpus records no intended emotion"]
    assert len(shown.lacking({"other", "dimensions", "paper_classes"}, CREMA_D)) == 3
    assert shown.shown({"intended"}, CREMA_D) and not shown.shown({"other"}, CREMA_D)
    with pytest.raises(ValueError, match="unknown need"):
        shown.lacking({"colour"}, CREMA_D)
    # the same rule decides the tables and figures of each corpus
    assert set(tables.left_out(CREMA_D)) == {"ccc", "other_class"}
    assert set(tables.left_out(MSP_PODCAST)) == {"intended"}
    assert set(tables.table_names(CREMA_D)) == set(tables.TABLE_NAMES) - {"ccc", "other_class"}
    assert set(figures.left_out(CREMA_D)) == {"other_class"} and figures.left_out(MSP_PODCAST) == {}
    assert "other_class" in figures.figure_stems([]) and "other_class" not in figures.figure_stems(
        [], classes=CREMA_D
    )


def test_tables_of_a_six_class_corpus(documents: dict[str, Any]) -> None:
    out = documents["dir"] / "tables"
    docs = documents["metrics"]
    written = tables.build_tables(
        docs,
        documents["significance"],
        documents["summary"],
        documents["evaluation"],
        out,
        references=["prior"],
    )
    assert sorted(written) == sorted(tables.table_files(out, classes=CREMA_D))
    assert not (out / "ccc.csv").exists() and not (out / "other_class.csv").exists()

    # the intended table: both labels' values are the documents' own, for the models and the prior
    rows = _rows(out / "intended.csv")
    assert {r["variant"] for r in rows} == {"hard_ce", "primary_kl_filter", "prior"}
    for r in rows:
        res = docs[r["variant"]]["splits"][r["split"]]
        block = res["metrics"] if r["labels"] == "perceived" else res["intended"]["metrics"]
        assert float(r["mean"]) == pytest.approx(block[r["metric"]]["mean"], abs=1e-6)
    assert {(r["labels"], r["metric"]) for r in rows} == {
        (lab, m) for lab in ("perceived", "intended") for m in ("macro_f1", "accuracy", "uar")
    }
    md = (out / "intended.md").read_text()
    assert "Macro-F1 intended" in md and "six classes" in md

    # the captions state the corpus's class count, not MSP-Podcast's
    assert "all six classes" in (out / "own_scheme.md").read_text()
    assert "ln / ln 6" in (out / "entropy_strata_own.md").read_text()
    main = _rows(out / "main.csv")
    assert "prior" in {r["variant"] for r in main}
    assert not any(r["metric"].startswith("ccc_") or "merged" in r["metric"] for r in main)

    # label statistics: per split and per rating modality, from the label summary
    stats = {(r["split"], r["statistic"]): r["value"] for r in _rows(out / "label_stats.csv")}
    voice = documents["summary"]["statistics"]["voice"]
    assert float(stats[("voice", "responses_matching_intended")]) == pytest.approx(
        voice["responses_matching_intended"], abs=1e-4
    )
    assert float(stats[("voice", "fleiss_kappa")]) == pytest.approx(voice["fleiss_kappa"]["kappa"], abs=1e-4)
    assert int(stats[("Test1", "clips")]) == documents["summary"]["splits"]["Test1"]["clips"]
    header = (out / "label_stats.md").read_text().splitlines()[0]
    assert header.index("Test1") < header.index("voice") < header.index("face") < header.index("audiovisual")


def test_tables_refuse_documents_of_two_class_sets(documents: dict[str, Any]) -> None:
    docs = dict(documents["metrics"])
    docs["nine"] = {**docs["hard_ce"], "classes": list(MSP_PODCAST.names), "variant": "nine"}
    with pytest.raises(tables.TableError, match="different classes"):
        tables.build_tables(
            docs, {}, documents["summary"], documents["evaluation"], documents["dir"] / "mixed"
        )
    unknown = {"hard_ce": {**documents["metrics"]["hard_ce"], "classes": ["Calm", "Bored"]}}
    with pytest.raises(tables.TableError, match="no class set has the classes"):
        tables.build_tables(
            unknown, {}, documents["summary"], documents["evaluation"], documents["dir"] / "odd"
        )


def test_figures_of_a_six_class_corpus(documents: dict[str, Any]) -> None:
    out = documents["dir"] / "figures"
    docs = {v: d for v, d in documents["metrics"].items() if v != "prior"}
    written = figures.build_figures(docs, documents["summary"], documents["evaluation"], out)
    stems = figures.figure_stems(list(docs), with_training=False, classes=CREMA_D)
    assert sorted({p.stem for p in written}) == sorted(set(stems))
    assert not (out / "other_class.png").exists()
    for stem in ("entropy_histogram", "examples_Test1", "confusion_hard_ce"):
        assert (out / f"{stem}.png").stat().st_size > 0

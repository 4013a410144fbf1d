"""Tests for sertools.report.tables and sertools.report.table_rows on hand-built metrics and
significance documents."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sertools.evaluation import metrics_doc, significance_doc
from sertools.evaluation.significance import holm
from sertools.report import table_rows, tables

STRATA = ["[0.000, 0.333)", "[0.333, 0.667)", "[0.667, 1.000]"]
SPLITS = ["Development", "Test1", "Test2"]
EVAL_CFG = {"baseline_variant": "hard_ce", "ci_level": 0.95, "bootstrap_resamples": 50}
#: the first ten metrics of the main table, then two it orders alphabetically after them
METRICS = [*table_rows.METRIC_ORDER[:10], "jsd_primary_noX", "f1_Angry"]


def entry(mean: float, n: int, n_seeds: int = 2) -> dict:
    per = [mean - 0.01, mean + 0.01] if n_seeds == 2 else [mean]
    return {
        "mean": mean,
        "sd_seeds": float(np.std(per, ddof=1)) if n_seeds > 1 else None,
        "ci_low": mean - 0.05,
        "ci_high": mean + 0.05,
        "per_seed": per,
        "n": n,
    }


def fake_metrics(shift: float, n_seeds: int = 2, empty_last: bool = False) -> dict:
    def block(n: int) -> dict:
        return {m: entry(0.2 + 0.1 * i + shift, n, n_seeds) for i, m in enumerate(METRICS)}

    splits = {}
    for split in SPLITS:
        sizes = [30, 20, 0 if empty_last else 10]
        strata = {
            s: {"lo": 0, "hi": 1, "n_utterances": {"all": n, "hard": n}, "metrics": block(n) if n else {}}
            for s, n in zip(STRATA, sizes, strict=True)
        }
        other = {
            k: {
                "n_utterances": n,
                "other_pred_share": {"mean": 0.1 + shift, "sd_seeds": 0.0, "ci_low": 0.05, "ci_high": 0.2},
                "other_mass": {"mean": 0.15, "sd_seeds": 0.0, "ci_low": 0.1, "ci_high": 0.2},
                "human_other_share": {"mean": 0.07, "sd_seeds": 0.0, "ci_low": 0.05, "ci_high": 0.09},
            }
            for k, n in (("all", sum(sizes)), *zip(STRATA, sizes, strict=True))
        }
        splits[split] = {
            "n_seeds": n_seeds,
            "n_utterances": {"all": sum(sizes), "hard": sum(sizes)},
            "metrics": block(sum(sizes)),
            "strata": strata,
            "other_class": other,
        }
    return {"schema": "sertools.variant_metrics/1", "strata": STRATA, "splits": splits}


def fake_sig(p_by_split: dict[str, float | None], variant: str) -> dict:
    splits = {}
    for split, p in p_by_split.items():
        e = {"diff": -0.1, "ci_low": -0.2, "ci_high": -0.01, "p_value": p, "variant": 0.2, "baseline": 0.3}
        splits[split] = {"all": {"n_utterances": 60, "metrics": {"jsd_primary": e, "macro_f1": dict(e)}}}
        splits[split].update({s: {"n_utterances": 20, "metrics": {"jsd_primary": dict(e)}} for s in STRATA})
    return {"variant": variant, "baseline": "hard_ce", "strata": STRATA, "splits": splits}


SUMMARY = {
    "class_distribution": {
        s: {"utterances": 100, "consensus": {"A": 10, "N": 60, "X": 30}}
        for s in ("Train", "Test1", "Test2", "all")
    },
    "entropy_histogram": {
        "edges": [0.0, 0.5, 1.0],
        **{s: {"primary": [60, 40], "merged": [50, 50]} for s in ("Train", "Test1", "Test2", "all")},
    },
    "reliability": {
        "fleiss_kappa_primary": {"Train": 0.15, "Test1": 0.2, "Test2": None, "all": 0.16},
        "krippendorff_alpha_interval": {"arousal": 0.33, "valence": 0.48, "dominance": 0.25},
    },
    "annotators_per_utterance": {"min": 5, "mean": 5.4, "max": 9},
    "workers": 65,
}


@pytest.fixture
def inputs() -> tuple[dict, dict]:
    metrics = {
        "dist_kl": fake_metrics(-0.1),
        "hard_ce": fake_metrics(0.0),
        "dist_jsd": fake_metrics(-0.05, empty_last=True),
        "single": fake_metrics(0.02, n_seeds=1),
    }
    sig = {
        "dist_kl": fake_sig({"Test1": 0.01, "Test2": 0.2}, "dist_kl"),
        "dist_jsd": fake_sig({"Test1": 0.04, "Test2": None}, "dist_jsd"),
        "single": fake_sig({"Test1": 0.03, "Test2": 0.5}, "single"),
    }
    return metrics, sig


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def header(path: Path) -> str:
    """The first line of a CSV file, as written."""
    return path.read_text(encoding="utf-8").split("\n", 1)[0]


def test_files_and_exact_columns(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    written = tables.build_tables(*inputs, SUMMARY, EVAL_CFG, tmp_path)
    assert sorted(written) == sorted(tables.table_files(tmp_path))
    assert all(p.stat().st_size > 0 for p in written)
    assert (
        header(tmp_path / "main.csv")
        == "variant,model,split,metric,mean,sd_seeds,ci_low,ci_high,n_seeds,n_utterances"
    )
    assert header(tmp_path / "entropy_strata.csv") == ",".join(table_rows.STRATA_COLUMNS)
    assert "stratum" in table_rows.STRATA_COLUMNS and set(table_rows.MAIN_COLUMNS) - {"model"} < set(
        table_rows.STRATA_COLUMNS
    )
    assert header(tmp_path / "significance.csv") == (
        "variant,baseline,split,stratum,metric,diff,ci_low,ci_high,p_value,p_holm,significant"
    )
    assert header(tmp_path / "ccc.csv") == ",".join(table_rows.CCC_COLUMNS)
    assert header(tmp_path / "other_class.csv") == ",".join(table_rows.OTHER_COLUMNS)
    assert header(tmp_path / "label_stats.csv") == "split,statistic,value"


def test_main_rows_order_and_format(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    tables.build_tables(*inputs, SUMMARY, EVAL_CFG, tmp_path)
    rows = read(tmp_path / "main.csv")
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    assert variants == ["hard_ce", "dist_jsd", "dist_kl", "single"]  # baseline first, then sorted
    first = [r["metric"] for r in rows if r["variant"] == "hard_ce" and r["split"] == "Test1"]
    assert first[:10] == list(table_rows.METRIC_ORDER[:10])
    r = next(
        r
        for r in rows
        if r["variant"] == "dist_kl" and r["split"] == "Test1" and r["metric"] == "jsd_primary"
    )
    assert (
        r["mean"] == "0.300000"
        and r["ci_low"] == "0.250000"
        and r["n_seeds"] == "2"
        and r["n_utterances"] == "60"
    )
    single = next(r for r in rows if r["variant"] == "single" and r["metric"] == "accuracy")
    assert single["sd_seeds"] == "" and single["n_seeds"] == "1"  # undefined SD: empty field


def test_deterministic_bytes(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    metrics, sig = inputs
    a = tables.build_tables(metrics, sig, SUMMARY, EVAL_CFG, tmp_path / "a")
    reordered = {k: metrics[k] for k in reversed(list(metrics))}
    b = tables.build_tables(reordered, dict(reversed(list(sig.items()))), SUMMARY, EVAL_CFG, tmp_path / "b")
    for pa, pb in zip(a, b, strict=True):
        assert pa.name == pb.name
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    assert b"\r\n" not in (tmp_path / "a" / "main.csv").read_bytes()


def test_holm_across_variants(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    tables.build_tables(*inputs, SUMMARY, EVAL_CFG, tmp_path)
    rows = read(tmp_path / "significance.csv")
    sel = {
        r["variant"]: r
        for r in rows
        if r["split"] == "Test1" and r["stratum"] == "all" and r["metric"] == "jsd_primary"
    }
    assert set(sel) == {"dist_kl", "dist_jsd", "single"}  # the baseline is never compared with itself
    # p = 0.01, 0.04, 0.03 -> Holm: 0.03, 0.06, 0.06
    assert float(sel["dist_kl"]["p_holm"]) == pytest.approx(0.03)
    assert float(sel["dist_jsd"]["p_holm"]) == pytest.approx(0.06)
    assert float(sel["single"]["p_holm"]) == pytest.approx(0.06)
    assert [sel[v]["significant"] for v in ("dist_kl", "dist_jsd", "single")] == ["true", "false", "false"]
    expected = holm([0.01, 0.04, 0.03])
    assert [float(sel[v]["p_holm"]) for v in ("dist_kl", "dist_jsd", "single")] == pytest.approx(expected)
    # Test2: one p-value missing -> NaN stays empty and does not count in m
    t2 = {
        r["variant"]: r
        for r in rows
        if r["split"] == "Test2" and r["stratum"] == "all" and r["metric"] == "jsd_primary"
    }
    assert t2["dist_jsd"]["p_holm"] == "" and t2["dist_jsd"]["significant"] == ""
    assert float(t2["dist_kl"]["p_holm"]) == pytest.approx(0.4)  # 2 * 0.2
    assert float(t2["single"]["p_holm"]) == pytest.approx(0.5)
    # strata are corrected separately and listed after "all"
    strata = [r["stratum"] for r in rows if r["variant"] == "dist_kl" and r["split"] == "Test1"]
    assert strata[0] == "all" and strata[-len(STRATA) :] == STRATA


def test_strata_ccc_other_and_labels(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    tables.build_tables(*inputs, SUMMARY, EVAL_CFG, tmp_path)
    strata = read(tmp_path / "entropy_strata.csv")
    sizes = {
        r["stratum"]: int(r["n_utterances"])
        for r in strata
        if r["variant"] == "hard_ce" and r["split"] == "Test1" and r["metric"] == "jsd_primary"
    }
    assert sizes == dict(zip(STRATA, [30, 20, 10], strict=True))
    empty = [r for r in strata if r["variant"] == "dist_jsd" and r["stratum"] == STRATA[-1]]
    assert len(empty) == len(SPLITS) and all(r["n_utterances"] == "0" and r["mean"] == "" for r in empty)
    ccc = read(tmp_path / "ccc.csv")
    assert {r["attribute"] for r in ccc} == {"arousal", "valence", "dominance"}
    assert len(ccc) == 4 * len(SPLITS) * 3
    other = read(tmp_path / "other_class.csv")
    row = next(
        r for r in other if r["variant"] == "dist_kl" and r["split"] == "Test2" and r["stratum"] == "all"
    )
    assert row["other_pred_share"] == "0.000000" and row["human_other_share"] == "0.070000"  # no "-0.000000"
    assert row["n_utterances"] == "60"
    labels = {(r["split"], r["statistic"]): r["value"] for r in read(tmp_path / "label_stats.csv")}
    assert labels[("Test1", "consensus_X")] == "30" and labels[("Test1", "consensus_S")] == "0"
    assert labels[("Test1", "no_agreement_share")] == "0.3000"
    assert labels[("Test2", "fleiss_kappa_primary")] == ""
    assert labels[("all", "krippendorff_alpha_valence")] == "0.4800"
    assert labels[("Test1", "entropy_primary_hist_[0.50, 1.00]")] == "40"


def test_readme_table_and_presentation(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    tables.build_tables(*inputs, SUMMARY, EVAL_CFG, tmp_path)
    md = tables.readme_table(tmp_path / "main.csv", EVAL_CFG, tmp_path / "significance.csv")
    assert md == (tmp_path / "main.md").read_text()
    lines = md.splitlines()
    assert lines[0].startswith(
        "| Variant | Test1 Macro-F1 ↑ | Test1 Accuracy ↑ | Test1 JSD ↓ | Test1 KLD ↓ | Test2"
    )
    assert "Development" not in lines[0]  # presentation shows the test splits
    row = next(line for line in lines if line.startswith("| dist_kl |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # lower JSD is better: dist_kl has the lowest; it is also Holm-significant on Test1
    assert cells[3] == "**0.300 [0.250, 0.350] †**"
    assert cells[1] == "0.100 [0.050, 0.150] †"  # macro-F1: not the best (that is "single")
    best = next(line for line in lines if line.startswith("| single |"))
    assert "| **0.220 [0.170, 0.270]** |" in best
    assert "B = 50" in md and "95%" in md and "base 2" in md and "nats" in md and "X excluded" in md
    plain = tables.readme_table(tmp_path / "main.csv")
    assert "†" not in plain and "B = " not in plain
    tex = (tmp_path / "main.tex").read_text()
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "hard\\_ce" in tex and "hard_ce" not in tex.replace("hard\\_ce", "")
    for name in tables.table_names():
        body = (tmp_path / f"{name}.tex").read_text()
        assert "\\begin{tabular}" in body and "\\end{table}" in body
        assert "_" not in body.replace("\\_", ""), name


def test_bad_inputs(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    metrics, sig = inputs
    with pytest.raises(tables.TableError, match="baseline_variant"):
        tables.build_tables(metrics, sig, SUMMARY, {"ci_level": 0.95}, tmp_path)
    with pytest.raises(tables.TableError, match="no 'splits'"):
        tables.build_tables({"x": {}}, {}, SUMMARY, EVAL_CFG, tmp_path)
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(tables.TableError, match="empty or lacks"):
        tables.readme_table(tmp_path / "empty.csv")


def test_table_files_match_the_workflow_outputs() -> None:
    """The list workflow/rules/common.smk declares for MSP-Podcast's class set (the synthetic corpus's):
    every table as csv, md and tex; the intended-emotion table is CREMA-D's (test_crema_d_report.py)."""
    names = (
        "main",
        "entropy_strata",
        "significance",
        "ccc",
        "other_class",
        "label_stats",
        "own_scheme",
        "entropy_strata_own",
    )
    assert list(names) == tables.table_names()
    assert (*names, "intended") == tables.TABLE_NAMES
    assert [str(p) for p in tables.table_files("results/tables", ("csv",))] == [
        f"results/tables/{n}.csv" for n in names
    ]
    assert [str(p) for p in tables.table_files("results/tables", ("md", "tex"))] == [
        f"results/tables/{n}.{e}" for n in names for e in ("md", "tex")
    ]
    assert len(tables.table_files("t")) == 3 * len(names)


def write_documents(metrics: dict, sig: dict, tmp_path: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """The metrics and significance documents (and the label summary) as the tables rule reads them."""
    paths = {}
    for v, d in metrics.items():
        full = {"variant": v, "settings": {}, "classes": [], "has_truth": False, **copy.deepcopy(d)}
        for res in full["splits"].values():
            res.update(prediction_files=[], confusion_matrix={}, reliability_diagram={}, examples=[])
        paths[v] = tmp_path / f"{v}.json"
        metrics_doc.write(paths[v], full)
    sig_paths = {}
    for v, d in sig.items():
        sig_paths[v] = tmp_path / "sig" / f"{v}.json"
        significance_doc.write(sig_paths[v], {"schema": significance_doc.SCHEMA, "settings": {}, **d})
    (tmp_path / "summary.json").write_text(json.dumps(SUMMARY))
    return paths, sig_paths


def test_run_reads_the_documents(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    metrics, sig = inputs
    paths, sig_paths = write_documents(metrics, sig, tmp_path)
    variants, compared = list(paths), list(sig_paths)
    run_inputs = {
        "metrics": [paths[v] for v in variants],
        "significance": [sig_paths[v] for v in compared],
        "label_summary": tmp_path / "summary.json",
    }
    out = tmp_path / "tables"
    written = tables.run(
        run_inputs,
        tables.table_files(out),
        evaluation=EVAL_CFG,
        variants=variants,
        compared=compared,
        out_dir=out,
    )
    direct = tables.build_tables(metrics, sig, SUMMARY, EVAL_CFG, tmp_path / "direct")
    for a, b in zip(written, direct, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    with pytest.raises(tables.TableError, match="declared outputs"):
        tables.run(
            run_inputs,
            [out / "extra.csv"],
            evaluation=EVAL_CFG,
            variants=variants,
            compared=compared,
            out_dir=out,
        )
    with pytest.raises(tables.TableError, match="cannot read"):
        tables.run(
            {**run_inputs, "metrics": [tmp_path / "missing.json"] * len(variants)},
            [],
            evaluation=EVAL_CFG,
            variants=variants,
            compared=compared,
            out_dir=out,
        )


def test_row_builders_directly(inputs: tuple[dict, dict]) -> None:
    metrics, sig = inputs
    order = table_rows.variant_order(metrics, "hard_ce")
    assert order == ["hard_ce", "dist_jsd", "dist_kl", "single"]
    main = table_rows.main_rows(metrics, order)
    assert {r["split"] for r in main} == set(SPLITS)
    assert {r["attribute"] for r in table_rows.ccc_rows(main)} == set(table_rows.ATTRIBUTES)
    rows = table_rows.significance_rows(sig, "hard_ce", 0.95)
    assert {r["variant"] for r in rows} == {"dist_kl", "dist_jsd", "single"}
    assert table_rows.label_rows({}) == []
    with pytest.raises(table_rows.TableError, match="no 'splits'"):
        table_rows.significance_rows({"x": {"splits": None}}, "hard_ce", 0.95)


# ------------------------------------------------------------- own scheme and own-target strata

OWN_SHOWN = ["macro_f1", "macro_f1_published", "uar", "accuracy", "f1_Other"]


def with_own(doc: dict, scheme: str, distribution: str | None, shift: float = 0.0) -> dict:
    """``doc`` with an own-scheme block, own-target strata and the release metrics in its main block."""
    doc = copy.deepcopy(doc)
    doc["schemes"] = {
        "common_hard_labels": "consensus",
        "strata_distribution": "primary",
        "paper_reference": "release_MH",
        "own_hard_labels": scheme,
        "own_distribution": distribution,
    }
    for res in doc["splits"].values():
        res["metrics"].update({m: entry(0.5, 60) for m in table_rows.RELEASE_METRICS})
        own = {m: entry(0.4 + 0.05 * i + shift, 60) for i, m in enumerate([*OWN_SHOWN, "ece"])}
        res["own"] = {"scheme": scheme, "hard_column": "x", "n_utterances": {"hard": 60}, "metrics": own}
        res["strata_own"] = None
        if distribution is not None:
            sizes = [12, 0, 48]
            res["strata_own"] = {
                "distribution": distribution,
                "scheme": scheme,
                "strata": {
                    s: {
                        "lo": 0,
                        "hi": 1,
                        "n_utterances": {"all": n, "hard": n},
                        "metrics": {m: entry(0.3, n) for m in ("macro_f1", "uar", "jsd_primary")}
                        if n
                        else {},
                    }
                    for s, n in zip(STRATA, sizes, strict=True)
                },
            }
    return doc


def test_own_scheme_and_own_strata_tables(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    metrics, sig = inputs
    metrics = {
        **metrics,
        "dist_kl": with_own(metrics["dist_kl"], "guarded_argmax:release_MH", "release_MH"),
        "hard_ce": with_own(metrics["hard_ce"], "consensus_x_other", None, shift=0.1),
    }
    plain = tables.build_tables(inputs[0], sig, SUMMARY, EVAL_CFG, tmp_path / "plain")
    written = tables.build_tables(metrics, sig, SUMMARY, EVAL_CFG, tmp_path / "own")
    # the main, strata and significance tables do not show the release metrics: unchanged
    for a, b in zip(plain, written, strict=True):
        if a.stem in ("main", "entropy_strata", "significance", "ccc", "other_class", "label_stats"):
            assert a.read_bytes() == b.read_bytes(), a.name
    assert header(tmp_path / "own" / "own_scheme.csv") == ",".join(table_rows.OWN_COLUMNS)
    own = read(tmp_path / "own" / "own_scheme.csv")
    assert {r["variant"] for r in own} == {"hard_ce", "dist_kl"}  # the others have no own block
    first = [r["metric"] for r in own if r["variant"] == "hard_ce" and r["split"] == "Test1"]
    assert first == [*OWN_SHOWN, "ece"]
    row = next(r for r in own if r["variant"] == "hard_ce" and r["metric"] == "uar" and r["split"] == "Test2")
    assert row["scheme"] == "consensus_x_other" and row["mean"] == "0.600000" and row["n_utterances"] == "60"
    md = (tmp_path / "own" / "own_scheme.md").read_text()
    lines = md.splitlines()
    assert lines[0].startswith(
        "| Variant | Scheme | Test1 Macro-F1 ↑ | Test1 Macro-F1 (TP>0) ↑ | Test1 UAR ↑"
    )
    assert "| hard_ce | consensus_x_other | 0.500 [0.450, 0.550] |" in md
    assert "| dist_kl | guarded_argmax:release_MH |" in md and "**" not in md
    assert "the common scheme consensus" in md
    strata = read(tmp_path / "own" / "entropy_strata_own.csv")
    assert header(tmp_path / "own" / "entropy_strata_own.csv") == ",".join(table_rows.STRATA_OWN_COLUMNS)
    assert {r["variant"] for r in strata} == {"dist_kl"}  # hard targets: no own distribution
    sizes = {
        (r["split"], r["stratum"]): r["n_utterances"]
        for r in strata
        if r["metric"] in ("uar", "n_utterances")
    }
    assert sizes[("Test1", STRATA[0])] == "12" and sizes[("Test1", STRATA[1])] == "0"
    assert all(r["distribution"] == "release_MH" for r in strata)
    smd = (tmp_path / "own" / "entropy_strata_own.md").read_text()
    assert "| Variant | Target | Entropy stratum | Test1 n |" in smd
    assert f"| dist_kl | release_MH | {STRATA[2]} | 48 |" in smd
    assert f"| dist_kl | release_MH | {STRATA[1]} | 0 | – |" in smd


def test_tables_say_which_common_scheme(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    metrics, sig = inputs
    other = {}
    for v, doc in metrics.items():
        d = copy.deepcopy(doc)
        d["schemes"] = {"common_hard_labels": "consensus_x_other", "strata_distribution": "release_MH"}
        other[v] = d
    tables.build_tables(other, sig, SUMMARY, EVAL_CFG, tmp_path)
    main = (tmp_path / "main.md").read_text()
    assert "common hard-label scheme consensus_x_other" in main and "X excluded" not in main
    assert "entropy of the release_MH distribution" in (tmp_path / "entropy_strata.md").read_text()
    cfg = {**EVAL_CFG, "common_hard_labels": "consensus_x_other"}
    assert tables.readme_table(tmp_path / "main.csv", cfg, tmp_path / "significance.csv") == main
    mixed = {**other, "hard_ce": metrics["hard_ce"]}
    with pytest.raises(tables.TableError, match="common scheme must be shared"):
        tables.build_tables(mixed, sig, SUMMARY, EVAL_CFG, tmp_path / "mixed")


def test_headline_shows_the_distance_to_the_latent_truth_when_there_is_one(
    inputs: tuple[dict, dict], tmp_path: Path
) -> None:
    metrics, sig = copy.deepcopy(inputs[0]), inputs[1]
    for doc in metrics.values():
        for split in doc["splits"].values():
            split["metrics"]["jsd_true"] = entry(0.25, 60)
            split["metrics"]["kld_true"] = entry(0.7, 60)
    tables.build_tables(metrics, sig, SUMMARY, EVAL_CFG, tmp_path)
    md = (tmp_path / "main.md").read_text()
    head = md.splitlines()[0]
    assert "| Test1 KLD ↓ | Test1 JSD true ↓ | Test1 KLD true ↓ | Test2 Macro-F1 ↑" in head
    assert "latent true distribution" in md
    assert tables.readme_table(tmp_path / "main.csv", EVAL_CFG, tmp_path / "significance.csv") == md
    # without a latent truth (a real corpus) the columns and the sentence are absent
    tables.build_tables(*inputs, SUMMARY, EVAL_CFG, tmp_path / "real")
    real = (tmp_path / "real" / "main.md").read_text()
    assert "JSD true" not in real and "latent true" not in real


# ============================================================================ reference rows

REFERENCES = ("oracle_truth", "prior")


def with_references(metrics: dict) -> dict:
    """``metrics`` and the two reference rows (one run each, Model "reference"): the oracle
    better and the prior worse than every model on every metric."""
    refs = {
        "oracle_truth": {**fake_metrics(-0.3, n_seeds=1), "model": table_rows.REFERENCE_MODEL},
        "prior": {**fake_metrics(0.3, n_seeds=1), "model": table_rows.REFERENCE_MODEL},
    }
    return {**metrics, **refs}


def test_reference_rows_come_last_in_every_table_and_are_never_compared(
    inputs: tuple[dict, dict], tmp_path: Path
) -> None:
    metrics, sig = inputs
    models = {k: v for k, v in metrics.items() if k != "single"}  # every model has 2 seeds
    sig = {k: v for k, v in sig.items() if k != "single"}
    tables.build_tables(with_references(models), sig, SUMMARY, EVAL_CFG, tmp_path, REFERENCES)
    order = ["hard_ce", "dist_jsd", "dist_kl", "oracle_truth", "prior"]
    for name in ("main", "entropy_strata", "ccc", "other_class"):
        rows = read(tmp_path / f"{name}.csv")
        assert list(dict.fromkeys(r["variant"] for r in rows)) == order, name
    main = read(tmp_path / "main.csv")
    assert {r["model"] for r in main if r["variant"] in REFERENCES} == {"reference"}
    assert {r["n_seeds"] for r in main if r["variant"] in REFERENCES} == {"1"}
    # never compared: no significance row, no † mark
    assert not {r["variant"] for r in read(tmp_path / "significance.csv")} & set(REFERENCES)
    md = (tmp_path / "main.md").read_text()
    lines = md.splitlines()
    assert lines[0].startswith("| Variant | Model |")
    body = [line for line in lines if line.startswith("| ")][1:]
    assert [line.split("|")[1].strip() for line in body] == order
    for ref in REFERENCES:
        row = next(line for line in body if line.startswith(f"| {ref} | reference |"))
        assert "**" not in row and "†" not in row  # never bold (the oracle beats every model), never marked
    # bold still marks the best model: dist_kl has the lowest JSD among them
    assert "**0.300 [0.250, 0.350]" in next(line for line in body if line.startswith("| dist_kl |"))
    # the caption says what the rows are; the models' seeds do not count the references' one run
    assert "references, not models" in md and "latent true distribution" in md and "Train class prior" in md
    assert "Mean over 2 training seeds" in md
    assert tables.readme_table(tmp_path / "main.csv", EVAL_CFG, tmp_path / "significance.csv") == md
    # tables without a Model column name them as references
    for name in ("entropy_strata", "ccc", "other_class"):
        text = (tmp_path / f"{name}.md").read_text()
        assert "| oracle_truth (reference) |" in text and "| prior (reference) |" in text, name
        assert "references, not models" in text, name
        assert "oracle\\_truth (reference)" in (tmp_path / f"{name}.tex").read_text(), name
    assert "never compared" in (tmp_path / "significance.md").read_text()


def test_reference_rows_are_optional_and_checked(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    metrics, sig = inputs
    plain = tables.build_tables(metrics, sig, SUMMARY, EVAL_CFG, tmp_path / "plain")
    assert all("reference" not in p.read_text() for p in plain if p.suffix == ".md")
    # a real corpus has the prior alone
    prior_only = {k: v for k, v in with_references(metrics).items() if k != "oracle_truth"}
    tables.build_tables(prior_only, sig, SUMMARY, EVAL_CFG, tmp_path / "real", ["prior"])
    md = (tmp_path / "real" / "main.md").read_text()
    assert "| prior | reference |" in md and "oracle_truth" not in md
    both = with_references(metrics)
    with pytest.raises(tables.TableError, match="cannot be the baseline"):
        tables.build_tables(
            both, sig, SUMMARY, {**EVAL_CFG, "baseline_variant": "prior"}, tmp_path, REFERENCES
        )
    with pytest.raises(tables.TableError, match="never compared"):
        bad_sig = {**sig, "prior": fake_sig({"Test1": 0.01}, "prior")}
        tables.build_tables(both, bad_sig, SUMMARY, EVAL_CFG, tmp_path, REFERENCES)
    with pytest.raises(tables.TableError, match="no metrics document"):
        tables.build_tables(metrics, sig, SUMMARY, EVAL_CFG, tmp_path, REFERENCES)
    assert table_rows.variant_order(both, "hard_ce", REFERENCES)[-2:] == list(REFERENCES)
    assert table_rows.variant_order(both, "hard_ce", ("prior", "oracle_truth"))[-2:] == [
        "prior",
        "oracle_truth",
    ]


def test_run_reads_the_reference_documents(inputs: tuple[dict, dict], tmp_path: Path) -> None:
    metrics, sig = inputs
    docs = with_references(metrics)
    paths, sig_paths = write_documents(docs, sig, tmp_path)
    variants, compared = list(metrics), list(sig_paths)
    out = tmp_path / "tables"
    written = tables.run(
        {
            "metrics": [paths[v] for v in variants],
            "significance": [sig_paths[v] for v in compared],
            "references": [paths[r] for r in REFERENCES],
            "label_summary": tmp_path / "summary.json",
        },
        tables.table_files(out),
        evaluation=EVAL_CFG,
        variants=variants,
        compared=compared,
        references=REFERENCES,
        out_dir=out,
    )
    direct = tables.build_tables(docs, sig, SUMMARY, EVAL_CFG, tmp_path / "direct", REFERENCES)
    for a, b in zip(written, direct, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert "| prior | reference |" in (out / "main.md").read_text()

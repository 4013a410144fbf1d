"""Tests for sertools.evaluation.metrics_doc: the metrics document and its accessors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sertools.evaluation import metrics_doc
from sertools.evaluation.metrics_doc import MetricsDocError


def entry(mean: float | None, n: int = 10) -> dict:
    return {"mean": mean, "sd_seeds": None, "ci_low": None, "ci_high": None, "per_seed": [mean], "n": n}


def split_result(n: int = 10) -> dict:
    return {
        "n_seeds": 1,
        "prediction_files": ["p.parquet"],
        "n_utterances": {"all": n, "hard": n, "labelled_without_prediction": 0},
        "metrics": {"jsd_primary": entry(0.3, n)},
        "strata": {
            "[0.000, 1.000]": {"lo": 0.0, "hi": 1.0, "n_utterances": {"all": n, "hard": n}, "metrics": {}}
        },
        "other_class": {"all": {"n_utterances": n}},
        "confusion_matrix": {"summed": [[1]], "per_seed": [[[1]]]},
        "reliability_diagram": {"edges": [0.0, 1.0], "count": [n]},
        "examples": [],
    }


def doc() -> dict:
    return {
        "schema": metrics_doc.SCHEMA,
        "variant": "v",
        "settings": {},
        "classes": [],
        "strata": ["[0.000, 1.000]"],
        "has_truth": False,
        "splits": {"Test2": split_result(), "Development": split_result(5)},
    }


def test_write_read_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    metrics_doc.write(path, doc())
    assert metrics_doc.read(path) == doc()
    assert path.read_text().endswith("}\n")


def test_validate_lenient_and_strict() -> None:
    metrics_doc.validate({"splits": {"Test1": {"n_seeds": 1, "metrics": {}}}})
    with pytest.raises(MetricsDocError, match=r"variant 'x' is not a variant_metrics result \(no 'splits'\)"):
        metrics_doc.validate({}, "variant 'x'")
    with pytest.raises(MetricsDocError, match=r"split 'Test1' lacks key\(s\) \['n_seeds'\]"):
        metrics_doc.validate({"splits": {"Test1": {"metrics": {}}}})
    with pytest.raises(MetricsDocError, match="schema"):
        metrics_doc.validate({**doc(), "schema": "other/1"}, strict=True)
    bad = doc()
    del bad["splits"]["Test2"]["examples"]
    with pytest.raises(MetricsDocError, match="examples"):
        metrics_doc.validate(bad, strict=True)


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(MetricsDocError, match="cannot read"):
        metrics_doc.read(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(MetricsDocError, match="cannot read"):
        metrics_doc.read(tmp_path / "bad.json")
    (tmp_path / "old.json").write_text('{"splits": {}}')
    with pytest.raises(MetricsDocError, match="schema"):
        metrics_doc.read(tmp_path / "old.json")


def test_accessors() -> None:
    d = doc()
    assert metrics_doc.split_names(d) == ["Development", "Test2"]
    assert metrics_doc.stratum_names(d) == ["[0.000, 1.000]"]
    assert metrics_doc.split_result(d, "Test1") is None
    assert metrics_doc.n_seeds(d, "Test2") == 1
    assert metrics_doc.entry(d, "Test2", "jsd_primary")["mean"] == 0.3
    assert metrics_doc.entry(d, "Test1", "jsd_primary") is None
    assert metrics_doc.block(d, "Test2", "[0.000, 1.000]") == {}
    assert metrics_doc.stratum_keys(d, "Test2") == ["[0.000, 1.000]"]
    assert metrics_doc.stratum_size(d, "Development", "[0.000, 1.000]") == 5
    assert metrics_doc.stratum_size(d, "Test1", "[0.000, 1.000]") == 0
    assert metrics_doc.other_class(d, "Test2") == {"all": {"n_utterances": 10}}
    assert metrics_doc.other_class(d, "Test1") == {}
    assert metrics_doc.confusion_summed(d, "Test2") == [[1]]
    assert metrics_doc.reliability_diagram(d, "Test2")["count"] == [10]
    assert metrics_doc.examples(d, "Test1") == []
    assert metrics_doc.value(entry(0.5), "mean") == 0.5
    assert math.isnan(metrics_doc.value(entry(None), "mean"))
    assert math.isnan(metrics_doc.value(None, "mean"))
    assert metrics_doc.number(float("nan")) is None and metrics_doc.number(2) == 2.0

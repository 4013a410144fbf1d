"""Tests for sertools.evaluation.significance_doc: the significance document."""

from __future__ import annotations

from pathlib import Path

import pytest

from sertools.evaluation import significance_doc
from sertools.evaluation.significance_doc import SignificanceDocError


def doc() -> dict:
    cmp = {"diff": -0.1, "ci_low": -0.2, "ci_high": 0.0, "p_value": 0.04, "variant": 0.2, "baseline": 0.3}
    return {
        "schema": significance_doc.SCHEMA,
        "variant": "v",
        "baseline": "b",
        "settings": {},
        "strata": ["[0.000, 1.000]"],
        "splits": {
            "Test2": {"all": {"n_utterances": 3, "metrics": {"jsd_primary": cmp}}, "[0.000, 1.000]": {}},
            "Test1": {"all": {"n_utterances": 3, "metrics": {}}},
        },
    }


def test_round_trip_and_accessors(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    significance_doc.write(path, doc())
    d = significance_doc.read(path)
    assert d == doc()
    assert significance_doc.baseline(d) == "b"
    assert significance_doc.split_names(d) == ["Test1", "Test2"]
    assert significance_doc.stratum_names(d) == ["[0.000, 1.000]"]
    assert set(significance_doc.block_names(d, "Test2")) == {"all", "[0.000, 1.000]"}
    assert significance_doc.comparisons(d, "Test2", "all")["jsd_primary"]["p_value"] == 0.04
    assert significance_doc.comparisons(d, "Test2", "[0.000, 1.000]") == {}


def test_validation(tmp_path: Path) -> None:
    with pytest.raises(SignificanceDocError, match=r"no 'splits'"):
        significance_doc.validate([])
    with pytest.raises(SignificanceDocError, match="mapping of utterance sets"):
        significance_doc.validate({"splits": {"Test1": {"all": 3}}})
    with pytest.raises(SignificanceDocError, match="lacks key"):
        significance_doc.validate({k: v for k, v in doc().items() if k != "baseline"}, strict=True)
    with pytest.raises(SignificanceDocError, match="cannot read"):
        significance_doc.read(tmp_path / "missing.json")

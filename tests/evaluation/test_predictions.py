"""Tests for sertools.evaluation.predictions: the prediction dump artifact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from dumps import dump_table, make_labels

from sertools.classes import K
from sertools.evaluation import predictions
from sertools.evaluation.predictions import PredictionsError


@pytest.fixture
def labels(tmp_path: Path) -> pd.DataFrame:
    return make_labels(tmp_path)[2]


def _table(labels: pd.DataFrame) -> pa.Table:
    n = int((labels["split"] == "Test1").sum())
    return dump_table(labels, "Test1", np.full((n, K), 1 / K), 0.1, 0)


def test_write_read_round_trip(labels: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "p" / "Test1.parquet"
    predictions.write(path, _table(labels))
    df = predictions.read(path)
    assert list(df.columns) == predictions.SCHEMA.names
    assert len(df) == (labels["split"] == "Test1").sum()
    assert [p.name for p in path.parent.iterdir()] == ["Test1.parquet"]


def test_empty_dump_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    predictions.write(path, predictions.SCHEMA.empty_table())
    assert len(predictions.read(path)) == 0


def test_write_rejects_another_schema(labels: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(PredictionsError, match="schema"):
        predictions.write(tmp_path / "x.parquet", _table(labels).drop_columns(["split"]))
    assert not (tmp_path / "x.parquet").exists()


def test_validate_names_each_problem(labels: pd.DataFrame) -> None:
    good = _table(labels).to_pandas()
    predictions.validate(good)
    cases = {
        "lacks column": good.drop(columns="valence"),
        "must hold integers": good.assign(pred=good["pred"].astype(float)),
        r"'pred' values must lie": good.assign(pred=K),
        "must be floating point": good.assign(arousal=good["arousal"].astype(str)),
        "do not sum to 1": good.assign(probs=[np.full(K, 0.2)] * len(good)),
        "rows have 8 entries; a class set has 6 or 9": good.assign(probs=[np.full(8, 1 / 8)] * len(good)),
        "list of 9 numbers": good.assign(probs=[np.full(K, 1 / K)] * (len(good) - 1) + [np.full(6, 1 / 6)]),
        "negative, NaN": good.assign(probs=[np.r_[1.5, -0.5, np.zeros(K - 2)]] * len(good)),
        "duplicated file_id": pd.concat([good, good.iloc[:1]], ignore_index=True),
    }
    for message, df in cases.items():
        with pytest.raises(PredictionsError, match=message):
            predictions.validate(df, "dump")


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(PredictionsError, match="prediction dump not found"):
        predictions.read(tmp_path / "missing.parquet")
    (tmp_path / "broken.parquet").write_bytes(b"nope")
    with pytest.raises(PredictionsError, match="not a readable parquet"):
        predictions.read(tmp_path / "broken.parquet", "dump of Test1")


def test_build_gives_the_dump_schema_rows_in_order_and_checks_lengths(labels: pd.DataFrame) -> None:
    expected = _table(labels)
    df = expected.to_pandas()
    built = predictions.build(
        df["file_id"].tolist(),
        "Test1",
        np.stack(df["probs"].to_list()),
        df[["arousal", "valence", "dominance"]].to_numpy(),
    )
    assert built.equals(expected)
    assert predictions.build([], "Test1", np.zeros((0, K)), np.zeros((0, 3))).num_rows == 0
    with pytest.raises(PredictionsError, match="Test1: 2 utterances, 1 distributions"):
        predictions.build(["a", "b"], "Test1", np.full((1, K), 1 / K), np.zeros((2, 3)))

"""The label table (sertools.labels.table): written and read back as written; a bad table is named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from labelfiles import ANNOTATIONS, CONSENSUS, write_corpus

from sertools.corpus.msp import read_labels
from sertools.labels import build, table
from sertools.labels.table import LabelTableError


@pytest.fixture
def labels(tmp_path, default_cfg) -> pd.DataFrame:
    write_corpus(tmp_path / "corpus", CONSENSUS, ANNOTATIONS)
    df, _ = build.build_labels(read_labels(tmp_path / "corpus"), default_cfg["labels"])
    return df


def test_round_trip_keeps_columns_and_types(labels, tmp_path):
    path = tmp_path / "labels.parquet"
    table.write(labels, path)
    back = table.read(path)
    release = ["p_release_MH", "p_release_ML", "hard_guarded_release_MH", "hard_guarded_release_ML"]
    assert list(back.columns) == list(labels.columns)
    assert sorted(back.columns) == sorted([*table.COLUMNS, *release])
    # today's columns first, in their order, then the release's
    assert (
        list(back.columns)[:21] == list(table.COLUMNS)[:21] and list(back.columns)[21] == "p_release_primary"
    )
    for name in table.hard_label_columns(back.columns):
        assert back[name].dtype == np.int64
    for name in table.list_columns(back.columns):
        np.testing.assert_array_equal(table.matrix(back, name), table.matrix(labels, name))
    assert back["hard_label"].dtype == "Int64" and back["n_annotators"].dtype == np.int64
    assert {"votes_primary", "votes_merged", "p_primary", "p_merged"} <= set(table.list_columns(back.columns))
    assert table.read(path, columns=["file_id", "split"]).shape == (4, 2)


def test_empty_table_round_trips(labels, tmp_path):
    path = tmp_path / "labels.parquet"
    table.write(labels.iloc[:0], path)
    assert len(table.read(path)) == 0


def _broken(labels: pd.DataFrame, column: str, row: int, value: object) -> pd.DataFrame:
    df = labels.copy()
    values = list(df[column])
    values[row] = value
    df[column] = pd.Series(values, dtype=df[column].dtype) if table.kind(column) != "list" else values
    return df


BAD = [
    ("p_primary", 0, [0.5] * 9, r"column 'p_primary' of 'f1\.wav' .* does not sum to 1"),
    ("p_merged", 2, [1.5, -0.5] + [0.0] * 7, r"column 'p_merged' of 'f3\.wav' .* negative"),
    ("votes_primary", 1, [1] * 8, r"p?votes_primary: every entry must be a list of 9 numbers"),
    ("split", 1, "Test3", r"column 'split' of 'f2\.wav' \('Test3'\) is not one of Train, Development"),
    ("file_id", 2, "f1.wav", r"column 'file_id' of 'f1\.wav' .* is listed more than once"),
    ("consensus", 0, "Q", r"column 'consensus' of 'f1\.wav' \('Q'\) is not one of"),
    ("hard_label", 1, 3, r"column 'hard_label' of 'f2\.wav' .* does not match the consensus code"),
    ("entropy_primary", 0, 1.5, r"column 'entropy_primary' of 'f1\.wav' \(1\.5\) is outside \[0, 1\]"),
    ("n_annotators", 2, 5, r"column 'votes_primary' of 'f3\.wav' .* does not add up to n_annotators"),
    ("arousal", 0, 9.0, r"column 'arousal' of 'f1\.wav' \(9\.0\) is outside \[1, 7\]"),
    # the release's columns, named after a config entry or not
    ("p_release_primary", 1, [0.0] * 9, r"column 'p_release_primary' of 'f2\.wav' .* does not sum to 1"),
    ("p_release_MH", 0, [0.0] * 9, r"column 'p_release_MH' of 'f1\.wav' .* does not sum to 1"),
    (
        "p_release_secondary",
        0,
        [0.5] + [0.0] * 8,
        r"column 'p_release_secondary' of 'f1\.wav' .* sums to neither 1 nor 0",
    ),
    ("p_release_ML", 2, [-1.0, 2.0] + [0.0] * 7, r"column 'p_release_ML' of 'f3\.wav' .* negative"),
    (
        "hard_guarded_release_MH",
        0,
        9,
        r"column 'hard_guarded_release_MH' of 'f1\.wav' \(9\) is not a class index 0-8",
    ),
    (
        "hard_guarded_primary",
        2,
        -1,
        r"column 'hard_guarded_primary' of 'f3\.wav' \(-1\) is not a class index",
    ),
    (
        "hard_consensus_x_other",
        1,
        2,
        r"column 'hard_consensus_x_other' of 'f2\.wav' \(2\) does not match the consensus code \(X as Other\)",
    ),
]


@pytest.mark.parametrize(("column", "row", "value", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_table_is_named_with_its_problem(labels, tmp_path, column, row, value, message):
    bad = _broken(labels, column, row, value)
    path = tmp_path / "labels.parquet"
    with pytest.raises(LabelTableError, match=rf"^{path}: label table: {message}"):
        table.write(bad, path)
    assert not path.exists()
    assert not list(tmp_path.glob(".labels.parquet.*"))  # nor the writer's temporary file
    # the same table written by someone else is refused on reading
    if table.kind(column) != "list":
        bad.to_parquet(path, index=False)
        with pytest.raises(LabelTableError, match=rf"^{path}: label table: {message}"):
            table.read(path)


def test_missing_columns_and_files_are_named(labels, tmp_path):
    path = tmp_path / "labels.parquet"
    labels.drop(columns=["p_merged", "split"]).to_parquet(path, index=False)
    with pytest.raises(
        LabelTableError, match=r"labels\.parquet: label table lacks column\(s\) \['split', 'p_merged'\]"
    ):
        table.read(path)
    assert len(table.read(path, require=["file_id", "p_primary"])) == 4
    with pytest.raises(LabelTableError, match=r"nope\.parquet: label table not found"):
        table.read(tmp_path / "nope.parquet")
    (tmp_path / "text.parquet").write_text("not parquet")
    with pytest.raises(LabelTableError, match=r"text\.parquet: cannot read the label table as parquet"):
        table.read(tmp_path / "text.parquet")


def test_validate_checks_only_the_columns_present(labels):
    table.validate(labels[["file_id", "p_primary"]], require=["file_id"])
    with pytest.raises(LabelTableError, match=r"<label table>: label table lacks column\(s\) \['split'\]"):
        table.validate(labels[["file_id"]], require=["file_id", "split"])


def test_columns_named_after_a_config_entry_are_recognised():
    assert table.kind("p_release_MH") == "list" and table.kind("p_release_M80") == "list"
    assert table.kind("hard_guarded_release_MH") == "int" and table.kind("hard_guarded_merged") == "int"
    assert table.kind("hard_guarded_release_secondary") is None  # no hard label from the secondary mass
    assert table.kind("hard_guarded_soft") is None and table.kind("p_release_") is None
    cols = [
        "file_id",
        "p_primary",
        "p_release_X1",
        "hard_guarded_release_X1",
        "hard_label",
        "hard_consensus_x_other",
    ]
    assert table.distribution_columns(cols) == ["p_primary", "p_release_X1"]
    assert table.hard_label_columns(cols) == ["hard_guarded_release_X1", "hard_consensus_x_other"]


def test_only_the_secondary_distribution_may_be_all_zero(labels, tmp_path):
    secondary = table.matrix(labels, "p_release_secondary")
    assert (secondary.sum(axis=1) == 0).any() and (secondary.sum(axis=1) == 1).any()  # f1 has secondaries
    table.write(labels, tmp_path / "ok.parquet")
    for column in ("p_primary", "p_release_primary", "p_release_MH"):
        with pytest.raises(LabelTableError, match=rf"column '{column}' of 'f2\.wav' .* does not sum to 1"):
            table.validate(_broken(labels, column, 1, [0.0] * 9))


def test_release_columns_of_an_old_table_are_required_by_default(labels, tmp_path):
    path = tmp_path / "old.parquet"
    old = labels[list(table.COLUMNS)[:21]]
    old.to_parquet(path, index=False)
    with pytest.raises(
        LabelTableError, match=r"lacks column\(s\) \['p_release_primary', 'p_release_secondary'"
    ):
        table.read(path)
    assert len(table.read(path, require=list(table.COLUMNS)[:21])) == 4

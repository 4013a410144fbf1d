"""Targets by scheme (sertools.data.targets.build_targets): which rows, which target, which hard label."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from labelfiles import workers, write_corpus

from sertools import config as config_mod
from sertools.classes import CLASSES
from sertools.corpus.msp import read_labels
from sertools.data import targets as data_targets
from sertools.data.errors import DataError
from sertools.labels import build, table

#: a variant section as the stages receive it (the schema's defaults filled in)
VARIANT_DEFAULTS = config_mod.resolve({"variants": {"hard_ce": {"targets": "consensus", "loss": "ce"}}})[
    "variants"
]["hard_ce"]


def build_targets(df: pd.DataFrame, variant: dict, *args: Any, **kwargs: Any) -> data_targets.Targets:
    return data_targets.build_targets(df, {**VARIANT_DEFAULTS, **variant}, *args, **kwargs)


def scheme_hard_labels(df: pd.DataFrame, variant: dict, *args: Any, **kwargs: Any) -> np.ndarray:
    return data_targets.scheme_hard_labels(df, {**VARIANT_DEFAULTS, **variant}, *args, **kwargs)


I = {c: i for i, c in enumerate(CLASSES)}  # noqa: E741

CONSENSUS = [
    ["a.wav", "N", 4.0, 4.0, 4.0, 1, "Male", "Train"],  # N N N H S: guarded Neutral
    ["b.wav", "X", 3.0, 5.0, 4.0, 2, "Female", "Train"],  # N A S: X; guarded Sad (tie order)
    ["c.wav", "N", 2.0, 3.0, 6.0, 3, "Male", "Train"],  # one neutral vote + Happy secondary
    ["d.wav", "A", 5.0, 2.0, 5.0, 4, "Female", "Train"],  # A A N: Angry everywhere
]
ANNOTATIONS = [
    *workers("a.wav", [("Neutral", "")] * 3 + [("Happy", ""), ("Sad", "")]),
    *workers("b.wav", [("Neutral", ""), ("Angry", ""), ("Sad", "Disappointed")], (3, 5, 4)),
    *workers("c.wav", [("Neutral", "Happy")], (2, 3, 6)),
    *workers("d.wav", [("Angry", "Frustrated"), ("Angry", ""), ("Neutral", "")], (5, 2, 5)),
]
X_ROW = 1


@pytest.fixture(scope="module")
def labels(tmp_path_factory) -> pd.DataFrame:
    from sertools import config

    root = write_corpus(tmp_path_factory.mktemp("corpus"), CONSENSUS, ANNOTATIONS)
    df, _ = build.build_labels(read_labels(root), config.resolve({})["labels"])
    return df


def _equal(a: data_targets.Targets, b: data_targets.Targets) -> None:
    for field in ("rows", "cat", "dims", "classes", "hard"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), field
    assert a.is_index == b.is_index


@pytest.mark.parametrize(
    "variant",
    [
        {"targets": "consensus", "loss": "ce"},
        {"targets": "consensus", "loss": "kl"},
        {"targets": "primary", "loss": "kl"},
        {"targets": "merged", "loss": "jsd", "include_no_agreement": True},
    ],
)
def test_the_default_scheme_is_todays_behaviour(labels, variant):
    got = build_targets(labels, variant)
    _equal(got, build_targets(labels, {**variant, "hard_labels": "consensus"}))
    hard = data_targets.hard_labels(labels)
    include_x = variant.get("include_no_agreement", False)
    want_rows = np.arange(4) if include_x else np.array([0, 2, 3])
    np.testing.assert_array_equal(got.rows, want_rows)
    np.testing.assert_array_equal(got.hard, hard[want_rows])
    if variant["targets"] == "consensus":
        np.testing.assert_array_equal(got.classes, hard[want_rows])
        if variant["loss"] == "ce":
            assert got.is_index and got.cat.dtype == np.int64
            np.testing.assert_array_equal(got.cat, hard[want_rows])
        else:
            np.testing.assert_array_equal(got.cat, np.eye(9, dtype=np.float32)[hard[want_rows]])
    else:
        dist = table.matrix(labels, f"p_{variant['targets']}")[want_rows]
        np.testing.assert_array_equal(got.cat, dist.astype(np.float32))
        np.testing.assert_array_equal(got.classes, dist.argmax(axis=1))
    np.testing.assert_array_equal(scheme_hard_labels(labels, variant), hard)


def test_consensus_x_other_trains_on_x_as_other(labels):
    for loss in ("ce", "cbce"):
        got = build_targets(
            labels, {"targets": "consensus", "loss": loss, "hard_labels": "consensus_x_other"}
        )
        np.testing.assert_array_equal(got.rows, np.arange(4))  # X included
        assert got.is_index and got.cat.tolist() == [I["Neutral"], I["Other"], I["Neutral"], I["Angry"]]
        assert got.hard.tolist() == got.classes.tolist() == got.cat.tolist()
    soft = build_targets(labels, {"targets": "consensus", "loss": "kl", "hard_labels": "consensus_x_other"})
    assert soft.cat[X_ROW].argmax() == I["Other"] and soft.cat[X_ROW].max() == 1.0
    # a distributional variant keeps its distribution and reports X as Other
    dist = build_targets(
        labels,
        {
            "targets": "release_MH",
            "loss": "kl",
            "hard_labels": "consensus_x_other",
            "include_no_agreement": True,
        },
    )
    np.testing.assert_array_equal(dist.cat, table.matrix(labels, "p_release_MH").astype(np.float32))
    assert dist.hard.tolist() == [I["Neutral"], I["Other"], I["Neutral"], I["Angry"]]


@pytest.mark.parametrize("targets", ["primary", "merged", "release_primary", "release_MH", "release_ML"])
def test_guarded_argmax_uses_the_targets_own_hard_label(labels, targets):
    variant = {
        "targets": targets,
        "loss": "kl",
        "hard_labels": "guarded_argmax",
        "include_no_agreement": True,
    }
    got = build_targets(labels, variant, name="MH_KLD")
    guarded = labels[f"hard_guarded_{targets}"].to_numpy()
    np.testing.assert_array_equal(got.rows, np.arange(4))
    np.testing.assert_array_equal(got.cat, table.matrix(labels, f"p_{targets}").astype(np.float32))
    np.testing.assert_array_equal(got.hard, guarded)
    np.testing.assert_array_equal(got.classes, guarded)  # the curriculum balances the scheme's classes
    assert CLASSES[guarded[X_ROW]] == "Sad" and CLASSES[guarded[0]] == "Neutral"
    # a hard loss trains on those labels
    ce = build_targets(labels, {**variant, "loss": "ce"})
    assert ce.is_index and ce.cat.tolist() == guarded.tolist()
    # without include_no_agreement, X is left out as for every distribution target
    np.testing.assert_array_equal(
        build_targets(labels, {**variant, "include_no_agreement": False}).rows, [0, 2, 3]
    )


def test_guarded_labels_differ_by_distribution(labels):
    """c.wav: one neutral vote; the primary has no other class (Surprise at 0), MH has Happy."""
    p = scheme_hard_labels(labels, {"targets": "release_primary", "hard_labels": "guarded_argmax"})
    mh = scheme_hard_labels(labels, {"targets": "release_MH", "hard_labels": "guarded_argmax"})
    assert CLASSES[p[2]] == "Surprise" and CLASSES[mh[2]] == "Happy"


def test_release_secondary_targets_leave_out_utterances_without_secondary(labels):
    got = build_targets(labels, {"targets": "release_secondary", "loss": "kl", "include_no_agreement": True})
    assert got.rows.tolist() == [1, 2, 3]  # a.wav has no secondary label
    np.testing.assert_allclose(got.cat.sum(axis=1), 1.0)


def test_clear_errors(labels):
    with pytest.raises(DataError, match=r"variant 'H_guard': hard_labels guarded_argmax .* not 'consensus'"):
        build_targets(
            labels, {"targets": "consensus", "loss": "ce", "hard_labels": "guarded_argmax"}, "H_guard"
        )
    with pytest.raises(DataError, match=r"variant \(targets consensus, hard_labels guarded_argmax\)"):
        build_targets(labels, {"targets": "consensus", "loss": "kl", "hard_labels": "guarded_argmax"})
    with pytest.raises(DataError, match=r"needs distribution targets .* not 'release_secondary'"):
        build_targets(labels, {"targets": "release_secondary", "loss": "kl", "hard_labels": "guarded_argmax"})
    with pytest.raises(
        DataError,
        match=r"the label table has no column 'p_release_M70' \(targets release_M70 of variant 'v'\); "
        r"columns present: file_id, split, .*p_release_MH, p_release_ML",
    ):
        build_targets(labels, {"targets": "release_M70", "loss": "kl"}, "v")
    with pytest.raises(DataError, match=r"unknown targets 'softmax'"):
        build_targets(labels, {"targets": "softmax", "loss": "kl"})
    with pytest.raises(DataError, match="needs consensus targets"):
        build_targets(labels, {"targets": "primary", "loss": "ce"})
    with pytest.raises(DataError, match="include_no_agreement needs distributional targets"):
        build_targets(labels, {"targets": "consensus", "loss": "ce", "include_no_agreement": True})
    old = labels.drop(columns=["hard_consensus_x_other"])
    with pytest.raises(
        DataError, match=r"no column 'hard_consensus_x_other' \(hard_labels consensus_x_other"
    ):
        build_targets(old, {"targets": "consensus", "loss": "ce", "hard_labels": "consensus_x_other"})

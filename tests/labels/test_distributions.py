"""Votes -> distributions (sertools.labels.distributions) on hand-computed arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sertools.classes import CLASSES
from sertools.labels import distributions as D

A, S, H, N, OTH = (CLASSES.index(c) for c in ("Angry", "Sad", "Happy", "Neutral", "Other"))
CFG = {
    "secondary_map": {"Frustrated": "Angry", "annoyed": "Angry"},
    "secondary_weight": 0.5,
    "count_secondary_equal_to_primary": False,
}


def test_plurality_is_x_on_ties_and_without_votes():
    votes = np.zeros((3, 9), dtype=np.int64)
    votes[0, [A, S]] = [2, 1]
    votes[1, [H, N]] = [2, 2]
    assert list(D.plurality_codes(votes)) == ["A", "X", "X"]


def test_secondary_strings_are_sets_of_classes_with_unmapped_words_counted():
    uniques = pd.Index(["Frustrated, annoyed", "Bored,Sad", "", "Other-Curious"])
    mentioned, unmapped, n_words = D.secondary_table(uniques, D.word_map(CFG))
    assert np.flatnonzero(mentioned[0]).tolist() == [A]  # two Angry words: one mention
    assert np.flatnonzero(mentioned[1]).tolist() == [S, OTH]
    assert not mentioned[2].any() and np.flatnonzero(mentioned[3]).tolist() == [OTH]
    assert unmapped == [[], ["bored"], [], []]
    assert n_words.tolist() == [2, 2, 0, 1]


def test_secondary_votes_skip_the_own_primary_unless_configured():
    utt = np.array([0, 0, 1])
    prim = np.array([A, S, N])
    secondary = pd.Series(["Frustrated,Sad", "Sad", "Bored"])
    sec = D.secondary_votes(utt, prim, secondary, 2, CFG)
    assert sec.votes[0].tolist() == [0, 1, 0, 0, 0, 0, 0, 0, 0]  # W1's Angry = own primary; W2's Sad too
    assert sec.votes[1, OTH] == 1
    assert sec.summary["class_mentions"] == 4 and sec.summary["class_mentions_equal_to_primary"] == 2
    assert sec.summary["unmapped_words"] == {"bored": 1}
    again = D.secondary_votes(utt, prim, secondary, 2, {**CFG, "count_secondary_equal_to_primary": True})
    assert again.votes[0, A] == 1 and again.votes[0, S] == 2


def test_rating_moments_use_the_sample_standard_deviation():
    mean, sd = D.rating_moments(np.array([0, 0, 0, 1]), np.array([4.0, 5.0, 6.0, 3.0]), 2)
    assert mean.tolist() == [5.0, 3.0]
    assert sd[0] == pytest.approx(1.0) and np.isnan(sd[1])

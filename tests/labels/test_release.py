"""The release's label rules on hand-written annotations with known distributions and hard labels."""

from __future__ import annotations

import numpy as np
import pytest

from sertools.classes import CLASSES
from sertools.labels import release as R
from sertools.measures import normalised_entropy

I = {c: i for i, c in enumerate(CLASSES)}  # noqa: E741


def vec(**mass: float) -> np.ndarray:
    v = np.zeros(len(CLASSES))
    for name, x in mass.items():
        v[I[name]] = x
    return v


@pytest.mark.parametrize(
    ("word", "cls"),
    [
        ("Neutral", "Neutral"),
        ("excited", "Happy"),
        ("Frustrated", "Angry"),
        ("Concerned", "Sad"),  # the release maps concerned to Sad
        ("Other-Concerned", "Other"),
        ("Other:bored", "Other"),
        ("Other_x", "Other"),
        ("X", "Other"),
        ("U", "Surprise"),
        ("Bored", "Other"),  # unmappable primary -> Other
    ],
)
def test_primary_word_map(word, cls):
    assert R.primary_class(word) == I[cls]


def test_secondary_lists_drop_unknown_words_and_duplicates():
    got = R.secondary_classes("Concerned, Confused; sad and Excited | Other-tired / happy:0.5 + Fear(0.3)")
    assert [CLASSES[i] for i in got] == ["Sad", "Happy", "Other", "Fear"]
    assert R.secondary_classes("") == [] and R.secondary_classes("Confused") == []


def test_distributions_of_a_hand_written_utterance():
    """Four workers: N / N (secondary Sad, Frustrated) / H (secondary Excited) / N listed twice."""
    utt = np.array([0, 0, 0, 0, 1])
    primary = np.array([I["Neutral"], I["Neutral"], I["Happy"], I["Neutral"], I["Sad"]])
    secondary = [[], [I["Sad"], I["Angry"]], [I["Happy"]], [], []]
    votes, mass = R.vote_distributions(utt, primary, secondary, 2)
    assert votes[0].tolist() == vec(Neutral=3, Happy=1).tolist()
    assert mass[0].tolist() == vec(Sad=0.5, Angry=0.5, Happy=1.0).tolist()
    p, s = R.normalise_rows(votes), R.normalise_rows(mass)
    assert np.allclose(p[0], vec(Neutral=0.75, Happy=0.25))
    assert np.allclose(s[0], vec(Sad=0.25, Angry=0.25, Happy=0.5))
    assert s[1].sum() == 0  # no secondary at all
    mh = R.merge(p, s, 0.9, 0.1)
    assert np.allclose(mh[0], vec(Neutral=0.675, Happy=0.275, Sad=0.025, Angry=0.025))
    assert np.allclose(mh[1], p[1])  # no secondary: merged = primary
    ml = R.merge(p, s, 0.8, 0.2)
    assert np.allclose(ml[0], vec(Neutral=0.6, Happy=0.3, Sad=0.05, Angry=0.05))


def test_consensus_x_other():
    assert R.consensus_x_other(["N", "X", "h", "Q"]).tolist() == [I["Neutral"], I["Other"], I["Happy"], -1]


def test_guarded_argmax_neutral_guard_and_ties():
    dists = np.stack(
        [
            vec(Neutral=0.5, Happy=0.3, Sad=0.2),  # 0: neutral kept (votes 2, p 0.5, margin 0.2)
            vec(Neutral=0.5, Happy=0.3, Sad=0.2),  # 1: only 1 neutral vote -> Happy
            vec(Neutral=0.4, Happy=0.35, Sad=0.25),  # 2: margin 0.05 < 0.10 -> Happy
            vec(Neutral=0.34, Happy=0.2, Sad=0.2, Angry=0.26),  # 3: p 0.34 < 0.35 -> Angry
            vec(Neutral=1.0),  # 4: one vote only -> best non-neutral at p 0: Surprise (tie order)
            vec(Happy=0.5, Sad=0.5),  # 5: tie -> Sad before Happy
            vec(Angry=0.25, Contempt=0.25, Other=0.25, Fear=0.25),  # 6: Other first of these
            vec(Neutral=0.5, Surprise=0.5),  # 7: neutral ties -> non-neutral first
            vec(Angry=0.6, Neutral=0.4),  # 8: top not neutral
        ]
    )
    neutral_votes = np.array([2, 1, 4, 3, 1, 0, 0, 5, 2])
    got = [CLASSES[i] for i in R.guarded_argmax(dists, neutral_votes)]
    assert got == ["Neutral", "Happy", "Happy", "Angry", "Surprise", "Sad", "Other", "Surprise", "Angry"]


def test_normalised_entropy_is_the_releases():
    """The release's entropy: nats / ln K, clamped to [0, 1], 0 for an empty row."""
    assert normalised_entropy(
        np.stack([vec(Happy=1.0), np.full(9, 1 / 9), np.zeros(9)])
    ).tolist() == pytest.approx([0.0, 1.0, 0.0])


def test_merge_weights_are_checked():
    with pytest.raises(ValueError, match="merge weights"):
        R.merge(np.ones((1, 9)), np.ones((1, 9)), 0.0, 0.0)


def test_vectorised_mass_and_votes_equal_the_per_annotation_rules():
    rng = np.random.default_rng(0)
    words = ["", "Concerned,Sad", "Confused", "Happy, excited", "Other-tired; Fear", "sad and angry", "Bored"]
    primaries = ["Neutral", "Happy", "Other-x", "Sad", "Surprise", "Bored"]
    utt = np.sort(rng.integers(0, 7, 200))
    sec = [words[i] for i in rng.integers(0, len(words), 200)]
    prim = [primaries[i] for i in rng.integers(0, len(primaries), 200)]
    votes, mass = R.vote_distributions(
        utt, np.array([R.primary_class(p) for p in prim]), [R.secondary_classes(s) for s in sec], 7
    )
    got = R.secondary_mass(utt, sec, 7)
    np.testing.assert_allclose(got.mass, mass, atol=1e-12)
    np.testing.assert_array_equal(R.primary_votes(utt, prim, 7), votes)
    counts = {w: sum(s == w.capitalize() for s in sec) for w in ("confused", "bored")}
    assert got.dropped_words == {w: n for w, n in counts.items() if n} and all(counts.values())

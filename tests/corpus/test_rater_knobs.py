"""The rater knobs of the synthetic corpus (synthetic.raters): each does what it says, on a few
thousand label rows, and none of them touches the latent truth or the audio."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from sertools.classes import OTHER, K
from sertools.corpus.synthetic import generate, labels
from sertools.corpus.synthetic.layout import make_layout
from sertools.labels.reliability import fleiss_kappa
from sertools.measures import normalised_entropy

N, SEED = 3000, 11
NEUTRAL = labels.NEUTRAL


@pytest.fixture(scope="module")
def truth() -> labels.Latent:
    return labels.latent(make_layout(N, SEED, 1.0, 2.0), SEED)


def votes(truth: labels.Latent, **knobs: object) -> labels.Annotations:
    settings = dataclasses.replace(labels.RaterSettings(), **knobs)
    pool = labels.raters(labels.expected_annotations(N), SEED, settings)
    return labels.annotate(truth, pool, SEED, settings)


def counts(ann: labels.Annotations) -> np.ndarray:
    out = np.zeros((N, K), dtype=np.int64)
    np.add.at(out, (ann.utt, ann.primary), 1)
    return out


def test_defaults_are_todays_corpus(truth: labels.Latent) -> None:
    a = labels.annotate(truth, labels.raters(labels.expected_annotations(N), SEED), SEED)
    b = votes(truth)
    assert np.array_equal(a.primary, b.primary) and np.array_equal(a.worker, b.worker)
    assert labels.RaterSettings.from_config({}) == labels.RaterSettings()


def test_more_reliable_raters_agree_more(truth: labels.Latent) -> None:
    kappas = [
        fleiss_kappa(counts(votes(truth, reliability=rel, noisy_share=share)))
        for rel, share in (((2.0, 3.0), 0.5), ((8.0, 2.0), 0.15), ((40.0, 1.0), 0.0))
    ]
    assert kappas[0] < kappas[1] < kappas[2], kappas


def test_noisy_share_lowers_agreement(truth: labels.Latent) -> None:
    assert fleiss_kappa(counts(votes(truth, noisy_share=0.8))) < fleiss_kappa(
        counts(votes(truth, noisy_share=0.0))
    )


def test_other_when_unsure_routes_ambiguous_utterances_to_other(truth: labels.Latent) -> None:
    h = normalised_entropy(truth.p_true)
    low, high = h <= np.quantile(h, 0.1), h >= np.quantile(h, 0.9)  # near-prototypical vs most ambiguous

    def other_share(ann: labels.Annotations, rows: np.ndarray) -> float:
        c = counts(ann)[rows]
        return float(c[:, OTHER].sum() / c.sum())

    base, planted = votes(truth), votes(truth, other_when_unsure=0.6)
    rise_high = other_share(planted, high) - other_share(base, high)
    rise_low = other_share(planted, low) - other_share(base, low)
    assert rise_high > 0.10 and rise_high > 3 * rise_low, (rise_high, rise_low)


def test_neutral_overuse_raises_neutral_votes(truth: labels.Latent) -> None:
    def neutral(ann: labels.Annotations) -> float:
        return float(np.mean(ann.primary == NEUTRAL))

    assert (
        neutral(votes(truth, neutral_overuse_share=0.8))
        > neutral(votes(truth, neutral_overuse_share=0.0)) + 0.02
    )


@pytest.mark.parametrize("minimum,extra", [(3, 0.0), (10, None), (20, 2.0)])
def test_annotators_per_utterance(truth: labels.Latent, minimum: int, extra: float | None) -> None:
    ann = votes(truth, annotators_min=minimum, annotators_extra_mean=extra)
    per_utt = np.bincount(ann.utt, minlength=N)
    assert per_utt.min() >= minimum and per_utt.max() <= minimum + labels.EXTRA_RATERS_CAP
    expected = minimum + (0.42 if extra is None else extra)
    assert abs(per_utt.mean() - expected) < 0.1, per_utt.mean()
    # distinct workers within an utterance
    pairs = ann.utt.astype(np.int64) * 10**7 + ann.worker
    assert len(np.unique(pairs)) == len(pairs)


def test_rater_settings_never_touch_truth_or_audio(tmp_path: Path) -> None:
    kw = {"min_duration_s": 0.5, "max_duration_s": 0.8}
    generate.generate(tmp_path / "a", 40, 3, **kw)
    noisy = labels.RaterSettings(noisy_share=0.9, other_when_unsure=0.5, annotators_min=8)
    generate.generate(tmp_path / "b", 40, 3, rater_settings=noisy, **kw)
    wavs = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.wav"))
    assert len(wavs) == 40
    for rel in wavs:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    assert (tmp_path / "a/latent_truth.parquet").read_bytes() == (
        tmp_path / "b/latent_truth.parquet"
    ).read_bytes()
    a, b = (tmp_path / x / "Labels/labels_detailed.csv" for x in ("a", "b"))
    assert a.read_bytes() != b.read_bytes()


def test_impossible_shares_are_refused() -> None:
    with pytest.raises(ValueError, match="exceeds 1"):
        labels.RaterSettings.from_config({"neutral_overuse_share": 0.7, "other_overuse_share": 0.5})


def _mixture(truth: labels.Latent, **knobs: object) -> tuple[np.ndarray, labels.Raters, labels.RaterSettings]:
    settings = dataclasses.replace(labels.RaterSettings(), **knobs)
    pool = labels.raters(labels.expected_annotations(N), SEED, settings)
    return labels.rater_mixture(truth, pool, settings), pool, settings


@pytest.mark.parametrize("propensity", [0.0, 0.5])
def test_rater_mixture_is_the_mean_vote_of_a_brute_force_panel(
    truth: labels.Latent, propensity: float
) -> None:
    """q_bar against votes drawn slot by slot: a worker by activity, then a class from its own q."""
    q_bar, pool, _ = _mixture(truth, other_when_unsure=propensity)
    assert np.allclose(q_bar.sum(axis=1), 1.0)
    rng = np.random.default_rng(5)
    utt = np.arange(40)  # 40 utterances x 4,000 slots each
    slots = 4000
    worker = rng.choice(len(pool.activity), size=(len(utt), slots), p=pool.activity)
    p = truth.p_true[utt][:, None, :]
    r, c = pool.reliability[worker][..., None], pool.confusion[worker][..., None]
    q = r * ((1 - c) * p + c * (p @ labels.NEIGHBOURS)) + (1 - r) * pool.guess[worker]
    u = propensity * normalised_entropy(truth.p_true[utt])[:, None, None]
    q = (1 - u) * q + u * np.eye(K)[OTHER]
    draws = (rng.random((len(utt), slots, 1)) > np.cumsum(q, axis=-1)).sum(axis=-1)
    shares = np.stack([np.bincount(d, minlength=K) / slots for d in draws])
    # multinomial SD of a share <= 0.5 / sqrt(4000) = 0.008: 5 SD
    assert np.abs(shares - q_bar[utt]).max() < 0.04
    # and it is not the truth: the guess prior and the confusions move it
    assert np.abs(q_bar - truth.p_true).max() > 0.1


def test_votes_of_a_large_panel_converge_to_the_mixture(truth: labels.Latent) -> None:
    """The generator's own votes (distinct workers per utterance) with 60 annotators: their
    shares lie closer to q_bar than to p_true."""
    ann = votes(truth, annotators_min=60, annotators_extra_mean=0.0)
    shares = counts(ann) / 60
    q_bar, _, _ = _mixture(truth, annotators_min=60, annotators_extra_mean=0.0)
    to_mix = np.abs(shares - q_bar).sum(axis=1).mean()
    to_truth = np.abs(shares - truth.p_true).sum(axis=1).mean()
    assert to_mix < 0.75 * to_truth, (to_mix, to_truth)


def test_truth_perception_raters_draw_from_p_true(truth: labels.Latent) -> None:
    """perception: truth: the votes are draws from p_true (shares converge to it), the mixture is
    p_true, and the rater pool is the same as today's."""
    q_bar, pool, settings = _mixture(truth, perception="truth")
    assert np.array_equal(q_bar, truth.p_true)
    today = labels.raters(labels.expected_annotations(N), SEED)
    assert np.array_equal(pool.reliability, today.reliability)
    ann = labels.annotate(
        truth, pool, SEED, dataclasses.replace(settings, annotators_min=60, annotators_extra_mean=0.0)
    )
    shares = counts(ann) / 60
    # multinomial: E|share - p| summed over classes is small and far below today's raters'
    err = np.abs(shares - truth.p_true).sum(axis=1).mean()
    biased = votes(truth, annotators_min=60, annotators_extra_mean=0.0)
    err_biased = np.abs(counts(biased) / 60 - truth.p_true).sum(axis=1).mean()
    assert err < 0.25 < err_biased, (err, err_biased)
    # with Other routing the mixture is p_true routed to Other
    routed, _, _ = _mixture(truth, perception="truth", other_when_unsure=0.5)
    h = normalised_entropy(truth.p_true)[:, None]
    assert np.allclose(routed, (1 - 0.5 * h) * truth.p_true + 0.5 * h * np.eye(K)[OTHER])


def test_unknown_perception_is_refused() -> None:
    with pytest.raises(ValueError, match="perception"):
        labels.RaterSettings.from_config({"perception": "oracle"})

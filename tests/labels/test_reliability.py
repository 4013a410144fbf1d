"""Tests for sertools.labels.reliability (Fleiss' kappa, Krippendorff's alpha)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sertools.labels import reliability
from sertools.labels.reliability import (
    fleiss_kappa,
    fleiss_kappa_detail,
    krippendorff_alpha,
    krippendorff_alpha_detail,
    krippendorff_alpha_interval,
)

# Fleiss (1971) example as tabulated on Wikipedia's "Fleiss' kappa" page:
# 10 subjects, 14 raters each, 5 categories; kappa = 0.210 (P-bar 0.378, P-bar_e 0.213).
FLEISS_TABLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", reliability data
# with missing values: 4 observers x 12 units. Published: nominal 0.743, interval 0.849.
_N = np.nan
KRIPP_TABLE = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, _N, _N, _N],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _N, 3],
        [_N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _N],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _N],
    ]
)


def _long(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coders x units) matrix -> long-form unit ids and values."""
    n_coders, n_units = table.shape
    return np.tile(np.arange(n_units), n_coders), table.ravel()


# ----------------------------------------------------------------- independent references


def _fleiss_loop(counts: np.ndarray) -> float:
    """Per-item loop over rater pairs (no closed-form shortcuts)."""
    agree, n_items, totals = [], 0, np.zeros(counts.shape[1])
    for row in counts:
        n = int(row.sum())
        if n < 2:
            continue
        labels = np.repeat(np.arange(len(row)), row)
        pairs = itertools.permutations(range(n), 2)
        agree.append(np.mean([labels[a] == labels[b] for a, b in pairs]))
        totals += row
        n_items += 1
    p = totals / totals.sum()
    pe = float((p**2).sum())
    return (float(np.mean(agree)) - pe) / (1 - pe)


def _alpha_bruteforce(units: np.ndarray, values: np.ndarray, metric: str) -> float:
    """Krippendorff's alpha by enumerating every ordered pair of pairable values."""

    def delta(a: float, b: float) -> float:
        return (a - b) ** 2 if metric == "interval" else float(a != b)

    groups: dict[object, list[float]] = {}
    for u, v in zip(units, values, strict=True):
        if not np.isnan(v):
            groups.setdefault(u, []).append(float(v))
    groups = {u: vs for u, vs in groups.items() if len(vs) >= 2}
    pooled = [v for vs in groups.values() for v in vs]
    n = len(pooled)
    d_o = sum(
        sum(delta(vs[i], vs[j]) for i, j in itertools.permutations(range(len(vs)), 2)) / (len(vs) - 1)
        for vs in groups.values()
    )
    d_o /= n
    d_e = sum(delta(pooled[i], pooled[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    return 1.0 - d_o / d_e


# ----------------------------------------------------------------------------- Fleiss


def test_fleiss_textbook_example() -> None:
    res = fleiss_kappa_detail(FLEISS_TABLE)
    assert res.kappa == pytest.approx(0.2099, abs=5e-4)
    assert (res.n_items_used, res.n_items_excluded) == (10, 0)
    assert fleiss_kappa(FLEISS_TABLE) == res.kappa


def test_fleiss_variable_raters_matches_pairwise_loop() -> None:
    rng = np.random.default_rng(3)
    n_raters = rng.integers(2, 9, size=40)
    counts = np.stack([rng.multinomial(n, [0.5, 0.2, 0.2, 0.1]) for n in n_raters])
    assert fleiss_kappa(counts) == pytest.approx(_fleiss_loop(counts), rel=1e-12)


def test_fleiss_excludes_items_with_fewer_than_two_ratings() -> None:
    extra = np.array([[0, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 1, 0]])
    res = fleiss_kappa_detail(np.vstack([FLEISS_TABLE, extra]))
    assert res.kappa == pytest.approx(fleiss_kappa(FLEISS_TABLE), rel=1e-12)
    assert (res.n_items_used, res.n_items_excluded) == (10, 3)


def test_fleiss_perfect_agreement_and_degenerate() -> None:
    assert fleiss_kappa(np.array([[3, 0], [0, 4], [5, 0]])) == pytest.approx(1.0)
    # every rating in one category: expected agreement 1, kappa undefined
    assert np.isnan(fleiss_kappa(np.array([[3, 0], [4, 0]])))
    assert np.isnan(fleiss_kappa(np.array([[1, 0], [0, 0]])))


@pytest.mark.parametrize(
    "bad, msg",
    [
        (np.array([1, 2, 3]), "2-D"),
        (np.array([[1, -1], [2, 0]]), "negative"),
        (np.array([[1.5, 1], [2, 0]]), "whole numbers"),
        (np.array([[np.nan, 1], [2, 0]]), "NaN"),
        (np.array([[1], [2]]), "at least 2 categories"),
    ],
)
def test_fleiss_rejects_bad_input(bad: np.ndarray, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        fleiss_kappa(bad)


# ----------------------------------------------------------------------- Krippendorff


def test_krippendorff_published_example() -> None:
    units, values = _long(KRIPP_TABLE)
    res = krippendorff_alpha_detail(units, values, "interval")
    assert res.alpha == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha(units, values, "nominal") == pytest.approx(0.743, abs=5e-4)
    # unit 12 has a single value: not pairable
    assert (res.n_units_used, res.n_units_excluded, res.n_values) == (11, 1, 40)
    assert krippendorff_alpha_interval(units, values) == res.alpha


def test_krippendorff_string_unit_ids_give_same_result() -> None:
    units, values = _long(KRIPP_TABLE)
    ids = np.array([f"MSP-PODCAST_{u:04d}" for u in units], dtype=object)
    for metric in ("interval", "nominal"):
        assert krippendorff_alpha(ids, values, metric) == pytest.approx(
            krippendorff_alpha(units, values, metric)
        )


@pytest.mark.parametrize("metric", ["interval", "nominal"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_krippendorff_matches_bruteforce_on_random_data(metric: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_units = 25
    per_unit = rng.integers(1, 7, size=n_units)  # includes single-value units
    units = np.repeat(np.arange(n_units), per_unit)
    truth = rng.integers(1, 8, size=n_units)[units]
    values = np.clip(truth + rng.integers(-1, 2, size=len(units)), 1, 7).astype(float)
    values[rng.random(len(values)) < 0.15] = np.nan
    order = rng.permutation(len(units))  # long form need not be grouped
    got = krippendorff_alpha(units[order], values[order], metric)
    assert got == pytest.approx(_alpha_bruteforce(units, values, metric), rel=1e-10)


def test_krippendorff_large_shift_is_stable() -> None:
    units, values = _long(KRIPP_TABLE)
    assert krippendorff_alpha_interval(units, values + 1e6) == pytest.approx(0.8491, abs=1e-4)


def test_krippendorff_degenerate_cases() -> None:
    # identical values everywhere: D_e = 0, alpha undefined
    assert np.isnan(krippendorff_alpha_interval(np.array([0, 0, 1, 1]), np.array([3.0, 3, 3, 3])))
    res = krippendorff_alpha_detail(np.array([0, 1, 2]), np.array([1.0, np.nan, 2.0]))
    assert np.isnan(res.alpha) and res.n_units_used == 0 and res.n_units_excluded == 3


def test_krippendorff_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        krippendorff_alpha_interval(np.array([0, 1]), np.array([1.0]))
    with pytest.raises(ValueError, match="metric"):
        krippendorff_alpha(np.array([0, 0]), np.array([1.0, 2.0]), "ordinal")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="numeric"):
        krippendorff_alpha_interval(np.array([0, 0]), np.array(["a", "b"]))
    with pytest.raises(ValueError, match="missing"):
        krippendorff_alpha_interval(np.array(["a", None], dtype=object), np.array([1.0, 2.0]))


def test_integer_unit_codes_are_those_of_a_sorted_unique() -> None:
    """Small non-negative ids take a counting path; large or negative ones a sort: same codes."""
    rng = np.random.default_rng(3)
    for units in (
        rng.integers(0, 40, 500),
        rng.integers(0, 40, 500).astype(np.int32),
        rng.integers(-5, 40, 500),
        rng.integers(0, 10**12, 500),
        np.array([7, 7, 2]),
    ):
        codes, n = reliability._factorize(units)
        uniq, expected = np.unique(units, return_inverse=True)
        assert n == len(uniq)
        np.testing.assert_array_equal(codes, expected.ravel())

"""Inter-rater reliability: Fleiss' kappa and Krippendorff's alpha.

Both coefficients accept a variable number of ratings per item, which is the
normal case in MSP-Podcast (each utterance has its own set of annotators).

* :func:`fleiss_kappa` takes an (items, categories) count table. Items with
  fewer than two ratings carry no agreement information and are excluded;
  :func:`fleiss_kappa_detail` also reports how many were used and excluded.
* :func:`krippendorff_alpha` takes long-form data (one row per rating: unit
  id, value) and is vectorised with grouped sums, so a million ratings take
  well under a second. Only *pairable* values count: units with fewer than
  two non-missing values are excluded.

When the denominator of a coefficient is zero (every rating falls in one
category, or every value is identical) the coefficient is undefined and NaN
is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "AlphaResult",
    "FleissResult",
    "fleiss_kappa",
    "fleiss_kappa_detail",
    "krippendorff_alpha",
    "krippendorff_alpha_detail",
    "krippendorff_alpha_interval",
]

Metric = Literal["interval", "nominal"]


@dataclass(frozen=True)
class FleissResult:
    """Fleiss' kappa with the number of items that entered it."""

    kappa: float
    n_items_used: int
    n_items_excluded: int  # items with fewer than 2 ratings


@dataclass(frozen=True)
class AlphaResult:
    """Krippendorff's alpha with the amount of data that entered it."""

    alpha: float
    n_units_used: int  # units with at least 2 non-missing values
    n_units_excluded: int  # units with 0 or 1 non-missing values
    n_values: int  # pairable values (ratings in used units)
    observed_disagreement: float  # D_o
    expected_disagreement: float  # D_e


# --------------------------------------------------------------------------- Fleiss


def _check_counts(counts: np.ndarray) -> np.ndarray:
    c = np.asarray(counts)
    if c.ndim != 2:
        raise ValueError(f"counts must be a 2-D (n_items, n_categories) array, got shape {c.shape}")
    if c.shape[1] < 2:
        raise ValueError(f"counts needs at least 2 categories (columns), got {c.shape[1]}")
    if not (np.issubdtype(c.dtype, np.integer) or np.issubdtype(c.dtype, np.floating)):
        raise TypeError(f"counts must be numeric, got dtype {c.dtype}")
    c = c.astype(np.float64)
    if not np.all(np.isfinite(c)):
        raise ValueError("counts contains NaN or infinite values")
    if np.any(c < 0):
        raise ValueError("counts contains negative values")
    if np.any(c != np.round(c)):
        raise ValueError("counts must be whole numbers of ratings")
    return c


def fleiss_kappa_detail(counts: np.ndarray) -> FleissResult:
    """Fleiss' kappa for items rated by varying numbers of raters.

    ``counts[i, j]`` is the number of raters who put item ``i`` in category
    ``j``. With ``n_i`` ratings on item ``i``:

    * per-item agreement ``P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1))``;
    * category proportions ``p_j`` over all ratings of the used items;
    * ``kappa = (mean_i P_i - sum_j p_j^2) / (1 - sum_j p_j^2)``.

    This reduces to Fleiss (1971) when every item has the same number of
    raters. Items with fewer than two ratings are excluded (their ``P_i`` is
    undefined), including from ``p_j``.
    """
    c = _check_counts(counts)
    n_i = c.sum(axis=1)
    used = n_i >= 2
    n_used = int(used.sum())
    n_excl = int(c.shape[0] - n_used)
    if n_used == 0:
        return FleissResult(float("nan"), 0, n_excl)
    cu, nu = c[used], n_i[used]
    p_item = ((cu**2).sum(axis=1) - nu) / (nu * (nu - 1.0))
    p_cat = cu.sum(axis=0) / nu.sum()
    pe = float((p_cat**2).sum())
    pbar = float(p_item.mean())
    kappa = (pbar - pe) / (1.0 - pe) if pe < 1.0 else float("nan")
    return FleissResult(float(kappa), n_used, n_excl)


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of an (n_items, n_categories) vote-count table (see :func:`fleiss_kappa_detail`)."""
    return fleiss_kappa_detail(counts).kappa


# --------------------------------------------------------------------------- Krippendorff


def _factorize(units: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense 0..G-1 codes for arbitrary unit ids (ints, strings, objects)."""
    u = np.asarray(units)
    if np.issubdtype(u.dtype, np.integer):
        if len(u) and u.min() >= 0 and u.max() < 4 * len(u) + 1024:
            # small non-negative ids (row numbers): the codes np.unique gives, without a sort
            seen = np.bincount(u.ravel()) > 0
            return (np.cumsum(seen) - 1)[u.ravel()], int(seen.sum())
        uniq, codes = np.unique(u, return_inverse=True)
        return codes.ravel(), len(uniq)
    import pandas as pd  # lazy: sertools stays import-light

    codes, uniq = pd.factorize(u, use_na_sentinel=True)
    if np.any(codes < 0):
        raise ValueError("units contains missing (None/NaN) unit ids")
    return codes, len(uniq)


def krippendorff_alpha_detail(
    units: np.ndarray, values: np.ndarray, metric: Metric = "interval"
) -> AlphaResult:
    """Krippendorff's alpha from long-form ratings, with bookkeeping.

    ``units[r]`` is the unit (item) of rating ``r`` and ``values[r]`` its value;
    NaN values are missing and ignored. Coder identities are not needed.
    With ``m_u`` pairable values in unit ``u`` and ``n = sum_u m_u``:

    * interval: ``D_o = (1/n) sum_u [sum_{i != j in u} (v_i - v_j)^2] / (m_u - 1)`` and
      ``D_e = [sum_{i != j over all pairable values} (v_i - v_j)^2] / (n (n - 1))``. The
      ordered-pair sums are ``2 m S_2c`` with ``S_2c`` the sum of squared
      deviations from the group mean, so only grouped sums are needed.
    * nominal: values are category labels, the distance is ``1[v_i != v_j]``.

    ``alpha = 1 - D_o / D_e`` (NaN when ``D_e = 0``).
    """
    if metric not in ("interval", "nominal"):
        raise ValueError(f"metric must be 'interval' or 'nominal', got {metric!r}")
    u, v = _long_form(units, values)
    present = ~np.isnan(v)
    codes, n_groups = _factorize(u)
    codes, v = codes[present], v[present]
    m = np.bincount(codes, minlength=n_groups).astype(np.float64)
    keep_unit = m >= 2  # units with a pairable value
    n_used = int(keep_unit.sum())
    n_excl = n_groups - n_used
    keep = keep_unit[codes]
    codes, v = codes[keep], v[keep]
    n = float(len(v))
    nan = float("nan")
    if n_used == 0:
        return AlphaResult(nan, 0, n_excl, 0, nan, nan)
    disagreements = _interval_disagreements if metric == "interval" else _nominal_disagreements
    d_o, d_e = disagreements(codes, v, m, keep_unit)
    alpha = 1.0 - d_o / d_e if d_e > 0 else nan
    return AlphaResult(float(alpha), n_used, n_excl, int(n), d_o, d_e)


def _long_form(units: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Checked 1-D units and float64 values (NaN = missing)."""
    u = np.asarray(units)
    v = np.asarray(values)
    if u.ndim != 1 or v.ndim != 1:
        raise ValueError(f"units and values must be 1-D, got shapes {u.shape} and {v.shape}")
    if len(u) != len(v):
        raise ValueError(f"units and values differ in length ({len(u)} vs {len(v)})")
    try:
        v = v.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"values must be numeric (NaN for missing): {err}") from None
    if np.any(np.isinf(v)):
        raise ValueError("values contains infinite entries")
    return u, v


def _interval_disagreements(
    codes: np.ndarray, v: np.ndarray, m: np.ndarray, keep_unit: np.ndarray
) -> tuple[float, float]:
    """(D_o, D_e) for squared differences, from grouped sums over the pairable values."""
    n_groups, n = len(m), float(len(v))
    # Centre on the pooled mean first: both disagreements are shift invariant and
    # the grouped sums lose less precision.
    v = v - v.mean()
    s1 = np.bincount(codes, weights=v, minlength=n_groups)
    mean_u = np.zeros(n_groups)
    mean_u[keep_unit] = s1[keep_unit] / m[keep_unit]
    dev2 = np.bincount(codes, weights=(v - mean_u[codes]) ** 2, minlength=n_groups)
    # ordered pairs in unit u: 2 * m_u * dev2_u; divided by (m_u - 1)
    d_o = float((2.0 * m[keep_unit] * dev2[keep_unit] / (m[keep_unit] - 1.0)).sum() / n)
    d_e = float(2.0 * n * (v**2).sum() / (n * (n - 1.0)))
    return d_o, d_e


def _nominal_disagreements(
    codes: np.ndarray, v: np.ndarray, m: np.ndarray, keep_unit: np.ndarray
) -> tuple[float, float]:
    """(D_o, D_e) for the 0/1 distance between category labels."""
    n_groups, n = len(m), float(len(v))
    cat_codes, n_cat = _factorize(v)
    # per (unit, category) counts via a combined key
    key = codes.astype(np.int64) * n_cat + cat_codes
    cells, cell_counts = np.unique(key, return_counts=True)
    cell_units = cells // n_cat
    sq = np.bincount(cell_units, weights=cell_counts.astype(np.float64) ** 2, minlength=n_groups)
    mu = m[keep_unit]
    # ordered pairs with different categories in unit u: m_u^2 - sum_c n_uc^2
    d_o = float(((mu**2 - sq[keep_unit]) / (mu - 1.0)).sum() / n)
    n_c = np.bincount(cat_codes, minlength=n_cat).astype(np.float64)
    d_e = float((n**2 - (n_c**2).sum()) / (n * (n - 1.0)))
    return d_o, d_e


def krippendorff_alpha(units: np.ndarray, values: np.ndarray, metric: Metric = "interval") -> float:
    """Krippendorff's alpha (interval or nominal) of long-form ratings; see :func:`krippendorff_alpha_detail`."""
    return krippendorff_alpha_detail(units, values, metric).alpha


def krippendorff_alpha_interval(units: np.ndarray, values: np.ndarray) -> float:
    """Interval Krippendorff's alpha of long-form ratings (NaN values ignored; units with < 2 values excluded)."""
    return krippendorff_alpha_detail(units, values, "interval").alpha

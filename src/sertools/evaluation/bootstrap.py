"""Bootstrap of every metric over utterances, for one or several training seeds.

Design (``docs/metrics.md``, "Bootstrap"): every metric is a function of a few
*sums over utterances* of per-utterance statistics (per-class TP / true /
predicted indicators, per-bin ``correct - confidence``, CCC moments,
per-utterance JSD/KLD/Brier, the release's JSD/KLD in nats). UAR and the
published macro-F1 come from the same per-class counts, the mean CCC from the
three CCCs of the resample. A resample is fully described by its count
vector ``w`` (how often each utterance was drawn), so the sums of all
resamples are one matrix product ``W @ F`` with ``W`` the (B, N) count matrix
and ``F`` the (N, S) feature matrix. Metrics are then recomputed from the sums
of each resample, which is exactly what recomputing on the resampled data
gives (never an average of per-utterance F1). Resamples are processed in
chunks to bound memory. Several prediction sets of the same utterances
(training seeds, or a variant and its baseline) share the resamples.

The interval is chosen by ``method`` (:data:`CI_METHODS`, the config key
``evaluation.ci_method``; ``docs/metrics.md``, "Bootstrap"): the default
``recentred`` percentile interval always contains its point estimate, which
the plain ``percentile`` interval of a metric that is biased under resampling
(the ECE of a well-calibrated set) need not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from statistics import NormalDist
from typing import NamedTuple, TypedDict, Unpack

import numpy as np

from sertools.classes import MSP_PODCAST, ClassSet
from sertools.evaluation.evaldata import EvalData
from sertools.measures import brier, ece_bin, jsd, jsd_paper, kld, kld_paper, onehot

__all__ = [
    "CI",
    "CI_METHODS",
    "CI_METHOD_NAMES",
    "DEFAULT_CI_METHOD",
    "MetricOptions",
    "Options",
    "SeedCI",
    "as_sets",
    "bc_ci",
    "bootstrap",
    "bootstrap_multiseed",
    "bootstrap_replicates",
    "check_ci",
    "check_ci_method",
    "ci_interval",
    "metric_range",
    "percentile_ci",
    "recentred_ci",
    "replicates_per_set",
    "resample_indices",
    "resampled_sums",
    "seed_mean",
    "seed_resample_indices",
    "seed_resampled_mean",
    "summary_table",
]


# ================================================================== sufficient statistics


class _Layout:
    """Column positions of the per-utterance feature matrix of one prediction set."""

    def __init__(
        self,
        ece_bins: int,
        has_true: bool,
        has_ref: bool = False,
        classes: ClassSet = MSP_PODCAST,
        has_merged: bool = True,
    ) -> None:
        self.ece_bins = ece_bins
        self.classes = classes
        self.dist_tags = ("primary", *(("merged",) if has_merged else ()), *(("true",) if has_true else ()))
        # a class set without Other has no Other metrics, one without A/V/D no CCC
        other = ("other_share_pred", "other_mass", "other_share_human") if classes.other is not None else ()
        dimensions = classes.dimensions
        self.dimensions = dimensions
        # the release's divergences have a feature matrix of their own, so the main one (and
        # with it every other metric, to the last bit) does not depend on whether they are computed
        self.paper = ("jsd_paper", "kld_paper") if has_ref else ()
        self.means = (
            *(f"{m}_{t}" for t in self.dist_tags for m in ("jsd", "kld")),
            "brier_primary",
            *other,
        )
        k = classes.k
        sizes = {
            "tp": k,
            "n_true": k,
            "n_pred": k,
            "ece": ece_bins,
            "brier_onehot": 1,
            "means": len(self.means),
            "ccc": 6 * len(dimensions),
            "n_all": 1,
        }
        self.order = (
            "accuracy",
            "macro_f1",
            "weighted_f1",
            *(f"f1_{c}" for c in classes.names),
            "uar",
            "macro_f1_published",
            *(f"{m}_{t}" for t in self.dist_tags for m in ("jsd", "kld")),
            *self.paper,
            *(f"ccc_{d}" for d in dimensions),
            *(("ccc_mean",) if dimensions else ()),
            "ece",
            "brier_onehot",
            "brier_primary",
            *other,
            "n_hard",
            "n_all",
        )
        self.slices: dict[str, slice] = {}
        start = 0
        for name, size in sizes.items():
            self.slices[name] = slice(start, start + size)
            start += size
        self.width = start


def _features(data: EvalData, layout: _Layout, prob_floor: float, out: np.ndarray) -> None:
    """Fill ``out`` (N, S), zeros on entry, with the per-utterance statistics whose column
    sums determine every metric."""
    f = out
    s = layout.slices
    hard_rows = data.hard >= 0
    rows = np.flatnonzero(hard_rows)
    h, p = data.hard[rows], data.pred[rows]
    correct = (h == p).astype(np.float64)
    f[rows, s["tp"].start + h] = correct
    f[rows, s["n_true"].start + h] = 1.0
    f[rows, s["n_pred"].start + p] = 1.0
    conf = data.probs[rows].max(axis=1)
    f[rows, s["ece"].start + ece_bin(conf, layout.ece_bins)] = correct - conf
    f[rows, s["brier_onehot"].start] = brier(data.probs[rows], onehot(h, layout.classes.k))

    per_utt: dict[str, np.ndarray] = {}
    for tag in layout.dist_tags:
        target = {"primary": data.p_primary, "merged": data.p_merged, "true": data.p_true}[tag]
        if target is None:
            raise ValueError(f"jsd_{tag} and kld_{tag} need the {tag} distributions")
        per_utt[f"jsd_{tag}"] = jsd(target, data.probs)
        per_utt[f"kld_{tag}"] = kld(target, data.probs, prob_floor)
    per_utt["brier_primary"] = brier(data.probs, data.p_primary)
    other = layout.classes.other
    if other is not None:
        per_utt["other_share_pred"] = (data.pred == other).astype(np.float64)
        per_utt["other_mass"] = data.probs[:, other]
        per_utt["other_share_human"] = data.p_primary[:, other]
    f[:, s["means"]] = np.column_stack([per_utt[m] for m in layout.means])

    if layout.dimensions and data.dims_pred is not None and data.dims_true is not None:
        for j in range(len(layout.dimensions)):
            x, y = data.dims_pred[:, j], data.dims_true[:, j]
            ok = np.isfinite(x) & np.isfinite(y)
            # CCC is invariant to a shift applied to both series; centring on a common
            # value keeps the raw-moment formulas numerically safe.
            c = float(y[ok].mean()) if ok.any() else 0.0
            xc, yc = np.where(ok, x - c, 0.0), np.where(ok, y - c, 0.0)
            base = s["ccc"].start + 6 * j
            f[:, base : base + 6] = np.column_stack([ok, xc, yc, xc * xc, yc * yc, xc * yc])
    f[:, s["n_all"].start] = 1.0


def _paper_features(data: EvalData, layout: _Layout, prob_floor: float, out: np.ndarray) -> None:
    """Fill ``out`` (N, len(layout.paper)) with the per-utterance release divergences (nats)."""
    if layout.paper:
        if data.p_ref is None:
            raise ValueError("the release's divergences need the reference distributions (p_ref)")
        out[:, 0] = jsd_paper(data.probs, data.p_ref)
        out[:, 1] = kld_paper(data.p_ref, data.probs, prob_floor=prob_floor)


def _metrics_from_sums(sums: np.ndarray, layout: _Layout, paper_sums: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric (in :func:`sertools.evaluation.metricset.compute_all`'s order) for each row of ``sums`` (R, S),
    the column sums of one resample each, and ``paper_sums`` (R, len(layout.paper)), the sums of
    the release divergences."""
    s = layout.slices
    tp, n_true, n_pred = sums[:, s["tp"]], sums[:, s["n_true"]], sums[:, s["n_pred"]]
    n_hard = n_true.sum(axis=1)
    n_all = sums[:, s["n_all"].start]
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = n_true + n_pred
        f1 = np.where(denom > 0, 2.0 * tp / np.where(denom > 0, denom, 1.0), 0.0)
        has_hard = n_hard > 0
        inv_hard = np.where(has_hard, 1.0 / np.where(has_hard, n_hard, 1.0), np.nan)
        out: dict[str, np.ndarray] = {
            "accuracy": tp.sum(axis=1) * inv_hard,
            "macro_f1": np.where(has_hard, f1.mean(axis=1), np.nan),
            "weighted_f1": (f1 * n_true).sum(axis=1) * inv_hard,
        }
        for c, name in enumerate(layout.classes.names):
            out[f"f1_{name}"] = np.where(has_hard, f1[:, c], np.nan)
        # UAR: mean recall over the classes with support
        supported = n_true > 0
        recall = np.where(supported, tp / np.where(supported, n_true, 1.0), 0.0)
        n_supported = supported.sum(axis=1)
        out["uar"] = np.where(n_supported > 0, recall.sum(axis=1) / np.maximum(n_supported, 1), np.nan)
        # the published macro-F1: mean F1 over the classes with a true positive
        hit = tp > 0
        n_hit = hit.sum(axis=1)
        out["macro_f1_published"] = np.where(
            n_hit > 0, np.where(hit, f1, 0.0).sum(axis=1) / np.maximum(n_hit, 1), np.nan
        )
        means = sums[:, s["means"]] / n_all[:, None]
        for i, name in enumerate(layout.means):
            out[name] = means[:, i]
        for i, name in enumerate(layout.paper):
            out[name] = paper_sums[:, i] / n_all
        base = s["ccc"].start
        for j, dim in enumerate(layout.dimensions):
            cnt, sx, sy, sxx, syy, sxy = (sums[:, base + 6 * j + k] for k in range(6))
            mx, my = sx / cnt, sy / cnt
            cov = sxy / cnt - mx * my
            denom_c = (sxx / cnt - mx * mx) + (syy / cnt - my * my) + (mx - my) ** 2
            out[f"ccc_{dim}"] = np.where((cnt > 0) & (denom_c > 0), 2.0 * cov / denom_c, np.nan)
        if layout.dimensions:
            out["ccc_mean"] = np.mean([out[f"ccc_{dim}"] for dim in layout.dimensions], axis=0)
        out["ece"] = np.abs(sums[:, s["ece"]]).sum(axis=1) * inv_hard
        out["brier_onehot"] = sums[:, s["brier_onehot"].start] * inv_hard
    out["n_hard"] = n_hard
    out["n_all"] = n_all
    return {k: out[k] for k in layout.order}


# ============================================================================= resampling


def _chunk_size(n: int, target_cells: int = 2_000_000) -> int:
    """Resamples per chunk so a chunk's (b, n) count matrix stays around 16 MB."""
    return max(1, target_cells // max(n, 1))


def _iter_index_chunks(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The resample index stream: ``rng.integers(0, n)`` drawn chunk by chunk (int32)."""
    rng = np.random.default_rng(seed)
    step = _chunk_size(n)
    for start in range(0, n_resamples, step):
        b = min(step, n_resamples - start)
        yield rng.integers(0, n, size=(b, n), dtype=np.int32)


def resample_indices(n: int, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The (B, n) bootstrap indices :func:`bootstrap` draws for this ``n`` and ``seed``.

    Memory is ``4 B n`` bytes; :func:`bootstrap` itself never materialises it.
    """
    if n < 1 or n_resamples < 1:
        raise ValueError(f"need n >= 1 and n_resamples >= 1, got n={n}, n_resamples={n_resamples}")
    return np.concatenate(list(_iter_index_chunks(n, n_resamples, seed)))


def _count_matrix(idx: np.ndarray, n: int) -> np.ndarray:
    """(b, n) float64 counts of how often each utterance appears in each resample."""
    b = idx.shape[0]
    flat = idx.astype(np.int64, copy=False) + (np.arange(b, dtype=np.int64) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def _resampled_sums(
    feats: Sequence[np.ndarray], n_resamples: int, seed: int, indices: np.ndarray | None
) -> list[np.ndarray]:
    """Per feature matrix of ``feats`` (each (N, S_i)), its (B, S_i) column sums for every
    resample (drawn or injected); every matrix sees the same resamples."""
    n = feats[0].shape[0]
    if indices is not None:
        idx = np.asarray(indices)
        if idx.ndim != 2 or idx.shape[1] != n:
            raise ValueError(f"indices must have shape (B, {n}), got {idx.shape}")
        if not np.issubdtype(idx.dtype, np.integer) or (idx.size and (idx.min() < 0 or idx.max() >= n)):
            raise ValueError(f"indices must be integers in [0, {n})")
        step = _chunk_size(n)
        chunks: Iterator[np.ndarray] = (idx[i : i + step] for i in range(0, len(idx), step))
    else:
        if n_resamples < 1:
            raise ValueError(f"B must be >= 1, got {n_resamples}")
        chunks = _iter_index_chunks(n, n_resamples, seed)
    parts: list[list[np.ndarray]] = [[] for _ in feats]
    for c in chunks:
        counts = _count_matrix(c, n)
        for i, f in enumerate(feats):
            parts[i].append(counts @ f if f.shape[1] else np.zeros((len(counts), 0)))
    return [np.concatenate(p) for p in parts]


def resampled_sums(feats: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """(B, S) column sums of the (N, S) per-utterance matrix ``feats`` on each of the
    resamples :func:`resample_indices` ``(N, B, seed)`` draws (never materialised)."""
    return _resampled_sums([np.asarray(feats, dtype=np.float64)], n_resamples, seed, None)[0]


def seed_resample_indices(n_seeds: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(B, n_seeds) seeds drawn with replacement, one draw of ``n_seeds`` per resample."""
    if n_seeds < 1 or n_resamples < 1:
        raise ValueError(f"need n_seeds >= 1 and n_resamples >= 1, got {n_seeds}, {n_resamples}")
    return rng.integers(0, n_seeds, size=(n_resamples, n_seeds))


def seed_resampled_mean(per_seed: np.ndarray, seed_idx: np.ndarray) -> np.ndarray:
    """Replicates of the seed mean when the seeds are resampled as well as the utterances.

    ``per_seed`` (S, B): a metric of each of S training seeds on the same B
    utterance resamples; ``seed_idx`` (B, S): the seeds drawn for each resample
    (:func:`seed_resample_indices`). Replicate b is the mean over the drawn
    seeds of their metric on utterance resample b: a two-level bootstrap whose
    spread carries the seed-to-seed variance as well as the utterances'. With
    one seed it is the utterance bootstrap.
    """
    per_seed = np.asarray(per_seed, dtype=np.float64)
    idx = np.asarray(seed_idx)
    if per_seed.ndim != 2 or idx.shape != (per_seed.shape[1], per_seed.shape[0]):
        raise ValueError(f"seed_idx must have shape (B, S) = {per_seed.shape[::-1]}, got {idx.shape}")
    return per_seed[idx, np.arange(per_seed.shape[1])[:, None]].mean(axis=1)


def _check_common(
    datas: Sequence[EvalData],
) -> tuple[EvalData, ...]:
    """Prediction sets compared on the same resamples must describe the same utterances."""
    if not datas:
        raise ValueError("need at least one prediction set")
    first = datas[0]
    for i, d in enumerate(datas[1:], start=1):
        if d.n != first.n:
            raise ValueError(f"prediction set {i} has {d.n} utterances, set 0 has {first.n}")
        if (
            first.file_ids is not None
            and d.file_ids is not None
            and not np.array_equal(first.file_ids, d.file_ids)
        ):
            raise ValueError(f"prediction set {i} lists different utterances (file_ids) than set 0")
        if not np.array_equal(first.hard, d.hard) or not np.allclose(first.p_primary, d.p_primary, atol=1e-9):
            raise ValueError(f"prediction set {i} has different human labels than set 0")
        if (first.p_true is None) != (d.p_true is None):
            raise ValueError("either every prediction set has p_true or none has")
        if (first.p_ref is None) != (d.p_ref is None):
            raise ValueError("either every prediction set has p_ref or none has")
    return tuple(datas)


class MetricOptions(TypedDict, total=False):
    """How a resample's metrics are computed: ``prob_floor`` of the divergences (default 1e-12) and
    ``ece_bins`` (default 15); keyword options of every bootstrap function."""

    prob_floor: float
    ece_bins: int


class Options(MetricOptions, total=False):
    """:class:`MetricOptions` and ``indices``: explicit (B, N) resamples instead of drawn ones."""

    indices: np.ndarray | None


def replicates_per_set(
    datas: Sequence[EvalData],
    n_resamples: int,
    seed: int,
    indices: np.ndarray | None = None,
    prob_floor: float = 1e-12,
    ece_bins: int = 15,
) -> tuple[list[dict[str, float]], list[dict[str, np.ndarray]]]:
    """Per prediction set: the point estimates and every metric on the same B resamples.

    The points come from the full-data sums, i.e. the same code path as the
    replicates; they equal :func:`sertools.evaluation.metricset.compute_all`
    up to floating-point rounding.
    """
    if ece_bins < 1:
        raise ValueError(f"ece_bins must be >= 1, got {ece_bins}")
    datas = _check_common(datas)
    layout = _Layout(
        ece_bins,
        datas[0].p_true is not None,
        datas[0].p_ref is not None,
        datas[0].classes,
        datas[0].p_merged is not None,
    )
    w, wp = layout.width, len(layout.paper)
    feats = np.zeros((datas[0].n, w * len(datas)))
    paper = np.zeros((datas[0].n, wp * len(datas)))
    for i, d in enumerate(datas):
        _features(d, layout, prob_floor, feats[:, i * w : (i + 1) * w])
        _paper_features(d, layout, prob_floor, paper[:, i * wp : (i + 1) * wp])
    sums, paper_sums = _resampled_sums([feats, paper], n_resamples, seed, indices)
    full = feats.sum(axis=0, keepdims=True)
    paper_full = paper.sum(axis=0, keepdims=True)
    # ccc columns stay zero without dimensional data, which yields NaN CCC.
    points = [
        {
            k: float(v[0])
            for k, v in _metrics_from_sums(
                full[:, i * w : (i + 1) * w], layout, paper_full[:, i * wp : (i + 1) * wp]
            ).items()
        }
        for i in range(len(datas))
    ]
    reps = [
        _metrics_from_sums(sums[:, i * w : (i + 1) * w], layout, paper_sums[:, i * wp : (i + 1) * wp])
        for i in range(len(datas))
    ]
    return points, reps


def bootstrap_replicates(
    data: EvalData | Sequence[EvalData], B: int = 1000, seed: int = 0, **options: Unpack[Options]
) -> dict[str, np.ndarray]:
    """Every metric recomputed on each resample: ``{name: (B,) array}``.

    With several prediction sets of the same utterances (training seeds),
    each replicate is the seed-averaged metric on that resample. ``indices``
    (B, N) injects explicit resamples; otherwise they are drawn as by
    :func:`resample_indices` ``(N, B, seed)``.
    """
    _, per_set = replicates_per_set(as_sets(data), B, seed, **options)
    return seed_mean(per_set)


def seed_mean(per_set: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per metric, the mean over prediction sets (seeds) of the replicates."""
    return {k: np.mean([r[k] for r in per_set], axis=0) for k in per_set[0]}


# ================================================================================ results


class CI(NamedTuple):
    """Point estimate and bootstrap interval (of the ``method`` it was computed with)."""

    point: float
    lo: float
    hi: float


class SeedCI(NamedTuple):
    """Seed-averaged metric: point = mean over seeds; CI of the seed-averaged metric; SD across seeds."""

    point: float
    lo: float
    hi: float
    seed_sd: float  # sample SD (ddof=1) of the per-seed point estimates; NaN for one seed
    n_seeds: int


#: the interval methods (``evaluation.ci_method``), see :func:`ci_interval`
CI_METHODS: tuple[str, ...] = ("recentred", "percentile", "bc")
#: the method of the config's default and of every bootstrap function's ``method``
DEFAULT_CI_METHOD = "recentred"
#: how captions name each method ("95% <name> CI")
CI_METHOD_NAMES: dict[str, str] = {
    "recentred": "recentred percentile-bootstrap",
    "percentile": "percentile-bootstrap",
    "bc": "bias-corrected (BC) percentile-bootstrap",
}


def check_ci(ci: float) -> None:
    """Raise unless the interval level ``ci`` lies in (0, 1)."""
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")


def check_ci_method(method: str) -> None:
    """Raise unless ``method`` is one of :data:`CI_METHODS`."""
    if method not in CI_METHODS:
        raise ValueError(f"ci method must be one of {list(CI_METHODS)}, got {method!r}")


def _defined(replicates: np.ndarray) -> np.ndarray:
    r = np.asarray(replicates, dtype=np.float64).ravel()
    return r[~np.isnan(r)]


def percentile_ci(replicates: np.ndarray, ci: float = 0.95) -> tuple[float, float]:
    """``[(1-ci)/2, (1+ci)/2]`` percentiles (linear interpolation), ignoring NaN replicates."""
    check_ci(ci)
    r = _defined(replicates)
    if not len(r):
        return float("nan"), float("nan")
    lo, hi = np.quantile(r, [(1 - ci) / 2, (1 + ci) / 2])
    return float(lo), float(hi)


#: the range of each metric the engine computes, by name prefix (first match); others are unbounded
_RANGES: tuple[tuple[str, tuple[float, float]], ...] = (
    ("ccc_", (-1.0, 1.0)),
    ("kld_", (0.0, np.inf)),
    ("brier_", (0.0, 2.0)),
    ("n_", (0.0, np.inf)),
    *(
        (p, (0.0, 1.0))
        for p in ("accuracy", "macro_f1", "weighted_f1", "f1_", "uar", "ece", "jsd_", "other_")
    ),
)
_UNBOUNDED = (-np.inf, np.inf)


def metric_range(name: str) -> tuple[float, float]:
    """The values metric ``name`` can take (JSD base 2 and the release's JSD in nats lie in [0, 1])."""
    return next((r for prefix, r in _RANGES if name.startswith(prefix)), _UNBOUNDED)


def recentred_ci(
    replicates: np.ndarray, point: float, ci: float = 0.95, bounds: tuple[float, float] = _UNBOUNDED
) -> tuple[float, float]:
    """The percentile interval of the replicates shifted so that their median is ``point``.

    ``[point + q_lo - m, point + q_hi - m]`` with ``q_lo, q_hi`` the percentiles
    of :func:`percentile_ci` and ``m`` the median of the replicates (NaN ones
    ignored): the width and skew of the bootstrap distribution, centred on the
    estimate instead of on the resampled values, whose centre a metric that is
    biased under resampling (the ECE) moves away from the estimate.
    It equals the percentile interval when the median is the estimate. The
    ends are clipped to ``bounds``, the metric's range (:func:`metric_range`:
    an ECE interval never goes below 0). It always contains ``point``; all
    replicates equal give ``[point, point]``. No replicate or a non-finite
    ``point`` gives NaN.
    """
    check_ci(ci)
    r = _defined(replicates)
    if not len(r) or not np.isfinite(point):
        return float("nan"), float("nan")
    q_lo, med, q_hi = np.quantile(r, [(1 - ci) / 2, 0.5, (1 + ci) / 2])
    lo = max(point + (q_lo - med), bounds[0])
    hi = min(point + (q_hi - med), bounds[1])
    return float(min(lo, point)), float(max(hi, point))


def bc_ci(replicates: np.ndarray, point: float, ci: float = 0.95) -> tuple[float, float]:
    """Efron's bias-corrected (BC) percentile interval.

    ``z0 = Phi^-1(f)`` with ``f`` the share of replicates below ``point`` (ties
    count half), clamped to ``[1/(2B), 1 - 1/(2B)]`` when ``point`` lies outside
    the replicates (so ``z0`` stays finite); the interval is the percentiles
    ``Phi(2 z0 -+ z)`` with ``z = Phi^-1((1+ci)/2)``. It contains ``point`` only
    if ``|z0| <= z``, which is exactly when the percentile interval does (BCa's
    acceleration does not change that condition): it corrects the interval
    *away* from a biased estimate rather than towards it. NaN replicates are
    ignored; none or a non-finite ``point`` gives NaN.
    """
    check_ci(ci)
    r = _defined(replicates)
    if not len(r) or not np.isfinite(point):
        return float("nan"), float("nan")
    b = len(r)
    f: float = (np.count_nonzero(r < point) + 0.5 * np.count_nonzero(r == point)) / b
    f = min(max(f, 0.5 / b), 1.0 - 0.5 / b)
    nd = NormalDist()
    z0, z = nd.inv_cdf(f), nd.inv_cdf((1 + ci) / 2)
    lo, hi = np.quantile(r, [nd.cdf(2 * z0 - z), nd.cdf(2 * z0 + z)])
    return float(lo), float(hi)


def ci_interval(
    replicates: np.ndarray,
    point: float,
    ci: float = 0.95,
    method: str = DEFAULT_CI_METHOD,
    bounds: tuple[float, float] = _UNBOUNDED,
) -> tuple[float, float]:
    """The interval of ``method`` (:data:`CI_METHODS`) at level ``ci`` from the bootstrap
    ``replicates`` of a statistic whose estimate is ``point`` and whose values lie in ``bounds``:
    :func:`recentred_ci`, :func:`percentile_ci` (which ignores ``point``) or :func:`bc_ci`
    (whose ends are replicates, so neither needs ``bounds``)."""
    check_ci_method(method)
    if method == "percentile":
        return percentile_ci(replicates, ci)
    if method == "bc":
        return bc_ci(replicates, point, ci)
    return recentred_ci(replicates, point, ci, bounds)


def bootstrap(
    data: EvalData,
    B: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    method: str = DEFAULT_CI_METHOD,
    **options: Unpack[Options],
) -> dict[str, CI]:
    """Bootstrap CI of every metric of one prediction set.

    The point estimate is the metric on the full data (as
    :func:`sertools.evaluation.metricset.compute_all`); the interval (of
    ``method``, :func:`ci_interval`) comes from the metric recomputed on each
    of ``B`` resamples of utterance indices (with replacement, size N, ``seed``).
    """
    if not isinstance(data, EvalData):
        raise TypeError("bootstrap takes one EvalData; use bootstrap_multiseed for several seeds")
    check_ci(ci)
    check_ci_method(method)
    points, per_set = replicates_per_set([data], B, seed, **options)
    return {
        k: CI(v, *ci_interval(per_set[0][k], v, ci, method, metric_range(k))) for k, v in points[0].items()
    }


def bootstrap_multiseed(
    datas: Sequence[EvalData],
    B: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    method: str = DEFAULT_CI_METHOD,
    **options: Unpack[Options],
) -> dict[str, SeedCI]:
    """CI of the seed-averaged metric over several training seeds of the same utterances.

    All seeds share the resample indices; inside each resample the metric is
    computed per seed and then averaged. The interval (of ``method``) is that
    of these seed-mean replicates around the seed mean of the point
    estimates. Also reports the SD across seeds of the per-seed point estimates.
    """
    check_ci(ci)
    check_ci_method(method)
    points, per_set = replicates_per_set(as_sets(datas), B, seed, **options)
    reps = seed_mean(per_set)
    out: dict[str, SeedCI] = {}
    for k in points[0]:
        vals = np.array([p[k] for p in points])
        sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan")
        point = float(vals.mean())
        out[k] = SeedCI(point, *ci_interval(reps[k], point, ci, method, metric_range(k)), sd, len(vals))
    return out


def as_sets(x: EvalData | Sequence[EvalData]) -> list[EvalData]:
    """One prediction set or several, as a list."""
    return [x] if isinstance(x, EvalData) else list(x)


def summary_table(results: Mapping[str, NamedTuple]) -> dict[str, dict[str, float]]:
    """``{metric: CI/SeedCI/PairedCI}`` -> ``{metric: {field: value}}`` (JSON friendly)."""
    return {k: dict(v._asdict()) for k, v in results.items()}

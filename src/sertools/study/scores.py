"""The study's scores and comparisons, with seeds resampled as well as utterances.

For one setting and split, every row (the variants, each with its training
seeds, and the reference rows) is scored on the same utterances against three
targets:

* ``true``: the latent truth p_true, the perception the simulation starts from
  (``latent_truth.parquet``);
* ``raters``: the raters' mixture q_bar, what an unlimited panel of the
  setting's raters would vote (``rater_mixture.parquet``,
  :func:`sertools.corpus.synthetic.labels.rater_mixture`);
* ``primary``: the primary votes themselves;

plus macro-F1 against the hard labels of the evaluation's common scheme (X
excluded), the mean normalised entropy of the predictions (``entropy_pred``)
and their mean Other probability (``other_mass``); and, for the Other-class
analysis, per stratum of the primary votes' entropy (``evaluation.entropy_bins``,
and ``all``), the share of utterances whose argmax is Other and the humans'
Other vote share (a ratio of two sums over the same resamples). The classes are
those of the rows' :class:`EvalData` (their label table's class set): without an
Other class (CREMA-D's six) ``other_mass`` and the Other-class analysis are
absent from the document, not zero (:func:`metrics`).

**Resampling.** Each of B resamples draws the utterances with replacement
(the same draw for every row, so comparisons are paired) and, per row, its
training seeds with replacement (:func:`sertools.evaluation.bootstrap.seed_resampled_mean`):
a replicate is the mean over the drawn seeds of their metric on the drawn
utterances. The interval of a score therefore carries the seed-to-seed
variance as well as the utterances'. A comparison (row minus baseline) draws
the two rows' seeds independently: their seeds are separate training runs.
Its two-sided p-value is :func:`sertools.evaluation.significance.bootstrap_p`
of the replicate differences; ``p_value_utterances`` is the same with the
seeds held fixed (every seed in every resample, the workflow's significance
test), for comparison. Each comparison also records the difference of every
(row seed, baseline seed) pair, so a reader sees whether its sign depends on
which seeds were trained.

Every metric is a function of column sums over utterances, so all resamples
come from one product of the resample counts with a per-utterance matrix
(:func:`sertools.evaluation.bootstrap.resampled_sums`), as in the workflow's
bootstrap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sertools.classes import MSP_PODCAST, ClassSet
from sertools.evaluation.bootstrap import (
    ci_interval,
    metric_range,
    percentile_ci,
    resampled_sums,
    seed_resample_indices,
    seed_resampled_mean,
)
from sertools.evaluation.evaldata import EvalData
from sertools.evaluation.metrics_doc import number
from sertools.evaluation.significance import bootstrap_p
from sertools.evaluation.strata import entropy_of, entropy_strata, stratum_names
from sertools.measures import jsd, kld, normalised_entropy

__all__ = ["COMPARED", "METRICS", "SCHEMA", "TARGETS", "metrics", "score_rows"]

SCHEMA = "sertools.study.scores/1"
#: divergence targets, in table order
TARGETS: tuple[str, ...] = ("true", "raters", "primary")
_DIVERGENCES: tuple[str, ...] = tuple(f"{m}_{t}" for t in TARGETS for m in ("jsd", "kld"))
#: the metrics compared with the baseline
COMPARED: tuple[str, ...] = (*_DIVERGENCES, "macro_f1")
ALL = "all"


def _means(classes: ClassSet) -> tuple[str, ...]:
    """The per-utterance means of a row: ``other_mass`` only for a class set with Other."""
    return (*_DIVERGENCES, "entropy_pred", *(("other_mass",) if classes.other is not None else ()))


def metrics(classes: ClassSet) -> tuple[str, ...]:
    """Every metric of a row for ``classes``."""
    return (*_means(classes), "macro_f1")


#: every metric of a row (a class set with Other: MSP-Podcast's)
METRICS: tuple[str, ...] = metrics(MSP_PODCAST)


@dataclass(frozen=True)
class _Columns:
    """Where each per-utterance statistic sits in the feature matrix of one (row, seed)."""

    classes: ClassSet
    n_strata: int

    @property
    def means(self) -> tuple[str, ...]:
        return _means(self.classes)

    @property
    def base(self) -> int:
        """The first column after the means and the 3 x K macro-F1 counts: the strata blocks."""
        return len(self.means) + 3 * self.classes.k

    @property
    def width(self) -> int:
        strata = 3 * (self.n_strata + 1) if self.classes.other is not None else 0
        return self.base + strata


def _features(d: EvalData, p_raters: np.ndarray, prob_floor: float, edges: Sequence[float]) -> np.ndarray:
    """(N, width): the per-utterance means, per-class TP, true and predicted indicators, then (with an
    Other class) per stratum (``all`` first) its indicator, argmax-Other indicator and human Other share."""
    masks = [np.ones(d.n, dtype=bool), *entropy_strata(entropy_of(d), edges)]
    cols_of = _Columns(d.classes, len(masks) - 1)
    k, other = d.classes.k, d.classes.other
    f = np.zeros((d.n, cols_of.width))
    if d.p_true is None:
        raise ValueError("the study's scores need the latent truth (p_true)")
    targets = {"true": d.p_true, "raters": p_raters, "primary": d.p_primary}
    cols = []
    for t in TARGETS:
        cols += [jsd(targets[t], d.probs), kld(targets[t], d.probs, prob_floor)]
    cols += [normalised_entropy(d.probs)]
    if other is not None:
        cols += [d.probs[:, other]]
    base = len(cols_of.means)
    f[:, :base] = np.column_stack(cols)
    rows = np.flatnonzero(d.hard >= 0)
    h, p = d.hard[rows], d.pred[rows]
    f[rows, base + h] = (h == p).astype(np.float64)
    f[rows, base + k + h] = 1.0
    f[rows, base + 2 * k + p] = 1.0
    if other is None:
        return f
    pred_other = (d.pred == other).astype(np.float64)
    for j, mask in enumerate(masks):
        c = cols_of.base + 3 * j
        f[:, c] = mask
        f[:, c + 1] = mask * pred_other
        f[:, c + 2] = mask * d.p_primary[:, other]
    return f


def _shares(sums: np.ndarray, cols_of: _Columns) -> dict[str, np.ndarray]:
    """Per stratum (index, ``all`` = 0): argmax-Other share, human Other share, size (none without Other)."""
    out: dict[str, np.ndarray] = {}
    if cols_of.classes.other is None:
        return out
    for j in range(cols_of.n_strata + 1):
        c = cols_of.base + 3 * j
        size = sums[:, c]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"model_{j}"] = np.where(size > 0, sums[:, c + 1] / np.where(size > 0, size, 1.0), np.nan)
            out[f"human_{j}"] = np.where(size > 0, sums[:, c + 2] / np.where(size > 0, size, 1.0), np.nan)
        out[f"size_{j}"] = size
    return out


def _metrics(sums: np.ndarray, n: int, cols_of: _Columns) -> dict[str, np.ndarray]:
    """Every metric from (R, width) column sums of resamples of ``n`` utterances."""
    means = cols_of.means
    out = {m: sums[:, i] / n for i, m in enumerate(means)}
    base, k = len(means), cols_of.classes.k
    tp, n_true, n_pred = (sums[:, base + j * k : base + (j + 1) * k] for j in range(3))
    denom = n_true + n_pred
    f1 = np.where(denom > 0, 2.0 * tp / np.where(denom > 0, denom, 1.0), 0.0)
    out["macro_f1"] = np.where(n_true.sum(axis=1) > 0, f1.mean(axis=1), np.nan)
    return out


def _check_rows(rows: Mapping[str, Sequence[EvalData]], p_raters: np.ndarray) -> np.ndarray:
    """``p_raters`` as float64 after checking every row is on the first row's utterances and classes."""
    names = list(rows)
    first = rows[names[0]][0]
    for name in names:
        for d in rows[name]:
            if not d.same_utterances(first):
                raise ValueError(f"row {name!r} is not scored on the same utterances as {names[0]!r}")
            if d.classes != first.classes:
                raise ValueError(
                    f"row {name!r} has the classes of {d.classes.name}, {names[0]!r} those of {first.classes.name}"
                )
    p_raters = np.asarray(p_raters, dtype=np.float64)
    k = first.classes.k
    if p_raters.shape != (first.n, k):
        raise ValueError(f"p_raters must have shape ({first.n}, {k}), got {p_raters.shape}")
    return p_raters


@dataclass
class _PerSeed:
    """Per row, one entry per training seed: the point metrics and Other shares, and their resamples."""

    points: dict[str, list[dict[str, float]]]
    reps: dict[str, list[dict[str, np.ndarray]]]
    share_points: dict[str, list[dict[str, float]]]
    share_reps: dict[str, list[dict[str, np.ndarray]]]


def _per_seed(
    rows: Mapping[str, Sequence[EvalData]],
    p_raters: np.ndarray,
    s: Mapping[str, Any],
    n_resamples: int,
    edges: list[float],
) -> _PerSeed:
    """Every (row, seed)'s features resampled together (the same utterance draws for all)."""
    names = list(rows)
    first = rows[names[0]][0]
    n = first.n
    cols_of = _Columns(first.classes, len(stratum_names(edges)))
    width = cols_of.width
    sets = [(name, i) for name in names for i in range(len(rows[name]))]
    feats = np.concatenate([_features(rows[m][i], p_raters, s["prob_floor"], edges) for m, i in sets], axis=1)
    sums = resampled_sums(feats, n_resamples, s["bootstrap_seed"])
    full = feats.sum(axis=0, keepdims=True)
    out = _PerSeed(
        points={m: [] for m in names},
        reps={m: [] for m in names},
        share_points={m: [] for m in names},
        share_reps={m: [] for m in names},
    )
    for j, (name, _) in enumerate(sets):
        cols = slice(j * width, (j + 1) * width)
        out.points[name].append({k: float(v[0]) for k, v in _metrics(full[:, cols], n, cols_of).items()})
        out.reps[name].append(_metrics(sums[:, cols], n, cols_of))
        out.share_points[name].append({k: float(v[0]) for k, v in _shares(full[:, cols], cols_of).items()})
        out.share_reps[name].append(_shares(sums[:, cols], cols_of))
    return out


def _metric_block(
    per: _PerSeed, name: str, idx: np.ndarray, ci: float, method: str
) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A row's metrics (seed-resampled and seed-fixed intervals) and the two kinds of replicates."""
    n_seeds = len(per.points[name])
    seed_mean, fixed, block = {}, {}, {}
    for m in per.points[name][0]:
        per_seed = np.stack([rep[m] for rep in per.reps[name]])
        seed_mean[m] = seed_resampled_mean(per_seed, idx)
        fixed[m] = per_seed.mean(axis=0)
        vals = np.array([p[m] for p in per.points[name]])
        point = float(vals.mean())
        lo, hi = ci_interval(seed_mean[m], point, ci, method, metric_range(m))
        lo_u, hi_u = ci_interval(fixed[m], point, ci, method, metric_range(m))
        block[m] = {
            "mean": number(point),
            "ci_low": number(lo),
            "ci_high": number(hi),
            "ci_low_utterances": number(lo_u),
            "ci_high_utterances": number(hi_u),
            "seed_sd": number(float(np.std(vals, ddof=1))) if n_seeds > 1 else None,
            "per_seed": [number(float(v)) for v in vals],
        }
    return block, seed_mean, fixed


def _other_block(
    per: _PerSeed, name: str, strata: list[str], idx: np.ndarray, ci: float, method: str
) -> dict[str, Any]:
    """Per stratum, the model's argmax-Other share and the humans' Other share with intervals."""
    other: dict[str, Any] = {}
    for j, stratum in enumerate(strata):
        entry: dict[str, Any] = {"n_utterances": int(per.share_points[name][0][f"size_{j}"])}
        for who in ("model", "human"):
            vals = np.array([p[f"{who}_{j}"] for p in per.share_points[name]])
            point = float(vals.mean())
            per_seed = np.stack([rep[f"{who}_{j}"] for rep in per.share_reps[name]])
            lo, hi = ci_interval(seed_resampled_mean(per_seed, idx), point, ci, method, (0.0, 1.0))
            entry[who] = {"mean": number(point), "ci_low": number(lo), "ci_high": number(hi)}
        other[stratum] = entry
    return other


def _comparison(
    per: _PerSeed,
    name: str,
    baseline: str,
    seed_mean: Mapping[str, Mapping[str, np.ndarray]],
    fixed: Mapping[str, Mapping[str, np.ndarray]],
    ci: float,
) -> dict[str, Any]:
    """``name`` minus ``baseline`` for each compared metric: the paired difference, its percentile
    interval, p with seeds resampled and held fixed, and the range over seed pairs."""
    block = {}
    for m in COMPARED:
        d = seed_mean[name][m] - seed_mean[baseline][m]
        d_fixed = fixed[name][m] - fixed[baseline][m]
        v = np.array([p[m] for p in per.points[name]])
        b = np.array([p[m] for p in per.points[baseline]])
        pairs = (v[:, None] - b[None, :]).ravel()
        lo, hi = percentile_ci(d, ci)
        block[m] = {
            "diff": number(float(v.mean() - b.mean())),
            "ci_low": number(lo),
            "ci_high": number(hi),
            "p_value": number(bootstrap_p(d)),
            "p_value_utterances": number(bootstrap_p(d_fixed)),
            "seed_pairs_min": number(float(pairs.min())),
            "seed_pairs_max": number(float(pairs.max())),
        }
    return block


def score_rows(
    rows: Mapping[str, Sequence[EvalData]],
    p_raters: np.ndarray,
    baseline: str,
    compared: Sequence[str],
    s: Mapping[str, Any],
    n_resamples: int,
) -> dict[str, Any]:
    """The scores document of one split: every row's metrics and each compared row minus ``baseline``.

    ``rows``: name -> one :class:`EvalData` per training seed, all on the same
    utterances (with p_true); ``p_raters`` (N, K): the raters' mixture of those
    utterances in the same order; ``s``: resolved evaluation settings
    (:func:`sertools.evaluation.settings.resolve`: seed, level, interval
    method, probability floor); ``n_resamples``: B. Without an Other class in the rows' class
    set, a row's block has no ``other_class`` and its metrics no ``other_mass``.
    """
    p_raters = _check_rows(rows, p_raters)
    classes = rows[next(iter(rows))][0].classes
    has_other = classes.other is not None
    edges = [float(e) for e in s["entropy_bins"]]
    strata = [ALL, *stratum_names(edges)]
    per = _per_seed(rows, p_raters, s, n_resamples, edges)
    ci, method = float(s["ci_level"]), str(s["ci_method"])
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "n_utterances": rows[next(iter(rows))][0].n,
        "resamples": n_resamples,
        "resampling": "utterances and training seeds",
        "rows": {},
        "comparisons": {},
    }
    seed_mean: dict[str, dict[str, np.ndarray]] = {}
    fixed: dict[str, dict[str, np.ndarray]] = {}
    for r_i, name in enumerate(rows):
        # one seed draw per row (so that its CI and its comparisons use the same draws)
        rng = np.random.default_rng([int(s["bootstrap_seed"]), 1, r_i])
        idx = seed_resample_indices(len(rows[name]), n_resamples, rng)
        block, seed_mean[name], fixed[name] = _metric_block(per, name, idx, ci, method)
        doc["rows"][name] = {"n_seeds": len(rows[name]), "metrics": block}
        if has_other:
            doc["rows"][name]["other_class"] = _other_block(per, name, strata, idx, ci, method)
    for name in compared:
        if name != baseline:
            doc["comparisons"][name] = _comparison(per, name, baseline, seed_mean, fixed, ci)
    return doc

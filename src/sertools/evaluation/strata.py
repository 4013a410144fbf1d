"""Entropy strata: utterances grouped by how much their annotators disagreed.

The stratifying value is the normalised entropy (ln / ln 9, in [0, 1]) of a
distribution: by default the primary votes (``entropy_primary`` of the label
table; recomputed from ``p_primary`` when the column is absent), or the one
``evaluation.strata_distribution`` names, or a variant's own target
distribution (:mod:`sertools.evaluation.schemes`). Bins are ``[e0, e1), [e1,
e2), ..., [e_{m-1}, e_m]`` with the last one closed (``docs/metrics.md``,
"Entropy strata"). Each stratum is bootstrapped within itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack

import numpy as np

from sertools.evaluation.bootstrap import MetricOptions, SeedCI, as_sets, bootstrap_multiseed
from sertools.evaluation.evaldata import EvalData
from sertools.measures import normalised_entropy

__all__ = [
    "DEFAULT_ENTROPY_EDGES",
    "bootstrap_strata",
    "entropy_of",
    "entropy_strata",
    "split_strata",
    "stratum_names",
]

DEFAULT_ENTROPY_EDGES: tuple[float, ...] = (0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0)


def _check_edges(edges: Sequence[float]) -> np.ndarray:
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or len(e) < 2 or np.any(np.diff(e) <= 0):
        raise ValueError(f"edges must be at least 2 strictly increasing numbers, got {list(edges)}")
    return e


def entropy_strata(
    entropy: np.ndarray, edges: Sequence[float] = DEFAULT_ENTROPY_EDGES, atol: float = 1e-9
) -> list[np.ndarray]:
    """Boolean masks of the entropy strata ``[e0, e1), [e1, e2), ..., [e_{m-1}, e_m]``.

    The last bin is closed. A value within ``atol`` below an edge counts as
    on the edge (float noise in entropies computed elsewhere), so ``1/3``
    goes to the second default bin. Values outside ``[e0, e_m]`` by more
    than ``atol``, or NaN, raise.
    """
    e = _check_edges(edges)
    h = np.asarray(entropy, dtype=np.float64)
    if h.ndim != 1:
        raise ValueError(f"entropy must be 1-D, got shape {h.shape}")
    if np.any(np.isnan(h)) or np.any(h < e[0] - atol) or np.any(h > e[-1] + atol):
        raise ValueError(f"entropy values must lie in [{e[0]}, {e[-1]}] (no NaN)")
    bins = np.clip(np.searchsorted(e, h + atol, side="right") - 1, 0, len(e) - 2)
    return [bins == i for i in range(len(e) - 1)]


def stratum_names(edges: Sequence[float] = DEFAULT_ENTROPY_EDGES) -> list[str]:
    """Readable names of the strata, e.g. ``[0.333, 0.667)`` and a closed last bin."""
    e = _check_edges(edges)
    names = [f"[{e[i]:.3f}, {e[i + 1]:.3f})" for i in range(len(e) - 2)]
    return [*names, f"[{e[-2]:.3f}, {e[-1]:.3f}]"]


def entropy_of(d: EvalData) -> np.ndarray:
    """The stratifying entropy of ``d``: its ``entropy`` when complete, else the primary votes' (from ``p_primary``)."""
    if d.entropy is not None and np.all(np.isfinite(d.entropy)):
        return d.entropy
    return normalised_entropy(d.p_primary)


def split_strata(d: EvalData, edges: Sequence[float]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The entropy of each utterance of ``d`` and the stratum masks (empty arrays when ``d`` is empty)."""
    if not d.n:
        return np.zeros(0), [np.zeros(0, bool)] * len(stratum_names(edges))
    h = entropy_of(d)
    return h, entropy_strata(h, edges)


def bootstrap_strata(
    data: EvalData | Sequence[EvalData],
    edges: Sequence[float] = DEFAULT_ENTROPY_EDGES,
    B: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    *,
    entropy: np.ndarray | None = None,
    **options: Unpack[MetricOptions],
) -> dict[str, dict[str, SeedCI]]:
    """Per entropy stratum, the (seed-averaged) bootstrap CI of every metric.

    Each stratum is resampled inside itself (size = stratum size). The
    entropy defaults to ``data.entropy`` (normalised primary-vote entropy).
    Empty strata map to an empty dict; ``n_all`` gives each stratum's size.
    """
    sets = as_sets(data)
    h = entropy if entropy is not None else sets[0].entropy
    if h is None:
        raise ValueError("no entropy given and the data has none (entropy_primary column)")
    result: dict[str, dict[str, SeedCI]] = {}
    for name, mask in zip(stratum_names(edges), entropy_strata(h, edges), strict=True):
        if not mask.any():
            result[name] = {}
            continue
        subsets = [d.subset(mask) for d in sets]
        result[name] = bootstrap_multiseed(subsets, B, seed, ci, **options)
    return result

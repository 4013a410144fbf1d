"""Random streams and vectorised samplers of the synthetic corpus.

Every part of the generator draws from its own stream, seeded by
``(seed, stream, ...)``: changing how one part draws never shifts another, and
each wav has a stream of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sertools.classes import K

STREAM_LAYOUT, STREAM_LATENT, STREAM_RATERS, STREAM_ANNOT, STREAM_CUES, STREAM_AUDIO = range(6)


def rng(seed: int, stream: int, *more: int) -> np.random.Generator:
    """The generator of ``stream`` (and sub-stream ``more``, e.g. an utterance) for ``seed``."""
    return np.random.default_rng([seed, stream, *more])


def normalise(w: np.ndarray) -> np.ndarray:
    return w / w.sum()


def sample_rows(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF categorical draw per row of ``probs`` with uniforms ``u``.

    ``u`` may have extra trailing draws per row: shape (n,) or (n, m).
    """
    cum = np.cumsum(probs, axis=-1)
    cum /= cum[..., -1:]
    cum_b = cum if u.ndim == 1 else cum[:, None, :]
    idx = (u[..., None] >= cum_b).sum(axis=-1)
    return np.minimum(idx, probs.shape[-1] - 1)


def sample_by_table(table: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw column j ~ table[rows[i]] for each i without materialising table[rows].

    Works by one searchsorted over the concatenated, offset CDFs of all rows.
    """
    n_rows, n_cols = table.shape
    cum = np.cumsum(table, axis=1)
    cum /= cum[:, -1:]
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    pos = np.searchsorted(flat, rows + u, side="right")
    return np.minimum(pos - rows * n_cols, n_cols - 1)


def dirichlet_rows(alpha: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """One Dirichlet draw per row of ``alpha`` (a row of zero draws stays zero)."""
    g = gen.standard_gamma(alpha)
    s = g.sum(axis=1, keepdims=True)
    return g / np.where(s > 0, s, 1.0)


# ---- read-only tables indexed by class (rows in sertools.classes.CLASSES order)


def frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def class_rows(rows: Mapping[int, tuple[float, ...]]) -> np.ndarray:
    """K x m table from one tuple per class index."""
    return frozen(np.array([rows[i] for i in range(K)], dtype=float))


def class_vector(weights: Mapping[int, float]) -> np.ndarray:
    """Probability vector over the K classes from unnormalised weights."""
    v = np.zeros(K)
    for i, w in weights.items():
        v[i] = w
    return frozen(v / v.sum())


def stochastic_rows(rows: Mapping[int, Mapping[int, float]]) -> np.ndarray:
    """K x K row-stochastic matrix from unnormalised weights per class."""
    m = np.zeros((K, K))
    for i, row in rows.items():
        for j, w in row.items():
            m[i, j] = w
    return frozen(m / m.sum(axis=1, keepdims=True))


def word_rows(rows: Mapping[int, Mapping[str, float]], words: Sequence[str]) -> np.ndarray:
    """K x len(words) row-stochastic matrix of word probabilities per class."""
    m = np.zeros((K, len(words)))
    for i, row in rows.items():
        for word, w in row.items():
            m[i, words.index(word)] = w
    return frozen(m / m.sum(axis=1, keepdims=True))

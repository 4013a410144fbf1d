"""Label tables, latent truth and prediction dumps written to disk for the stage tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from sertools import config as config_mod
from sertools.classes import CLASSES, CODES, NO_AGREEMENT, OTHER, K
from sertools.evaluation import predictions
from sertools.labels import release
from sertools.measures import normalised_entropy

N = 60
SPLITS = ("Test1", "Test2")
VARIANTS = ("perfect", "uniform", "noisy", "other_router")
SEEDS = (0, 1)
#: the evaluation section as the stages receive it: the schema's defaults, then this test's values
EVAL_CFG = {
    **config_mod.resolve({})["evaluation"],
    "splits": list(SPLITS),
    "baseline_variant": "uniform",
    "bootstrap_resamples": 50,
    "bootstrap_seed": 3,
    "ci_level": 0.95,
    "entropy_bins": [0.0, 1 / 3, 2 / 3, 1.0],
    "prob_floor": 1e-12,
    "ece_bins": 10,
}
#: the distributions of the label table with a guarded-argmax hard-label column
GUARDED_DISTRIBUTIONS = ("primary", "merged", "release_primary", "release_MH", "release_ML")
NEUTRAL = CLASSES.index("Neutral")


def release_columns(votes: np.ndarray, consensus: list[str], merged: np.ndarray, seed: int) -> dict:
    """The label-table columns of the paper release's rules (as the label stage names them)."""
    rng = np.random.default_rng(seed)
    p = votes / votes.sum(axis=1, keepdims=True)
    secondary = rng.dirichlet(np.ones(K), len(p))
    secondary[::4] = 0.0  # nobody gave a secondary label: an all-zero row
    dists = {
        "primary": p,
        "merged": merged,
        "release_primary": p,
        "release_MH": release.merge(p, secondary, 0.9, 0.1),
        "release_ML": release.merge(p, secondary, 0.8, 0.2),
    }
    out: dict = {
        "p_release_primary": list(p),
        "p_release_secondary": list(secondary),
        "p_release_MH": list(dists["release_MH"]),
        "p_release_ML": list(dists["release_ML"]),
        "hard_consensus_x_other": release.consensus_x_other(consensus),
    }
    for name in GUARDED_DISTRIBUTIONS:
        out[f"hard_guarded_{name}"] = release.guarded_argmax(dists[name], votes[:, NEUTRAL])
    return out


def _votes(rng: np.random.Generator, n: int) -> np.ndarray:
    """6 votes per utterance: a third unanimous, a third two-way, a third spread (all strata filled)."""
    votes = np.zeros((n, K), dtype=np.int64)
    for i in range(n):
        kind = i % 3
        if kind == 0:
            votes[i, rng.integers(K)] = 6
        elif kind == 1:
            a, b = rng.choice(K, 2, replace=False)
            votes[i, a], votes[i, b] = 4, 2
        else:
            votes[i] = rng.multinomial(6, np.full(K, 1 / K))
    return votes


def make_labels(root: Path, seed: int = 0) -> tuple[Path, Path, pd.DataFrame]:
    """A label table of :data:`SPLITS` (N utterances each) and a latent truth, as parquet files."""
    rng = np.random.default_rng(seed)
    frames = []
    for split in SPLITS:
        votes = _votes(rng, N)
        p = votes / votes.sum(axis=1, keepdims=True)
        top = votes.max(axis=1)
        unique = (votes == top[:, None]).sum(axis=1) == 1
        hard = pd.array(np.where(unique, votes.argmax(axis=1), -1), dtype="Int64")
        hard[~unique] = pd.NA
        merged = 0.8 * p + 0.2 / K
        consensus = [CODES[h] if u else NO_AGREEMENT for h, u in zip(votes.argmax(1), unique, strict=True)]
        frames.append(
            pd.DataFrame(
                {
                    "file_id": [f"{split}_{i:03d}.wav" for i in range(N)],
                    "split": split,
                    "consensus": consensus,
                    "hard_label": hard,
                    "entropy_primary": normalised_entropy(p),
                    "arousal": rng.uniform(1, 7, N),
                    "valence": rng.uniform(1, 7, N),
                    "dominance": rng.uniform(1, 7, N),
                    "p_primary": list(p),
                    "p_merged": list(merged),
                    **release_columns(votes, consensus, merged, seed + 7 + SPLITS.index(split)),
                }
            )
        )
    labels = pd.concat(frames, ignore_index=True)
    lab_path = root / "labels.parquet"
    labels.to_parquet(lab_path, index=False)
    p_all = np.stack(labels["p_primary"].to_numpy())
    truth = pd.DataFrame({"file_id": labels["file_id"], "p_true": list(0.9 * p_all + 0.1 / K)})
    truth_path = root / "latent_truth.parquet"
    truth.to_parquet(truth_path, index=False)
    return lab_path, truth_path, labels


def dump_table(labels: pd.DataFrame, split: str, probs: np.ndarray, dims_noise: float, seed: int) -> pa.Table:
    """The prediction table of ``split``: ``probs`` and the true dimensions plus noise."""
    lab = labels[labels["split"] == split]
    rng = np.random.default_rng(seed)
    dims = lab[["arousal", "valence", "dominance"]].to_numpy() + rng.normal(0, dims_noise, (len(lab), 3))
    return pa.table(
        {
            "file_id": lab["file_id"].tolist(),
            "split": [split] * len(lab),
            "probs": pa.array(list(probs.astype(np.float32)), pa.list_(pa.float32())),
            "pred": probs.argmax(axis=1).astype(np.int64),
            "arousal": dims[:, 0].astype(np.float32),
            "valence": dims[:, 1].astype(np.float32),
            "dominance": dims[:, 2].astype(np.float32),
        },
        schema=predictions.SCHEMA,
    )


def write_dump(
    path: Path, labels: pd.DataFrame, split: str, probs: np.ndarray, dims_noise: float, seed: int
) -> None:
    predictions.write(path, dump_table(labels, split, probs, dims_noise, seed))


def variant_probs(name: str, p: np.ndarray, entropy: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(p)
    if name == "perfect":
        return p
    if name == "uniform":
        return np.full((n, K), 1 / K)
    if name == "noisy":
        q = 0.6 * p + 0.4 * rng.dirichlet(np.ones(K), n)
        return q / q.sum(axis=1, keepdims=True)
    if name == "other_router":  # argmax Other exactly on the high-entropy stratum
        q = np.full((n, K), 0.02)
        q[np.arange(n), np.where(entropy >= 2 / 3, OTHER, 0)] = 1 - 0.02 * (K - 1)
        return q
    raise ValueError(name)


def make_corpus(root: Path) -> dict:
    """Labels, latent truth and two seeds of dumps of every variant in :data:`VARIANTS`."""
    lab_path, truth_path, labels = make_labels(root)
    paths: dict[str, dict[str, list[Path]]] = {}
    for v in VARIANTS:
        paths[v] = {}
        for split in SPLITS:
            lab = labels[labels["split"] == split].sort_values("file_id")
            p = np.stack(lab["p_primary"].to_numpy())
            paths[v][split] = []
            for seed in SEEDS:
                out = root / v / f"seed{seed}" / f"{split}.parquet"
                probs = variant_probs(
                    v, p, lab["entropy_primary"].to_numpy(), seed + 10 * SPLITS.index(split)
                )
                write_dump(out, labels, split, probs, 0.5, seed)
                paths[v][split].append(out)
    return {"root": root, "labels": lab_path, "truth": truth_path, "frame": labels, "paths": paths}


def summary() -> dict:
    """A minimal label summary (enough for the tables and figures)."""
    counts = {c: 1 for c in [*CODES, NO_AGREEMENT]}
    return {
        "class_distribution": {s: {"utterances": N, "consensus": counts} for s in SPLITS},
        "entropy_histogram": {
            "edges": [0.0, 0.5, 1.0],
            **{s: {"primary": [30, 30], "merged": [20, 40]} for s in SPLITS},
        },
        "reliability": {
            "fleiss_kappa_primary": {"Test1": 0.2},
            "krippendorff_alpha_interval": {"arousal": 0.4},
        },
    }

"""Hand-built metrics documents, label summary and training logs for the figure tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sertools.classes import K

STRATA = ["[0.000, 0.333)", "[0.333, 0.667)", "[0.667, 1.000]"]


def ci(mean: float | None, n: int = 20) -> dict:
    if mean is None:
        return {"mean": None, "sd_seeds": None, "ci_low": None, "ci_high": None, "per_seed": [None], "n": n}
    return {
        "mean": mean,
        "sd_seeds": 0.01,
        "ci_low": mean - 0.03,
        "ci_high": mean + 0.04,
        "per_seed": [mean],
        "n": n,
    }


def fake_split(rng: np.random.Generator, shift: float) -> dict:
    cm = rng.integers(0, 20, (K, K))
    cm[4] = 0  # a class without consensus utterances
    count = [0, 0, 3, 8, 12, 20, 15, 9, 5, 2]
    acc = [None if c == 0 else float(x) for c, x in zip(count, np.linspace(0.1, 1.0, 10), strict=True)]
    conf = [None if c == 0 else float(x) for c, x in zip(count, np.linspace(0.05, 0.95, 10), strict=True)]
    p = rng.dirichlet(np.ones(K), 3)
    q = rng.dirichlet(np.ones(K), 3)
    other = {
        k: {
            "n_utterances": 20,
            "other_pred_share": ci(0.1 + shift),
            "other_mass": ci(0.15),
            "human_other_share": ci(0.07),
        }
        for k in ["all", *STRATA]
    }
    return {
        "n_seeds": 2,
        "metrics": {"ece": ci(0.12), "jsd_primary": ci(0.3 + shift)},
        "strata": {
            s: {
                "n_utterances": {"all": 20, "hard": 15},
                "metrics": {
                    "jsd_primary": ci(0.2 + i * 0.05 + shift),
                    "kld_primary": ci(0.5 + i * 0.1 + shift),
                    "macro_f1": ci(None if i == 2 else 0.4 - i * 0.1, 15),
                },
            }
            for i, s in enumerate(STRATA)
        },
        "other_class": other,
        "confusion_matrix": {"summed": cm.tolist(), "per_seed": [cm.tolist()]},
        "reliability_diagram": {
            "edges": np.linspace(0, 1, 11).tolist(),
            "count": count,
            "mean_confidence": conf,
            "accuracy": acc,
        },
        "examples": [
            {
                "file_id": f"utt_{i}.wav",
                "stratum": s,
                "entropy_primary": 0.1 + 0.3 * i,
                "consensus": "X" if i == 2 else "N",
                "p_primary": p[i].tolist(),
                "p_true": p[i].tolist(),
                "probs": q[i].tolist(),
            }
            for i, s in enumerate(STRATA)
        ],
    }


def fake_metrics(variant: str, shift: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "variant": variant,
        "strata": STRATA,
        "splits": {s: fake_split(rng, shift) for s in ("Test1", "Test2")},
    }


METRICS = {"hard_ce": fake_metrics("hard_ce", 0.1, 0), "dist_kl": fake_metrics("dist_kl", -0.1, 1)}
SUMMARY = {
    "entropy_histogram": {
        "edges": np.linspace(0, 1, 11).tolist(),
        "Train": {
            "primary": [5, 1, 20, 15, 40, 8, 20, 6, 0, 0],
            "merged": [0, 1, 5, 8, 30, 40, 30, 20, 2, 0],
        },
        "Test1": {"primary": [2, 0, 5, 4, 12, 2, 6, 1, 0, 0], "merged": [0, 0, 2, 3, 8, 9, 7, 3, 0, 0]},
        "all": {
            "primary": [7, 1, 25, 19, 52, 10, 26, 7, 0, 0],
            "merged": [0, 1, 7, 11, 38, 49, 37, 23, 2, 0],
        },
    }
}


def log_frame(seed: int, columns: list[str] | None = None) -> pd.DataFrame:
    e = np.arange(1, 7)
    df = pd.DataFrame(
        {
            "epoch": e,
            "train_loss": 2 * np.exp(-e / 3) + seed * 0.05,
            "val_loss": 2.2 * np.exp(-e / 4),
            "val_macro_f1": 0.3 * (1 - np.exp(-e / 3)),
            "val_jsd": 0.4 * np.exp(-e / 5),
            "lr_backbone": 1e-5 * 0.9 ** (e // 2),
            "lr_heads": 1e-4 * 0.9 ** (e // 2),
        }
    )
    return df[columns] if columns else df

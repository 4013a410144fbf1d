"""The study's hypothesis families (sertools.study.families) and the B they need."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from sertools import config as config_mod
from sertools.evaluation.significance import holm
from sertools.study import families, grid

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = {
    "hard_ce": {"targets": "consensus"},
    "hard_cbce": {"targets": "consensus"},
    "p_kld": {"targets": "release_primary"},
    "mh_kld": {"targets": "release_MH"},
}


def _setting(name: str, axis: str, u: float = 0.0, perception: str = "raters") -> dict:
    return {"setting": name, "axis": axis, "other_when_unsure": u, "perception": perception}


def test_family_composition():
    settings = [
        *(_setting(f"r{i}_u0", "reliability") for i in range(3)),
        *(_setting(f"r{i}_u0.5", "reliability", 0.5) for i in range(3)),
        *(_setting(f"r3_n{n}", "annotators") for n in (3, 10)),
        *(_setting(f"truth_n{n}", "annotators", perception="truth") for n in (3, 10)),
    ]
    sizes = families.family_sizes(settings, VARIANTS, "hard_ce")
    # distributional rows together over one axis and control; H CB on its own
    assert sizes == {
        "reliability axis, Other propensity 0, distributional rows": 6,
        "reliability axis, Other propensity 0, hard_cbce": 3,
        "reliability axis, Other propensity 0.5, distributional rows": 6,
        "reliability axis, Other propensity 0.5, hard_cbce": 3,
        "annotators axis, perception raters, distributional rows": 4,
        "annotators axis, perception raters, hard_cbce": 2,
        "annotators axis, perception truth, distributional rows": 4,
        "annotators axis, perception truth, hard_cbce": 2,
    }
    assert families.family("reliability", 0.0, "raters", "p_kld", True, "jsd_true") != families.family(
        "reliability", 0.0, "raters", "p_kld", True, "macro_f1"
    )


def test_required_resamples_let_the_family_reach_alpha_over_margin():
    for m in (1, 4, 12, 15, 40):
        b = families.required_resamples(m)
        assert b % 1000 == 0
        assert 2 * m / (b + 1) <= families.ALPHA / families.MARGIN  # enough
        if b > 1000:
            assert 2 * m / (b - 1000 + 1) > families.ALPHA / families.MARGIN  # and not more
    assert families.required_resamples(15) == 6000
    # with the smallest attainable p in every test, Holm over the family stays below ALPHA / MARGIN
    b = families.required_resamples(15)
    p_min = (1 + 0) / (b + 1) * 2
    assert holm(np.full(15, p_min)).max() <= families.ALPHA / families.MARGIN


def test_study_config_b_follows_its_largest_family():
    cfg = config_mod.resolve(yaml.safe_load((ROOT / "config" / "study_raters.yaml").read_text()))
    settings = [s.describe() for s in grid.settings(cfg).values()]
    sizes = families.family_sizes(settings, cfg["variants"], "hard_ce")
    assert max(sizes.values()) == 15  # 3 distributional rows x 5 reliability levels
    assert families.resamples(settings, cfg["variants"], "hard_ce", cfg["evaluation"]) == 6000
    # a bigger evaluation B is kept
    assert families.resamples(settings, cfg["variants"], "hard_ce", {"bootstrap_resamples": 9000}) == 9000

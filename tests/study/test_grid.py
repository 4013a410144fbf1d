"""The study's settings (sertools.study.grid): names, raters, seeds and the errors of a bad section."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sertools import config as config_mod
from sertools.config import ConfigError
from sertools.corpus.synthetic.labels import RaterSettings
from sertools.study import grid

ROOT = Path(__file__).resolve().parents[2]


def _cfg(**study):
    section = {"reliability_levels": {"low": {"noisy_share": 0.6}, "today": {}}, **study}
    return config_mod.resolve({"study": section})


def test_no_study_section_gives_no_settings():
    assert grid.settings(config_mod.resolve({})) == {}


def test_names_axes_and_raters():
    s = grid.settings(_cfg(other_when_unsure=[0.0, 0.25], annotator_counts=[3, 12]))
    assert list(s) == ["low_u0", "today_u0", "low_u0.25", "today_u0.25", "today_n3", "today_n12"]
    default = config_mod.resolve({})["synthetic"]["raters"]
    assert s["today_u0"].raters == {**default, "other_when_unsure": 0.0}
    assert s["low_u0.25"].raters["noisy_share"] == 0.6 and s["low_u0.25"].other_when_unsure == 0.25
    # without annotators_level, the axis runs at the level whose raters are the corpus defaults
    n12 = s["today_n12"]
    assert n12.axis == "annotators" and n12.annotators == 12
    assert n12.raters["annotators_min"] == 12 and n12.raters["annotators_extra_mean"] == 0.0
    assert n12.raters["other_when_unsure"] == 0.0
    assert s["today_u0"].annotators is None
    for setting in s.values():
        RaterSettings.from_config(setting.raters)  # every setting is a valid rater section


def test_truth_perception_control_repeats_the_annotator_axis():
    s = grid.settings(_cfg(annotator_counts=[3, 12], annotator_perceptions=["raters", "truth"]))
    ann = [n for n in s if s[n].axis == "annotators"]
    assert ann == ["today_n3", "today_n12", "truth_n3", "truth_n12"]
    t = s["truth_n12"]
    assert t.perception == "truth" and t.annotators == 12 and t.other_when_unsure == 0.0
    assert t.describe()["perception"] == "truth" and s["today_n12"].perception == "raters"
    # the same pool as the level's raters: only what they draw from differs
    assert {k: v for k, v in t.raters.items() if k != "perception"} == {
        k: v for k, v in s["today_n12"].raters.items() if k != "perception"
    }
    assert RaterSettings.from_config(t.raters).perception == "truth"
    with pytest.raises(ConfigError, match="annotator_perceptions"):
        grid.settings(_cfg(annotator_perceptions=["truth", "truth"]))


def test_annotators_level_defaults_to_the_level_equal_to_the_corpus_defaults():
    s = grid.settings(
        config_mod.resolve({"study": {"reliability_levels": {"noisy": {"noisy_share": 0.9}, "r3": {}}}})
    )
    assert [n for n in s if s[n].axis == "annotators"] == ["r3_n3", "r3_n5", "r3_n10", "r3_n20"]


def test_mean_reliability_weights_ordinary_and_noisy_raters():
    raters = {
        "reliability": {"alpha": 8, "beta": 2},
        "noisy_reliability": {"alpha": 2, "beta": 3},
        "noisy_share": 0.15,
    }
    assert grid.mean_reliability(raters) == pytest.approx(0.85 * 0.8 + 0.15 * 0.4)


def test_seeds_per_setting():
    s = grid.settings(_cfg(annotator_counts=[], seeds={"low_u0": [0, 1, 7]}))
    assert s["low_u0"].seeds == (0, 1, 7) and s["today_u0"].seeds == (0, 1)


@pytest.mark.parametrize(
    ("study", "message"),
    [
        ({"seeds": {"nope_u0": [0]}}, "unknown setting(s) ['nope_u0']"),
        ({"annotators_level": "high"}, "'high' is not one of the levels"),
        ({"reliability_levels": {"bad": {"noisy_share": 2}}}, "study.reliability_levels.bad.noisy_share"),
        ({"reliability_levels": {"bad": {"colour": "red"}}}, "study.reliability_levels.bad"),
        (
            {"reliability_levels": {"bad": {"neutral_overuse_share": 0.8, "other_overuse_share": 0.5}}},
            "exceeds 1",
        ),
    ],
)
def test_bad_sections_name_the_key(study, message):
    with pytest.raises(ConfigError, match=None) as err:
        grid.settings(_cfg(**study))
    assert message in str(err.value)


def test_real_corpus_refuses_a_study():
    cfg = config_mod.resolve(
        {"corpus": {"source": "msp_podcast", "root": "/x"}, "study": {"reliability_levels": {"a": {}}}}
    )
    with pytest.raises(ConfigError, match=r"corpus\.source: synthetic"):
        grid.settings(cfg)


def test_study_config_spans_the_issue_grid():
    """config/study_raters.yaml: >= 5 levels from mostly noisy to near-perfect, u = 0 and > 0, 4 annotator counts."""
    cfg = config_mod.resolve(yaml.safe_load((ROOT / "config" / "study_raters.yaml").read_text()))
    s = grid.settings(cfg)
    rel = sorted({x.reliability for x in s.values() if x.axis == "reliability"})
    assert len(rel) >= 5 and rel[0] <= 0.45 and rel[-1] >= 0.95
    assert {x.other_when_unsure for x in s.values()} == {0.0, 0.5}
    ann = [x for x in s.values() if x.axis == "annotators"]
    for perception in ("raters", "truth"):  # the annotator axis with today's raters and the p_true control
        assert sorted(x.annotators for x in ann if x.perception == perception) == [3, 5, 10, 20]
    assert all(len(x.seeds) >= 3 for x in s.values())
    assert all(config_mod.variant_model(cfg, v)["upstream"] == "egemaps" for v in cfg["variants"])
    rows = {c["paper_row"] for c in cfg["variants"].values()}
    assert {"H CE", "H CB", "P KLD", "MH KLD"} <= rows and rows & {"MH +F", "MH +W"}


def test_settings_never_depend_on_the_variants():
    """No generator parameter may depend on a supervision variant."""
    a = _cfg()
    b = config_mod.resolve(
        {
            "study": a["study"],
            "variants": {"x": {"targets": "primary", "loss": "kl"}},
            "evaluation": {"baseline_variant": "x"},
        }
    )
    assert grid.settings(a) == grid.settings(b)


def test_study_variants_must_be_frozen_heads_on_one_upstream():
    study = {"reliability_levels": {"a": {}}}
    frozen = {"mode": "frozen", "upstream": "egemaps"}
    ok = config_mod.resolve(
        {
            "study": study,
            "variants": {"h": {"targets": "consensus", "loss": "ce", "model": frozen}},
            "evaluation": {"baseline_variant": "h"},
        }
    )
    assert grid.upstream(ok) == "egemaps"
    with pytest.raises(ConfigError, match=r"variants\.hard_ce.*model\.mode: frozen"):
        grid.upstream(config_mod.resolve({"study": study}))
    mixed = {
        "h": {"targets": "consensus", "loss": "ce", "model": frozen},
        "w": {"targets": "primary", "loss": "kl", "model": {"mode": "frozen", "upstream": "wavlm"}},
    }
    with pytest.raises(ConfigError, match="share one upstream"):
        grid.upstream(
            config_mod.resolve({"study": study, "variants": mixed, "evaluation": {"baseline_variant": "h"}})
        )

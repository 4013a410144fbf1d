"""The settings of the rater simulation study: one definition, read by the rules and the report.

A setting is one re-draw of the synthetic corpus's votes (``synthetic.raters``)
over the same utterances, audio and latent truth. The ``study`` config section
(``config/study_raters.yaml``) spans two axes:

* **reliability x Other propensity**: every level of
  ``study.reliability_levels`` crossed with every value of
  ``study.other_when_unsure``, named ``<level>_u<value>`` (``r3_u0``,
  ``r3_u0.5``). Propensity 0 is the negative control (no Other routing in the
  labels), a non-zero value the positive control (routing planted).
* **annotators per utterance**: at ``study.annotators_level``, propensity 0,
  exactly ``n`` annotators for every utterance, named ``<level>_n<n>``; and,
  for each further value of ``study.annotator_perceptions``, the same counts
  with raters of that perception (``truth``: every rater draws from p_true,
  no guess prior, no confusion; the control for the rater mixture), named
  ``<perception>_n<n>``.

No setting touches a variant: the generator's parameters come from this
module alone, and every variant is trained on every setting.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from sertools.config import ConfigError, load_schema, variant_model
from sertools.corpus.synthetic.labels import RaterSettings

__all__ = ["AXES", "Setting", "mean_reliability", "settings", "upstream"]

#: the study's axes, in report order
AXES: tuple[str, ...] = ("reliability", "annotators")


@dataclass(frozen=True)
class Setting:
    """One rater setting of the study."""

    name: str
    axis: str  # one of AXES
    level: str  # the reliability level's name
    raters: dict[str, Any]  # a complete synthetic.raters section
    seeds: tuple[int, ...]

    @property
    def other_when_unsure(self) -> float:
        return float(self.raters["other_when_unsure"])

    @property
    def reliability(self) -> float:
        """Mean reliability of the setting's raters (the x-axis of the reliability plots)."""
        return mean_reliability(self.raters)

    @property
    def perception(self) -> str:
        """What the setting's raters draw from (``synthetic.raters.perception``)."""
        return str(self.raters.get("perception", "raters"))

    @property
    def annotators(self) -> int | None:
        """Annotators per utterance on the annotator axis (None: the corpus's usual 5 + extra)."""
        return int(self.raters["annotators_min"]) if self.axis == "annotators" else None

    def describe(self) -> dict[str, Any]:
        """The setting as a JSON-ready record (the report's columns)."""
        return {
            "setting": self.name,
            "axis": self.axis,
            "level": self.level,
            "reliability": round(self.reliability, 6),
            "other_when_unsure": self.other_when_unsure,
            "annotators": self.annotators,
            "perception": self.perception,
            "seeds": list(self.seeds),
            "raters": self.raters,
        }


def mean_reliability(raters: Mapping[str, Any]) -> float:
    """E[r] of a rater drawn from the pool: ordinary and noisy Beta means, weighted by their shares."""

    def beta_mean(b: Mapping[str, Any]) -> float:
        return float(b["alpha"]) / (float(b["alpha"]) + float(b["beta"]))

    share = float(raters["noisy_share"])
    return (1.0 - share) * beta_mean(raters["reliability"]) + share * beta_mean(raters["noisy_reliability"])


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def _checked(raters: dict[str, Any], where: str) -> dict[str, Any]:
    """``raters`` validated against the ``synthetic.raters`` schema and :class:`RaterSettings`."""
    node = load_schema()["properties"]["synthetic"]["properties"]["raters"]
    errors = sorted(jsonschema.Draft202012Validator(node).iter_errors(raters), key=str)
    if errors:
        e = errors[0]
        key = ".".join(str(p) for p in e.absolute_path)
        raise ConfigError(f"config key '{where}{'.' + key if key else ''}': {e.message}")
    try:
        RaterSettings.from_config(raters)
    except ValueError as err:
        raise ConfigError(f"config key '{where}': {err}") from None
    return raters


def _value(u: float) -> str:
    return f"{u:g}"


def settings(config: Mapping[str, Any]) -> dict[str, Setting]:
    """Every setting of the resolved config's ``study`` section, in report order (empty without one)."""
    study = config.get("study")
    if not study:
        return {}
    if config["corpus"]["source"] != "synthetic":
        raise ConfigError("config key 'study': the simulation study needs corpus.source: synthetic")
    if config["synthetic"].get("classes", "msp_podcast") != "msp_podcast":
        routed = [u for u in study["other_when_unsure"] if float(u) > 0]
        if routed:
            raise ConfigError(
                f"config key 'study.other_when_unsure': {routed} route votes to Other, but synthetic.classes "
                f"{config['synthetic']['classes']} has no Other class (use [0.0])"
            )
    base = config["synthetic"]["raters"]
    levels = {
        name: _checked(_merge(base, over), f"study.reliability_levels.{name}")
        for name, over in study["reliability_levels"].items()
    }
    default_seeds = tuple(int(s) for s in config["seeds"])
    seeds = study["seeds"]
    out: dict[str, Setting] = {}

    def add(name: str, axis: str, level: str, raters: dict[str, Any]) -> None:
        out[name] = Setting(name, axis, level, raters, tuple(int(s) for s in seeds.get(name, default_seeds)))

    for u in study["other_when_unsure"]:
        for level, raters in levels.items():
            add(f"{level}_u{_value(u)}", "reliability", level, {**raters, "other_when_unsure": float(u)})
    if study["annotator_counts"]:
        level = study["annotators_level"] or next(
            (n for n, r in levels.items() if r == base), next(iter(levels))
        )
        if level not in levels:
            raise ConfigError(
                f"config key 'study.annotators_level': {level!r} is not one of the levels {list(levels)}"
            )
        perceptions = list(study["annotator_perceptions"])
        if len(set(perceptions)) != len(perceptions):
            raise ConfigError(f"config key 'study.annotator_perceptions': repeated values in {perceptions}")
        for perception in perceptions:
            prefix = level if perception == "raters" else perception
            for n in study["annotator_counts"]:
                raters = {
                    **levels[level],
                    "other_when_unsure": 0.0,
                    "annotators_min": int(n),
                    "annotators_extra_mean": 0.0,
                    "perception": perception,
                }
                add(f"{prefix}_n{n}", "annotators", level, _checked(raters, "study"))
    unknown = sorted(set(seeds) - set(out))
    if unknown:
        raise ConfigError(f"config key 'study.seeds': unknown setting(s) {unknown}; settings: {list(out)}")
    return out


def upstream(config: Mapping[str, Any]) -> str:
    """The one frozen upstream every variant of a study trains its head on.

    The study extracts features once and trains heads on them (docs/study.md):
    a fine-tuned variant, or variants on different upstreams, are refused.
    """
    models = {name: variant_model(config, name) for name in config["variants"]}
    for name, model in models.items():
        if model["mode"] != "frozen":
            raise ConfigError(
                f"config key 'variants.{name}': the study trains heads on cached features; "
                "set model.mode: frozen (and model.upstream) for every variant"
            )
    found = sorted({m["upstream"] for m in models.values()})
    if len(found) != 1:
        raise ConfigError(
            f"config key 'variants': the study's variants must share one upstream, found {found}"
        )
    return found[0]

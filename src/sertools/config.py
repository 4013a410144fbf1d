"""Configuration: JSON-schema validation with defaults and key-naming errors.

The schema (``sertools/config.schema.yaml``, also reached as
``workflow/schemas/config.schema.yaml``) is the single source of defaults.
Objects with fixed ``properties`` merge key by key over their defaults; free-form
maps (``variants``, ``labels.secondary_map``) replace the default whole, so a
user who lists three variants gets three variants.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


@cache
def _schema_text() -> str:
    return resources.files("sertools").joinpath("config.schema.yaml").read_text()


def load_schema() -> dict[str, Any]:
    """The configuration JSON schema as a dict (a fresh copy)."""
    return yaml.safe_load(_schema_text())


def _resolve_ref(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = root
    for part in ref.lstrip("#/").split("/"):
        target = target[part]
    return target


def _allows_null(node: Mapping[str, Any]) -> bool:
    types = node.get("type") or ()
    return "null" in ([types] if isinstance(types, str) else types)


def _with_defaults(value: Any, node: Mapping[str, Any], root: Mapping[str, Any], present: bool = True) -> Any:
    """Fill schema defaults into ``value``.

    A key left out (``present`` false) takes its default. A key written as ``null`` keeps ``None``
    wherever the schema allows null (``grad_clip: null`` disables clipping; it never means "the
    default"); an empty section (``train:`` with every line commented out) is read as an empty
    mapping, so its keys take their defaults. A ``null`` anywhere else stays ``None`` and is
    reported by validation, naming the key.
    """
    node = _resolve_ref(node, root)
    if value is None and present and _allows_null(node):
        return None
    if value is None and not present and "default" in node:
        value = copy.deepcopy(node["default"])
    if value is None and _allows_null(node):
        return None  # an optional section left out (e.g. study)
    if "properties" in node:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            return value  # wrong type: reported by validation
        out = dict(value)
        for key, sub in node["properties"].items():
            sub_node = _resolve_ref(sub, root)
            if key in value or "default" in sub_node or "properties" in sub_node:
                out[key] = _with_defaults(value.get(key), sub_node, root, present=key in value)
        return out
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping) and isinstance(value, dict):
        return {k: _with_defaults(v, extra, root) for k, v in value.items()}
    return value


def _coerce(value: Any, node: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    """Turn strings into the numbers/booleans the schema asks for.

    ``snakemake --config labels='{secondary_weight: 0.5}'`` parses nested values
    with YAML's BaseLoader, so every leaf arrives as a string.
    """
    node = _resolve_ref(node, root)
    if value is None and "properties" in node and not _allows_null(node):
        return {}  # an empty section (every line commented out): its keys take their defaults
    if isinstance(value, dict):
        props = node.get("properties", {})
        extra = node.get("additionalProperties")
        out = {}
        for k, v in value.items():
            sub = props.get(k, extra)
            out[k] = _coerce(v, sub, root) if isinstance(sub, Mapping) else v
        return out
    if isinstance(value, list) and isinstance(node.get("items"), Mapping):
        return [_coerce(v, node["items"], root) for v in value]
    if not isinstance(value, str):
        return value
    types = node.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "string" in types:
        return value
    for t in types:
        try:
            if t == "integer":
                return int(value)
            if t == "number":
                return float(value)
        except ValueError:
            continue
        if t == "boolean" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if t == "null" and value.lower() in ("null", "none", "~"):
            return None
    return value


def _format_error(err: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in err.absolute_path) or "<top level>"
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {})) if isinstance(err.schema, Mapping) else []
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        where = f"under '{path}'" if err.absolute_path else "at the top level"
        return f"unknown config key(s) {', '.join(map(repr, extra))} {where}; allowed: {', '.join(allowed)}"
    if err.validator == "enum":
        return f"config key '{path}': {err.instance!r} is not one of {err.validator_value}"
    if err.validator == "type":
        return f"config key '{path}': {err.instance!r} is not of type {err.validator_value}"
    if err.validator == "required":
        return f"config key '{path}': {err.message}"
    return f"config key '{path}': {err.message}"


def validate(config: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> None:
    """Raise ConfigError listing every problem, each naming its key."""
    schema = schema if schema is not None else load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(_format_error(e) for e in errors))


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override`` key by key, nested mappings merged (as Snakemake merges config files)."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve(user: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate a user config and return it completed with every default.

    Each variant's ``train`` block is checked against the ``train`` section's keys
    and types; ``variant_train(cfg, name)`` gives the merged result.
    """
    schema = load_schema()
    user = _coerce(dict(user or {}), schema, schema)
    validate(user, schema)
    cfg = _with_defaults(user, schema, schema)
    validate(cfg, schema)
    train_schema = schema["properties"]["train"]
    for name, var in cfg["variants"].items():
        merged = deep_merge(cfg["train"], var.get("train", {}))
        try:
            validate(merged, train_schema)
        except ConfigError as e:
            raise ConfigError(str(e).replace("config key '", f"config key 'variants.{name}.train.")) from None
        _check_variant_model(cfg, name, schema, merged)
        if var["targets"] == "consensus" and var.get("include_no_agreement"):
            raise ConfigError(
                f"config key 'variants.{name}.include_no_agreement': X utterances have no consensus label; "
                "set targets to primary or merged to train on them"
            )
        if var["targets"] != "consensus" and var["loss"] in ("ce", "cbce"):
            raise ConfigError(
                f"config key 'variants.{name}.loss': {var['loss']!r} needs hard targets (targets: consensus); "
                "use soft_ce, kl or jsd with distributional targets"
            )
    if cfg["corpus"]["source"] in ("msp_podcast", "crema_d") and not cfg["corpus"]["root"]:
        raise ConfigError(
            f"config key 'corpus.root': required when corpus.source is {cfg['corpus']['source']}"
        )
    _check_synthetic_classes(cfg)
    shares = cfg["crema_d"]["split_shares"]
    if not shares or abs(sum(shares.values()) - 1.0) > 1e-6:
        raise ConfigError(f"config key 'crema_d.split_shares': the shares must sum to 1, got {shares}")
    if not {"Train", "Development"} <= set(shares):
        raise ConfigError(
            f"config key 'crema_d.split_shares': Train and Development need a share (a run trains on Train "
            f"and selects its checkpoint on Development), got {shares}"
        )
    if cfg["evaluation"]["baseline_variant"] not in cfg["variants"]:
        raise ConfigError(
            f"config key 'evaluation.baseline_variant': {cfg['evaluation']['baseline_variant']!r} "
            f"is not one of the variants {sorted(cfg['variants'])}"
        )
    edges = cfg["evaluation"]["entropy_bins"]
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ConfigError(f"config key 'evaluation.entropy_bins': edges must increase strictly, got {edges}")
    return cfg


def _check_synthetic_classes(cfg: Mapping[str, Any]) -> None:
    """A synthetic corpus of CREMA-D's classes has no Other to route to, and only the study reads it."""
    syn = cfg["synthetic"]
    if syn["classes"] == "msp_podcast":
        return
    if syn["raters"]["other_when_unsure"] > 0:
        raise ConfigError(
            f"config key 'synthetic.raters.other_when_unsure': {syn['raters']['other_when_unsure']:g} needs an "
            f"Other class; synthetic.classes {syn['classes']} has none (set it to 0)"
        )
    if cfg["corpus"]["source"] == "synthetic" and not cfg.get("study"):
        raise ConfigError(
            f"config key 'synthetic.classes': {syn['classes']} is read by the rater study only (a `study` "
            "section, docs/study.md); the workflow's own synthetic corpus is msp_podcast"
        )


def canonical(obj: Any) -> Any:
    """``obj`` with every mapping's keys in sorted order.

    Snakemake compares ``params`` by their printed form, so the same settings
    written in another key order would otherwise rerun a stage.
    """
    if isinstance(obj, Mapping):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [canonical(v) for v in obj]
    return obj


#: the train keys the predict stage reads (the predict rule's params; the others cannot change a prediction)
PREDICT_TRAIN_KEYS = ("device", "amp", "num_threads", "max_eval_batch_seconds", "eval_batching", "batch_size")

#: the model keys that decide frozen wavlm features (the features rule's params; one feature set per workflow)
WAVLM_FEATURE_KEYS = ("backbone", "tiny", "waveform_norm", "attention_mask")


def _check_variant_model(
    cfg: Mapping[str, Any], name: str, schema: Mapping[str, Any], train: Mapping[str, Any]
) -> None:
    """The variant's model overrides are model keys, and a frozen variant can use the shared features."""
    model_schema = schema["properties"]["model"]
    override = cfg["variants"][name].get("model") or {}
    try:
        validate(override, {**model_schema, "$defs": schema.get("$defs", {})})
    except ConfigError as e:
        raise ConfigError(str(e).replace("config key '", f"config key 'variants.{name}.model.")) from None
    model = variant_model(cfg, name)
    if model["mode"] != "frozen":
        return
    where = f"config key 'variants.{name}.model"
    if model["upstream"] == "wavlm":
        for key in WAVLM_FEATURE_KEYS:
            if model[key] != cfg["model"][key]:
                raise ConfigError(
                    f"{where}.{key}': a frozen variant reads the one wavlm feature set, computed with the "
                    f"global model.{key}; set it there"
                )
        if model["waveform_norm"] == "train_stats":
            raise ConfigError(f"{where}.waveform_norm': train_stats is not supported for frozen features")
    if train.get("unfreeze"):
        raise ConfigError(
            f"config key 'variants.{name}.train.unfreeze': a frozen-upstream variant has no layers to unfreeze; "
            "set it to null in the variant's train block"
        )


def variant_model(cfg: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The ``model`` section with variant ``name``'s overrides applied."""
    return deep_merge(dict(cfg["model"]), cfg["variants"][name].get("model") or {})


def frozen_upstreams(cfg: Mapping[str, Any]) -> list[str]:
    """The upstreams whose features some variant trains on (sorted)."""
    models = (variant_model(cfg, name) for name in cfg["variants"])
    return sorted({m["upstream"] for m in models if m["mode"] == "frozen"})


def model_label(model: Mapping[str, Any]) -> str:
    """A short label of a resolved model section for tables and logs: ``fine-tuned tiny (tc_gru)``,
    ``frozen wavlm (microsoft/wavlm-base)``, ``frozen eGeMAPS``."""
    if model["mode"] != "frozen":
        return f"fine-tuned {model['backbone']} ({model['head']})"
    if model["upstream"] == "egemaps":
        return "frozen eGeMAPS"
    return f"frozen wavlm ({model['backbone']})"


def variant_train(cfg: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The ``train`` section with variant ``name``'s overrides applied."""
    return deep_merge(dict(cfg["train"]), cfg["variants"][name].get("train", {}))


def load(path: str | Path | None) -> dict[str, Any]:
    """Read a YAML config file (None: all defaults) and resolve it."""
    if path is None:
        return resolve({})
    with open(path, encoding="utf-8") as fh:
        user = yaml.safe_load(fh) or {}
    if not isinstance(user, dict):
        raise ConfigError(f"{path}: the top level of a config file must be a mapping")
    try:
        return resolve(user)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None

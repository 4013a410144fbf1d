"""Config schema: defaults, key-naming errors, variant checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sertools import config as C

ROOT = Path(__file__).resolve().parents[1]


def _walk(node, path, root):
    node = C._resolve_ref(node, root)
    if "properties" in node:
        for key, sub in node["properties"].items():
            yield f"{path}.{key}".lstrip("."), C._resolve_ref(sub, root)
            yield from _walk(sub, f"{path}.{key}", root)


def test_every_key_has_description_and_default():
    schema = C.load_schema()
    missing = []
    for key, node in _walk(schema, "", schema):
        if "description" not in node:
            missing.append(f"{key}: description")
        if "default" not in node and "properties" not in node:
            missing.append(f"{key}: default")
    for key, node in _walk(schema["$defs"]["variant"], "variants.<name>", schema):
        if "description" not in node:
            missing.append(f"{key}: description")
    assert not missing


#: the JSON-schema keywords the schema uses; any other key inside a property is a description cut at a
#: comma by YAML's flow syntax (``{description: a, b}`` reads ``b`` as a key)
SCHEMA_KEYWORDS = {
    "type", "description", "default", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "items", "properties", "additionalProperties", "required", "minItems", "maxItems", "pattern",
    "propertyNames", "not", "$ref", "minProperties",
}  # fmt: skip


def test_every_property_holds_schema_keywords_only():
    schema = C.load_schema()
    found = [(key, sorted(set(node) - SCHEMA_KEYWORDS)) for key, node in _walk(schema, "", schema)]
    found += [
        (key, sorted(set(node) - SCHEMA_KEYWORDS))
        for key, node in _walk(schema["$defs"]["variant"], "variants.<name>", schema)
    ]
    assert [(k, extra) for k, extra in found if extra] == []


def test_defaults_resolve_and_repo_configs_validate():
    cfg = C.resolve({})
    assert cfg["labels"]["secondary_weight"] == 1.0
    assert cfg["variants"]["dist_primary_kl_curriculum"]["curriculum"]["pacing"] == "root"
    assert cfg["variants"]["hard_ce"]["curriculum"]["order"] == "none"
    for path in sorted((ROOT / "config").glob("*.yaml")):
        user = yaml.safe_load(path.read_text())
        if user.get("corpus", {}).get("source") in ("msp_podcast", "crema_d"):
            user["corpus"]["root"] = "/somewhere"
        C.resolve(user)


def test_nested_merge_keeps_defaults():
    cfg = C.resolve({"labels": {"secondary_weight": 0.5}, "model": {"tiny": {"hidden_size": 32}}})
    assert cfg["labels"]["secondary_weight"] == 0.5
    assert cfg["labels"]["on_invalid_annotation"] == "drop"
    assert cfg["model"]["tiny"]["num_hidden_layers"] == 2


def test_user_variants_replace_defaults():
    cfg = C.resolve(
        {
            "variants": {"only": {"targets": "primary", "loss": "kl"}},
            "evaluation": {"baseline_variant": "only"},
        }
    )
    assert list(cfg["variants"]) == ["only"]
    assert cfg["variants"]["only"]["include_no_agreement"] is False


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"labels": {"secondary_wieght": 1}}, r"unknown config key\(s\) 'secondary_wieght' under 'labels'"),
        ({"bogus": 1}, r"unknown config key\(s\) 'bogus' at the top level"),
        ({"train": {"batch_size": "big"}}, r"config key 'train.batch_size': 'big' is not of type integer"),
        (
            {"labels": {"on_invalid_annotation": "ignore"}},
            r"config key 'labels.on_invalid_annotation': 'ignore' is not one of",
        ),
        (
            {"variants": {"v": {"targets": "primary"}}},
            r"config key 'variants.v': 'loss' is a required property",
        ),
        (
            {"variants": {"hard_ce": {"targets": "consensus", "loss": "ce", "train": {"lr_heads": "x"}}}},
            r"config key 'variants.hard_ce.train.lr_heads': 'x' is not of type number",
        ),
        (
            {"variants": {"hard_ce": {"targets": "consensus", "loss": "ce", "train": {"lr_head": 1}}}},
            r"unknown config key\(s\) 'lr_head'",
        ),
        (
            {"variants": {"hard_ce": {"targets": "consensus", "loss": "ce", "include_no_agreement": True}}},
            r"variants.hard_ce.include_no_agreement",
        ),
        ({"variants": {"hard_ce": {"targets": "primary", "loss": "cbce"}}}, r"needs hard targets"),
        ({"corpus": {"source": "msp_podcast"}}, r"config key 'corpus.root': required"),
        (
            {"evaluation": {"baseline_variant": "nope"}},
            r"'evaluation.baseline_variant': 'nope' is not one of",
        ),
        ({"evaluation": {"entropy_bins": [0, 0.5, 0.5, 1]}}, r"edges must increase strictly"),
    ],
)
def test_errors_name_the_key(user, message):
    with pytest.raises(C.ConfigError, match=message):
        C.resolve(user)


def test_load_names_the_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("labels:\n  nope: 1\n")
    with pytest.raises(C.ConfigError, match=r"c\.yaml: invalid configuration"):
        C.load(p)


def test_config_readme_is_generated_from_schema():
    from sertools.report import configdoc

    assert (ROOT / "config" / "README.md").read_text() == configdoc.render(), (
        "config/README.md is stale: run `python -m sertools.report.configdoc > config/README.md`"
    )


def test_command_line_strings_are_coerced():
    # snakemake --config parses nested values with YAML's BaseLoader: all strings
    cfg = C.resolve(
        {"labels": {"secondary_weight": "0.5", "count_secondary_equal_to_primary": "true"}, "seeds": ["3"]}
    )
    assert cfg["labels"]["secondary_weight"] == 0.5
    assert cfg["labels"]["count_secondary_equal_to_primary"] is True
    assert cfg["seeds"] == [3]
    with pytest.raises(C.ConfigError, match=r"'labels\.secondary_weight': 'half' is not of type number"):
        C.resolve({"labels": {"secondary_weight": "half"}})


def test_canonical_orders_keys_recursively():
    a = C.canonical({"b": {"y": 1, "x": [{"d": 1, "c": 2}]}, "a": 0})
    assert list(a) == ["a", "b"] and list(a["b"]) == ["x", "y"] and list(a["b"]["x"][0]) == ["c", "d"]


def _nullable_keys(schema):
    """Every schema key whose type allows null, as a path (variant keys under ``variants.v``)."""
    found = [key for key, node in _walk(schema, "", schema) if "null" in (node.get("type") or ())]
    found += [
        key for key, node in _walk(schema["$defs"]["variant"], "variants.v", schema) if "null" in node["type"]
    ]
    return found


def _nest(path, value):
    """``{'a': {'b': value}}`` for ``'a.b'`` (``__absent__``: the section alone); a variant path gets
    the other keys a variant needs."""
    parts = path.split(".")
    user = node = {}
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if parts[-1] != "__absent__":
        node[parts[-1]] = value
    if parts[0] == "variants":
        user["variants"]["v"].update(targets="primary", loss="kl")
        user["evaluation"] = {"baseline_variant": "v"}
    return user


def _lookup(cfg, path):
    for part in path.split("."):
        cfg = cfg[part]
    return cfg


def test_every_nullable_key_keeps_null_and_defaults_when_left_out():
    schema = C.load_schema()
    keys = _nullable_keys(schema)
    assert {"train.grad_clip", "train.max_train_duration_s", "train.unfreeze", "variants.v.paper_row"} <= set(
        keys
    )
    for key in keys:
        if key == "corpus.root":
            continue  # null is its default; required only for msp_podcast (tested above)
        assert _lookup(C.resolve(_nest(key, None)), key) is None, key
        parent = key.rpartition(".")[0]
        # the key left out of its (present) section
        defaults = C.resolve(_nest(f"{parent}.__absent__", None) if parent else {})
        node = schema["$defs"]["variant"] if key.startswith("variants.") else schema
        for part in key.split(".")[2 if key.startswith("variants.") else 0 :]:
            node = C._resolve_ref(node, schema)["properties"][part]
        assert _lookup(defaults, key) == node["default"], key


def test_null_from_the_command_line_survives():
    cfg = C.resolve({"train": {"grad_clip": "null", "max_train_duration_s": "~"}})
    assert cfg["train"]["grad_clip"] is None and cfg["train"]["max_train_duration_s"] is None


def test_empty_section_takes_defaults_and_null_scalar_is_an_error(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("train:\nlabels:\n  secondary_weight:\n")
    with pytest.raises(C.ConfigError, match=r"'labels\.secondary_weight': None is not of type number"):
        C.load(p)
    p.write_text("train:\n")
    assert C.load(p)["train"]["batch_size"] == C.resolve({})["train"]["batch_size"]


def test_paper_config_trains_whole_utterances_without_clipping():
    user = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    user["corpus"]["root"] = "/somewhere"
    cfg = C.resolve(user)
    finetuned = [v for v in cfg["variants"] if C.variant_model(cfg, v)["mode"] == "finetune"]
    assert len(finetuned) == 10
    for name in cfg["variants"]:
        train = C.variant_train(cfg, name)
        assert train["grad_clip"] is None, name
        assert train["max_train_duration_s"] is None, name

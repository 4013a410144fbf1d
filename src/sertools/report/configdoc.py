"""Render config/README.md from the schema (a test keeps the file in sync).

python -m sertools.report.configdoc > config/README.md
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from sertools.config import _resolve_ref, load_schema

HEADER = """# Configuration reference

Generated from `workflow/schemas/config.schema.yaml` by `python -m sertools.report.configdoc`
(`tests/test_config.py` fails when this file is out of date). Every key is optional:
an absent key takes its default. Unknown keys and wrong types stop the workflow
before anything runs, with a message naming the key.

- `config.yaml`: the embedded default (synthetic corpus, tiny random-init WavLM, CPU).
- `paper.yaml`: the paper's full grid on a real MSP-Podcast 2.0 release with WavLM-Base
  (`corpus.root` required).
- `crema_d.yaml`: the paper's rows without Other and A/V/D (hard CE, class-balanced CE, vote
  distribution KLD, the four entropy curricula), fine-tuned and on frozen WavLM-Base features,
  on a CREMA-D clone (`corpus.root` required).

"""


def _fmt(v: Any) -> str:
    return "`" + json.dumps(v) + "`"


def _rows(node: Mapping[str, Any], prefix: str, root: Mapping[str, Any]) -> Iterator[str]:
    node = _resolve_ref(node, root)
    for key, sub in node.get("properties", {}).items():
        sub = _resolve_ref(sub, root)
        name = f"{prefix}{key}"
        if "properties" in sub and "default" not in sub:
            yield f"| **`{name}`** | | | {sub.get('description', '')} |"
            yield from _rows(sub, f"{name}.", root)
            continue
        typ = sub.get("type", "object")
        typ = " or ".join(typ) if isinstance(typ, list) else typ
        allowed = " / ".join(f"`{v}`" for v in sub["enum"]) if "enum" in sub else typ
        default = _fmt(sub["default"]) if "default" in sub else ""
        if isinstance(sub.get("default"), dict) and len(json.dumps(sub["default"])) > 60:
            default = "see below"
        desc = " ".join(str(sub.get("description", "")).split())
        yield f"| `{name}` | {allowed} | {default} | {desc} |"
        if "properties" in sub:
            yield from _rows(sub, f"{name}.", root)


def render() -> str:
    schema = load_schema()
    lines = [HEADER, "| key | type / allowed | default | meaning |", "|---|---|---|---|"]
    lines += list(_rows(schema, "", schema))
    lines += ["", "## Each variant (`variants.<name>`)", "", "| key | type / allowed | default | meaning |"]
    lines += ["|---|---|---|---|", *_rows(schema["$defs"]["variant"], "", schema)]
    lines += ["", "## Long defaults", ""]
    for key in ("variants",):
        lines += [
            f"`{key}`:",
            "",
            "```json",
            json.dumps(schema["properties"][key]["default"], indent=2),
            "```",
            "",
        ]
    sec = schema["properties"]["labels"]["properties"]["secondary_map"]["default"]
    lines += ["`labels.secondary_map`:", "", "```json", json.dumps(sec, indent=2), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")

"""Tiny MSP-Podcast-format label directories written from Python rows (used by many test folders)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

CONSENSUS_HEADER = ["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"]
DETAILED_HEADER = ["FileName", "WorkerID", "EmoClass_Major", "EmoClass_Second", "EmoAct", "EmoVal", "EmoDom"]

# (file, worker, primary, secondary, act, val, dom)
Annotation = tuple[str, str, str, str, object, object, object]


def write_corpus(
    root: Path,
    consensus: Sequence[Sequence[object]],
    annotations: Sequence[Annotation],
    layout: str = "2.0",
    detailed_header: Sequence[str] = DETAILED_HEADER,
    bom: bool = False,
    newline: str = "\n",
) -> Path:
    """Write Labels/labels_consensus.csv and a detailed file in ``layout``
    (``2.0``, ``1.11`` or ``json``)."""
    labels = root / "Labels"
    labels.mkdir(parents=True, exist_ok=True)
    enc = "utf-8-sig" if bom else "utf-8"
    with open(labels / "labels_consensus.csv", "w", newline="", encoding=enc) as fh:
        w = csv.writer(fh, lineterminator=newline)
        w.writerow(CONSENSUS_HEADER)
        w.writerows(consensus)
    if layout == "2.0":
        order = [DETAILED_HEADER.index(h) if h in DETAILED_HEADER else None for h in detailed_header]
        with open(labels / "labels_detailed.csv", "w", newline="", encoding=enc) as fh:
            w = csv.writer(fh, lineterminator=newline)
            w.writerow(detailed_header)
            for a in annotations:
                w.writerow(["extra" if i is None else a[i] for i in order])
    elif layout == "1.11":
        with open(labels / "labels_detailed.csv", "w", newline="", encoding=enc) as fh:
            w = csv.writer(fh, lineterminator=newline)
            w.writerow(["FileName", "EmoDetail"])
            for f, wk, p, s, a, v, d in annotations:
                w.writerow([f, f"{wk}; {p}; {s}; A:{a}; V:{v}; D:{d};"])
    elif layout == "json":
        data: dict[str, dict[str, dict[str, object]]] = {}
        for f, wk, p, s, a, v, d in annotations:
            data.setdefault(f, {})[wk] = {
                "EmoClass_Major": p,
                "EmoClass_Second": s,
                "EmoAct": a,
                "EmoVal": v,
                "EmoDom": d,
            }
        (labels / "labels_detailed.json").write_text(json.dumps(data), encoding="utf-8")
    else:
        raise ValueError(layout)
    return root

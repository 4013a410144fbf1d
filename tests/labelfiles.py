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

#: a small corpus, one utterance per split, whose votes tests/labels/test_build.py counts by hand
CONSENSUS = [
    ["f1.wav", "A", 4.0, 3.0, 4.0, 1, "Male", "Train"],
    ["f2.wav", "X", 4.0, 4.0, 4.0, 2, "Female", "Development"],
    ["f3.wav", "O", 3.0, 4.0, 3.0, 3, "Female", "Test1"],
    ["f4.wav", "N", 4.0, 4.0, 4.0, 4, "Male", "Test2"],
]
ANNOTATIONS: list[Annotation] = [
    # f1: 2 Angry, 1 Sad; secondaries repeat primaries, one empty
    ("f1.wav", "W1", "Angry", "Frustrated,Annoyed", 5, 2, 5),
    ("f1.wav", "W2", "Angry", "", 6, 2, 6),
    ("f1.wav", "W3", "Sad", "Sad, Angry", 4, 3, 3),
    # f2: a tie -> X
    ("f2.wav", "W1", "Happy", "Bored", 4, 5, 4),
    ("f2.wav", "W2", "Neutral", "", 4, 4, 4),
    # f3: every spelling of Other
    ("f3.wav", "W1", "Other-Concerned", "Concerned", 3, 3, 3),
    ("f3.wav", "W2", "Other (bored)", "", 3, 4, 3),
    ("f3.wav", "W3", "Other", "Happy,Happy", 3, 5, 3),
    ("f3.wav", "W4", "Happy", "", 4, 5, 4),
    # f4: a worker listed twice (the label stage keeps the first row)
    ("f4.wav", "W1", "Neutral", "", 4, 4, 4),
    ("f4.wav", "W1", "Sad", "", 2, 2, 2),
    ("f4.wav", "W2", "Neutral", "", 4, 4, 4),
]
#: :data:`ANNOTATIONS` without the repeated worker's second row (a JSON layout keys workers by id)
ONE_ROW_PER_WORKER: list[Annotation] = [a for a in ANNOTATIONS if a[:3] != ("f4.wav", "W1", "Sad")]


def workers(
    file: str,
    votes: Sequence[tuple[str, str]],
    ratings: tuple[object, object, object] = (4, 4, 4),
    name: str = "W{}",
) -> list[Annotation]:
    """One annotation per ``(primary, secondary)`` of ``votes``, by workers ``name.format(1)``,
    ``name.format(2)``, ..., all with the same (act, val, dom) ``ratings``."""
    return [(file, name.format(j + 1), p, s, *ratings) for j, (p, s) in enumerate(votes)]


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

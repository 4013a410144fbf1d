"""The one emotion class set used everywhere in sertools.

Order is fixed: index ``i`` of every vote vector, probability vector and logit
vector means ``CLASSES[i]``. ``X`` (no agreement) is a consensus code only and
has no class index.
"""

from __future__ import annotations

import re

CLASSES: tuple[str, ...] = (
    "Angry",
    "Sad",
    "Happy",
    "Surprise",
    "Fear",
    "Disgust",
    "Contempt",
    "Neutral",
    "Other",
)
CODES: tuple[str, ...] = ("A", "S", "H", "U", "F", "D", "C", "N", "O")
K: int = len(CLASSES)
OTHER: int = CLASSES.index("Other")
NO_AGREEMENT: str = "X"
CONSENSUS_CODES: tuple[str, ...] = (*CODES, NO_AGREEMENT)

#: the dimensional attributes (1-7 ratings) of the labels and of the model's dimensional head, in order
DIMENSIONS: tuple[str, ...] = ("arousal", "valence", "dominance")

CODE_TO_INDEX: dict[str, int] = {c: i for i, c in enumerate(CODES)}
NAME_TO_INDEX: dict[str, int] = {n.lower(): i for i, n in enumerate(CLASSES)}

# "Other", "Other-<text>", "Other (<text>)", "Other:<text>" (any case) all mean Other.
_OTHER_RE = re.compile(r"^other(\s*[-:(].*)?$", re.IGNORECASE | re.DOTALL)


def primary_index(name: str) -> int | None:
    """Class index of a per-annotator primary label, or None when unknown.

    Accepts the 8 emotion names in any case and every spelling of Other.
    """
    s = name.strip()
    idx = NAME_TO_INDEX.get(s.lower())
    if idx is not None:
        return idx
    if _OTHER_RE.match(s):
        return OTHER
    return None


def code_index(code: str) -> int | None:
    """Class index of a consensus code; None for X (no agreement).

    Raises ValueError for anything that is not a known code.
    """
    c = code.strip().upper()
    if c == NO_AGREEMENT:
        return None
    if c not in CODE_TO_INDEX:
        raise ValueError(f"unknown consensus code {code!r} (allowed: {', '.join(CONSENSUS_CODES)})")
    return CODE_TO_INDEX[c]

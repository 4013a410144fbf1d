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

#: The one rule for spellings of Other (docs/msp_podcast_releases.md, "Other spellings"):
#: the word ``other`` or ``others``, in any case, alone or followed by free text
#: after a separator (``-``, ``_``, ``:``, ``(`` or white space). So ``Other``,
#: ``Other-Bored``, ``Other_bored``, ``Other x``, ``Other (bored)``, ``Other: bored``
#: and ``Others`` all mean Other; ``Otherwise`` does not.
_OTHER_RE = re.compile(r"^others?(?:[\s\-_:(].*)?$", re.IGNORECASE | re.DOTALL)

#: Known spellings of secondary-label words that name a word of MSP-Podcast's
#: secondary vocabulary (lower case -> lower case). Applied before
#: ``labels.secondary_map`` (docs/msp_podcast_releases.md, "Secondary tags").
SECONDARY_ALIASES: dict[str, str] = {
    "dissapointed": "disappointed",  # the release's own misspelling of the tag
}


def is_other(name: str) -> bool:
    """Whether a label word is a spelling of Other (see ``_OTHER_RE``)."""
    return _OTHER_RE.match(name.strip()) is not None


def secondary_word(word: str) -> str:
    """The lower-case secondary word with :data:`SECONDARY_ALIASES` applied."""
    w = word.strip().lower()
    return SECONDARY_ALIASES.get(w, w)


def primary_index(name: str) -> int | None:
    """Class index of a per-annotator primary label, or None when unknown.

    Accepts the 8 emotion names in any case and every spelling of Other (:func:`is_other`).
    """
    s = name.strip()
    idx = NAME_TO_INDEX.get(s.lower())
    if idx is not None:
        return idx
    if is_other(s):
        return OTHER
    return None

"""The emotion class sets of sertools: MSP-Podcast's and CREMA-D's.

Order is fixed: index ``i`` of every vote vector, probability vector and logit
vector means ``CLASSES[i]``. ``X`` (no agreement) is a consensus code only and
has no class index.

The module-level constants (:data:`CLASSES`, :data:`CODES`, :data:`OTHER`, ...) are
MSP-Podcast's class set, which the synthetic corpus shares; the stages after labels
take the class set of the label table they read (:mod:`sertools.labels.view`). :class:`ClassSet`
describes a corpus's class set as a value (:data:`MSP_PODCAST`, :data:`CREMA_D`;
:func:`class_set` looks one up by ``corpus.source``), so that a stage can take the
class set of the corpus it reads (docs/corpus.md, "CREMA-D").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class ClassSet:
    """A corpus's emotion classes: index ``i`` of its vote vectors means ``names[i]``.

    ``codes``: one letter per class (the consensus codes of the corpus's label files);
    ``other``: the index of the catch-all class Other, or None when the corpus has none;
    ``dimensional``: whether the corpus has arousal/valence/dominance ratings
    (:data:`DIMENSIONS`); ``intended``: whether each utterance records the emotion its
    speaker intended (CREMA-D's actors), scored beside the perceived consensus.
    """

    name: str
    names: tuple[str, ...]
    codes: tuple[str, ...]
    other: int | None
    dimensional: bool
    intended: bool = False
    code_to_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.codes):
            raise ValueError(f"class set {self.name}: {len(self.names)} names but {len(self.codes)} codes")
        if len(set(self.codes)) != len(self.codes) or any(len(c) != 1 for c in self.codes):
            raise ValueError(
                f"class set {self.name}: codes must be distinct single letters, got {self.codes}"
            )
        if NO_AGREEMENT in self.codes:
            raise ValueError(f"class set {self.name}: {NO_AGREEMENT!r} is the no-agreement code")
        if self.other is not None and not 0 <= self.other < len(self.names):
            raise ValueError(f"class set {self.name}: Other index {self.other} is not a class index")
        object.__setattr__(self, "code_to_index", {c: i for i, c in enumerate(self.codes)})

    @property
    def k(self) -> int:
        """The number of classes."""
        return len(self.names)

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The dimensional attributes of the corpus: :data:`DIMENSIONS`, or none."""
        return DIMENSIONS if self.dimensional else ()

    @property
    def consensus_codes(self) -> tuple[str, ...]:
        """The class codes and ``X`` (no agreement)."""
        return (*self.codes, NO_AGREEMENT)

    def index(self, code: str) -> int | None:
        """The class index of a one-letter code, or None when the code is not one of this set's."""
        return self.code_to_index.get(code)


#: MSP-Podcast's 9 classes (and the synthetic corpus's): exactly :data:`CLASSES` and :data:`CODES`
MSP_PODCAST = ClassSet("msp_podcast", CLASSES, CODES, OTHER, dimensional=True)

#: CREMA-D's 6 classes, in the column order of its ``tabulatedVotes.csv`` (A, D, F, H, N, S), which
#: is also the alphabetical order of its file-name codes (ANG, DIS, FEA, HAP, NEU, SAD): vote vector
#: ``i`` is that file's count column ``i``. The names are MSP-Podcast's spellings of the same
#: classes ("Angry", not the corpus's "Anger"), and so are the codes, so that a class means the same
#: name and letter in both corpora and a cross-corpus mapping goes by name. No Other, no A/V/D.
CREMA_D = ClassSet(
    "crema_d",
    ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad"),
    ("A", "D", "F", "H", "N", "S"),
    None,
    dimensional=False,
    intended=True,
)

#: ``corpus.source`` -> the class set of that corpus
CLASS_SETS: dict[str, ClassSet] = {
    "synthetic": MSP_PODCAST,
    "msp_podcast": MSP_PODCAST,
    "crema_d": CREMA_D,
}


def class_set(source: str) -> ClassSet:
    """The class set of a ``corpus.source`` (``synthetic``, ``msp_podcast``, ``crema_d``)."""
    try:
        return CLASS_SETS[source]
    except KeyError:
        raise ValueError(f"unknown corpus source {source!r} (known: {', '.join(CLASS_SETS)})") from None


#: every class set sertools knows, each once
KNOWN: tuple[ClassSet, ...] = (MSP_PODCAST, CREMA_D)


def from_names(names: tuple[str, ...] | list[str]) -> ClassSet:
    """The class set whose class names are ``names``, in order (a metrics document records its
    classes by name)."""
    for c in KNOWN:
        if tuple(names) == c.names:
            return c
    raise ValueError(f"no class set has the classes {list(names)} (known: {', '.join(CLASS_SETS)})")


def from_outputs(num_classes: int, dimensions: Sequence[str]) -> list[ClassSet]:
    """The known class sets a model with ``num_classes`` logits and the dimensional outputs
    ``dimensions`` can predict (a model's architecture records its outputs, not their names)."""
    return [c for c in KNOWN if c.k == int(num_classes) and c.dimensions == tuple(dimensions)]

"""The one rule for what a corpus has to show: which tables and figures are made for it.

Every table (:data:`sertools.report.tables.TABLES`) and figure
(:func:`sertools.report.figures.figure_stems`) names what it needs from the
corpus, keys of :data:`NEEDS`: the Other-class analysis needs an Other class,
the CCC table A/V/D ratings, the intended-emotion table an intended emotion per
utterance, the paper comparison the paper's class set. A table or figure whose
needs the corpus's class set does not meet has nothing to show: it is not made
(no empty table, no empty axes), the same way in the tables and figures stages,
the workflow's declared outputs and the report. :func:`left_out` says which and why,
for the stages' logs and docs/corpus.md ("What a CREMA-D run makes").
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from sertools.classes import MSP_PODCAST, ClassSet

__all__ = ["NEEDS", "lacking", "left_out", "shown"]

#: need -> (whether a class set meets it, why a corpus that does not has nothing to show)
NEEDS: dict[str, tuple[Callable[[ClassSet], bool], str]] = {
    "other": (lambda c: c.other is not None, "the corpus has no Other class"),
    "dimensions": (lambda c: c.dimensional, "the corpus has no arousal/valence/dominance ratings"),
    "intended": (lambda c: c.intended, "the corpus records no intended emotion"),
    "paper_classes": (
        lambda c: c == MSP_PODCAST,
        "the paper's Table 2 is on MSP-Podcast's nine classes",
    ),
}


def lacking(needs: Collection[str], classes: ClassSet) -> list[str]:
    """Why ``classes`` cannot show something that needs ``needs`` (empty: it can)."""
    unknown = sorted(set(needs) - set(NEEDS))
    if unknown:
        raise ValueError(f"unknown need(s) {unknown}; known: {sorted(NEEDS)}")
    return [NEEDS[n][1] for n in sorted(needs) if not NEEDS[n][0](classes)]


def shown(needs: Collection[str], classes: ClassSet) -> bool:
    """Whether a table or figure that needs ``needs`` is made for a corpus of ``classes``."""
    return not lacking(needs, classes)


def left_out(items: Mapping[str, Collection[str]], classes: ClassSet) -> dict[str, str]:
    """name -> why it is not made, for each of ``items`` (name -> needs) that ``classes`` cannot show."""
    return {name: "; ".join(why) for name, needs in items.items() if (why := lacking(needs, classes))}

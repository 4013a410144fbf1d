"""The CREMA-D label statistics of docs/corpus.md, beside the numbers the corpus paper publishes.

``python -m sertools.report.crema_d_stats SUMMARY.json --write docs/corpus.md`` replaces the block
between :data:`BEGIN` and :data:`END` with tables made from a CREMA-D label summary (the label
stage's ``summary.json``, ``sertools labels DIR --source crema_d``): per rating modality the share
of responses naming the intended emotion (over all responses, and the mean over the six intended
emotions), the published recognition rate, the share of untied clips whose plurality is the intended
emotion, Fleiss' kappa, ties and vote entropy; then the per-emotion shares. Every number of the
block comes from the summary but the published ones (:data:`PUBLISHED`), which are cited.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sertools.classes import CREMA_D
from sertools.corpus.crema_d import modality_order
from sertools.report.readme import replace_block

__all__ = ["BEGIN", "END", "PUBLISHED", "PUBLISHED_SOURCE", "block", "main"]

BEGIN = "<!-- BEGIN crema-d-label-stats (python -m sertools.report.crema_d_stats) -->"
END = "<!-- END crema-d-label-stats -->"
#: the human recognition of the intended emotion per modality, as the corpus paper's abstract states it
PUBLISHED: dict[str, float] = {"voice": 0.409, "face": 0.582, "audiovisual": 0.636}
PUBLISHED_SOURCE = (
    "Cao, Cooper, Keutmann, Gur, Nenkova, Verma, CREMA-D: Crowd-sourced Emotional Multimodal Actors "
    "Dataset, IEEE Transactions on Affective Computing 5(4), 2014, abstract (PMC4313618)"
)
_LABELS = {"voice": "voice only", "face": "face only", "audiovisual": "audio-visual"}


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.1f} %"


def _points(x: Any, modality: str) -> str:
    """``x`` minus the published rate of ``modality``, in percentage points (– when either is absent)."""
    pub = PUBLISHED.get(modality)
    return "–" if x is None or pub is None else f"{100 * (float(x) - pub):+.1f}"


def _num(x: Any, digits: int = 3) -> str:
    return "–" if x is None else f"{float(x):.{digits}f}"


def _modalities(summary: Mapping[str, Any]) -> list[str]:
    found = summary.get("statistics") or {}
    return modality_order(found)


def block(summary: Mapping[str, Any], source: str) -> str:
    """The Markdown block (markers included) from a CREMA-D label summary; ``source`` says which file."""
    if summary.get("corpus") != "crema_d":
        raise ValueError(f"{source}: not a CREMA-D label summary (corpus {summary.get('corpus')!r})")
    stats = summary["statistics"]
    mods = _modalities(summary)
    head = "| | " + " | ".join(_LABELS.get(m, m) for m in mods) + " |"
    rule = "|---|" + "---|" * len(mods)
    rows = [
        ("clips", lambda b, m: str(b["clips"])),
        (
            "responses (mean per clip)",
            lambda b, m: f"{b['responses']} ({_num(b['responses_per_clip']['mean'], 2)})",
        ),
        ("responses naming the intended emotion", lambda b, m: _pct(b["responses_matching_intended"])),
        (
            "the same, mean over the six intended emotions",
            lambda b, m: _pct(b.get("responses_matching_intended_class_mean")),
        ),
        ("published recognition rate (Cao et al. 2014)", lambda b, m: _pct(PUBLISHED.get(m))),
        (
            "difference from the published rate, all responses (mean over emotions)",
            lambda b, m: (
                f"{_points(b['responses_matching_intended'], m)} "
                f"({_points(b.get('responses_matching_intended_class_mean'), m)})"
            ),
        ),
        (
            "untied clips whose plurality is the intended emotion",
            lambda b, m: _pct(b["plurality_matching_intended"]),
        ),
        ("Fleiss' kappa", lambda b, m: _num(b["fleiss_kappa"]["kappa"])),
        ("tied clips", lambda b, m: f"{b['ties']['clips']} ({_pct(b['ties']['share'])})"),
        (
            "normalised vote entropy, mean (median)",
            lambda b, m: f"{_num(b['entropy']['mean'])} ({_num(b['entropy']['q50'])})",
        ),
    ]
    lines = [BEGIN, "", head, rule]
    lines += [f"| {name} | " + " | ".join(cell(stats[m], m) for m in mods) + " |" for name, cell in rows]
    lines += ["", "Responses naming the intended emotion, per intended emotion:", ""]
    lines += ["| intended | clips | " + " | ".join(_LABELS.get(m, m) for m in mods) + " |", rule + "---|"]
    first = stats[mods[0]] if mods else {}
    for name in CREMA_D.names:
        by = [stats[m].get("responses_matching_intended_by_class", {}).get(name) for m in mods]
        clips = (first.get("clips_by_intended_class") or {}).get(name)
        lines.append(
            f"| {name} | {'–' if clips is None else clips} | " + " | ".join(_pct(x) for x in by) + " |"
        )
    lines += [
        "",
        f"From `{source}` (the label summary of `sertools labels DIR --source crema_d`; "
        f"{summary.get('utterances_kept')} of {summary.get('utterances_read')} clips kept, "
        f"{summary.get('rows_read')} rows of tabulatedVotes.csv read). Published: {PUBLISHED_SOURCE}.",
        "",
        END,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("summary", help="a CREMA-D label summary (summary.json)")
    ap.add_argument("--write", metavar="MARKDOWN", help="replace the block in this file (else print it)")
    ap.add_argument("--source", help="how the block names the summary (default: its path)")
    args = ap.parse_args(argv)
    path = Path(args.summary)
    text = block(json.loads(path.read_text()), args.source or str(path))
    if args.write:
        doc = Path(args.write)
        doc.write_text(replace_block(doc.read_text(), BEGIN, END, text, doc))
    else:
        print(text)


if __name__ == "__main__":
    main()

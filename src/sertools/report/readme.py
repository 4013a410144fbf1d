"""Copy the demo's results into README.md (run by `make readme` after `make demo`).

The README's results block is replaced whole by ``results/tables/main.md`` (the
pipeline's Markdown Table 2 analogue) and the entropy-strata figure, which is
copied to ``docs/``. After `make study`, the block "What the simulation shows"
is replaced by ``results/study/tables/findings.md`` and the study's JSD figure.
Nothing in either block is typed by hand.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

BEGIN, END = "<!-- BEGIN demo-results (written by `make readme`) -->", "<!-- END demo-results -->"
STUDY_BEGIN = "<!-- BEGIN study-results (written by `make readme` after `make study`) -->"
STUDY_END = "<!-- END study-results -->"


def block(results: Path, docs: Path, commit: str) -> str:
    table = (results / "tables" / "main.md").read_text().strip()
    figure = results / "figures" / "strata_jsd_primary.png"
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(figure, docs / figure.name)
    labels = json.loads((results / "labels" / "summary.json").read_text())
    kappa = labels["reliability"]["fleiss_kappa_primary"].get("all")
    lines = [
        BEGIN,
        f"Produced by `make demo` at commit `{commit}` on the embedded synthetic corpus "
        f"({labels['utterances_kept']} utterances, Fleiss' kappa of primary votes "
        f"{kappa:.3f}); copied from `results/tables/main.md` by `make readme`.",
        "",
        table,
        "",
        f"![JSD to the primary-vote distribution per entropy stratum](docs/{figure.name})",
        "",
        END,
    ]
    return "\n".join(lines)


def study_block(results: Path, docs: Path, commit: str) -> str | None:
    """The findings and the JSD figure of `make study` (None when results/study/ has none)."""
    study = results / "study"
    findings = study / "tables" / "findings.md"
    if not findings.is_file():
        return None
    figure = study / "figures" / "reliability_jsd.png"
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(figure, docs / f"study_{figure.name}")
    body = findings.read_text().strip().split("\n", 1)[1].strip()  # without its title
    lines = [
        STUDY_BEGIN,
        f"Produced by `make study` at commit `{commit}`; written by the pipeline into "
        "`results/study/tables/findings.md` and copied here by `make readme` (tables: "
        "`results/study/tables/`, design: [docs/study.md](docs/study.md)).",
        "",
        body,
        "",
        f"![JSD to the latent truth and to the votes against rater reliability](docs/study_{figure.name})",
        "",
        STUDY_END,
    ]
    return "\n".join(lines)


def _replace(text: str, begin: str, end: str, content: str, readme: Path) -> str:
    if begin not in text or end not in text:
        raise SystemExit(f"{readme}: markers {begin!r} ... {end!r} not found")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + content + tail


def update(readme: Path, results: Path, docs: Path, commit: str) -> None:
    """Replace the demo block (and the study block, when results/study/ holds the study's findings)."""
    text = _replace(readme.read_text(), BEGIN, END, block(results, docs, commit), readme)
    study = study_block(results, docs, commit)
    if study is not None:
        text = _replace(text, STUDY_BEGIN, STUDY_END, study, readme)
    readme.write_text(text)


if __name__ == "__main__":
    import subprocess

    sha = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    update(
        Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"),
        Path("results"),
        Path("docs"),
        sha or "unknown",
    )

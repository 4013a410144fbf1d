"""Copy the demo's results into README.md (run by `make readme` after `make demo`).

The README's results block is replaced whole by ``results/tables/main.md`` (the
pipeline's Markdown Table 2 analogue) and the entropy-strata figure, which is
copied to ``docs/``. Nothing in that block is typed by hand.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

BEGIN, END = "<!-- BEGIN demo-results (written by `make readme`) -->", "<!-- END demo-results -->"


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


def update(readme: Path, results: Path, docs: Path, commit: str) -> None:
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: markers {BEGIN!r} ... {END!r} not found")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + block(results, docs, commit) + tail)


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

"""Copy the demo's results into README.md (run by `make readme` after `make demo`).

The README's results block is replaced whole by ``results/tables/main.md`` (the
pipeline's Markdown Table 2 analogue) and the entropy-strata figure, which is
copied to ``docs/``. The block also says where the numbers were computed: the CPU
model, the machine's logical CPUs and the torch threads of the training jobs, as each
training run recorded them in ``results/train/<variant>/seed<k>/env.json``
(:mod:`sertools.training.runtime.provenance`), not as seen by the machine running
`make readme`; runs made on different machines are named as such. ``main.csv`` is
copied to ``docs/demo_main.csv``, the reference a user compares a run of their own with
(``sertools compare``, :mod:`sertools.report.compare`). After `make study`, the block "What the simulation shows"
is replaced by ``results/study/tables/findings.md`` and the study's JSD figure.
Nothing in either block is typed by hand.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- BEGIN demo-results (written by `make readme`) -->", "<!-- END demo-results -->"
STUDY_BEGIN = "<!-- BEGIN study-results (written by `make readme` after `make study`) -->"
STUDY_END = "<!-- END study-results -->"
#: the demo's main.csv as copied into docs/: what `sertools compare` checks another run against
DEMO_CSV = "demo_main.csv"


def _table_variants(main_csv: Path) -> set[str] | None:
    """The trained variants of ``main.csv`` (not the reference rows); None without the file."""
    if not main_csv.is_file():
        return None
    with open(main_csv, newline="", encoding="utf-8") as fh:
        return {r["variant"] for r in csv.DictReader(fh) if r.get("model") != "reference"}


def run_environments(results: Path) -> list[dict[str, Any]]:
    """The ``env.json`` of every training run behind the table, in path order.

    Runs of variants that ``tables/main.csv`` does not show (left over from an
    earlier configuration) are skipped.
    """
    variants = _table_variants(results / "tables" / "main.csv")
    envs = []
    for path in sorted((results / "train").glob("*/seed*/env.json")):
        if variants is None or path.parent.parent.name in variants:
            envs.append(json.loads(path.read_text()))
    return envs


def _machine(env: Mapping[str, Any]) -> str:
    cpu = env.get("cpu") or "an unrecorded CPU"
    cores = env.get("cpu_count")
    text = f"{cpu} ({cores} logical CPUs)" if cores else f"{cpu} (core count not recorded)"
    return f"{text} with GPU {env['gpu_name']}" if env.get("gpu_name") else text


def _threads(envs: Sequence[Mapping[str, Any]]) -> str:
    counts = sorted({e["torch_threads"] for e in envs if e.get("torch_threads") is not None})
    if not counts:
        return "torch thread count not recorded"
    values = " or ".join(str(c) for c in counts)
    return f"{values} torch thread{'s' if counts != [1] else ''} per training job"


def machine_sentence(envs: Sequence[Mapping[str, Any]]) -> str:
    """Where the training runs ran, from their ``env.json``: one machine, or each of several."""
    if not envs:
        return "No training run's provenance (`results/train/*/seed*/env.json`) was found: the CPU is not stated."
    machines = Counter(_machine(e) for e in envs)
    runs = f"{len(envs)} training run{'s' if len(envs) != 1 else ''}"
    if len(machines) == 1:
        where = f"The {runs} ran on {next(iter(machines))}"
    else:
        each = "; ".join(f"{n} on {m}" for m, n in sorted(machines.items(), key=lambda kv: (-kv[1], kv[0])))
        where = f"The {runs} did not all run on one machine ({each})"
    return f"{where}, {_threads(envs)} (as recorded in each run's `env.json`)."


def compare_sentence(reference: str | None) -> str:
    """How a reader checks a run of their own against ``reference`` (the copy of ``main.csv``)."""
    check = f"`sertools compare {reference} results/tables/main.csv`" if reference else "`sertools compare`"
    return (
        f"On another CPU model the numbers differ; whether a run of your own lies within these CIs, "
        f"{check} says ([results/README.md](results/README.md))."
    )


def block(results: Path, docs: Path, commit: str) -> str:
    table = (results / "tables" / "main.md").read_text().strip()
    figure = results / "figures" / "strata_jsd_primary.png"
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(figure, docs / figure.name)
    labels = json.loads((results / "labels" / "summary.json").read_text())
    kappa = labels["reliability"]["fleiss_kappa_primary"].get("all")
    main_csv, reference = results / "tables" / "main.csv", None
    if main_csv.is_file():
        shutil.copyfile(main_csv, docs / DEMO_CSV)
        reference = f"docs/{DEMO_CSV}"
    lines = [
        BEGIN,
        f"Produced by `make demo` at commit `{commit}` on the embedded synthetic corpus "
        f"({labels['utterances_kept']} utterances, Fleiss' kappa of primary votes "
        f"{kappa:.3f}); copied from `results/tables/main.md` by `make readme`. "
        + machine_sentence(run_environments(results))
        + " "
        + compare_sentence(reference),
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
        f"![JSD to the latent truth, the raters' mixture and the votes against rater reliability](docs/study_{figure.name})",
        "",
        STUDY_END,
    ]
    return "\n".join(lines)


def replace_block(text: str, begin: str, end: str, content: str, readme: Path) -> str:
    if begin not in text or end not in text:
        raise SystemExit(f"{readme}: markers {begin!r} ... {end!r} not found")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + content + tail


def update(readme: Path, results: Path, docs: Path, commit: str) -> None:
    """Replace the demo block (and the study block, when results/study/ holds the study's findings)."""
    text = replace_block(readme.read_text(), BEGIN, END, block(results, docs, commit), readme)
    study = study_block(results, docs, commit)
    if study is not None:
        text = replace_block(text, STUDY_BEGIN, STUDY_END, study, readme)
    readme.write_text(text)


def update_study(readme: Path, results: Path, docs: Path, commit: str) -> None:
    """Replace the study block only (``--study-only``: after `make study`, without demo results)."""
    study = study_block(results, docs, commit)
    if study is None:
        raise SystemExit(f"{results}/study/tables/findings.md not found: run `make study` first")
    readme.write_text(replace_block(readme.read_text(), STUDY_BEGIN, STUDY_END, study, readme))


if __name__ == "__main__":
    import subprocess

    sha = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    args = [a for a in sys.argv[1:] if a != "--study-only"]
    (update_study if "--study-only" in sys.argv[1:] else update)(
        Path(args[0] if args else "README.md"),
        Path("results"),
        Path("docs"),
        sha or "unknown",
    )

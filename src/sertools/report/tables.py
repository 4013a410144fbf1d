"""The ``tables`` stage: result tables from the metrics and significance documents.

Every table of :data:`TABLES` is written as ``.csv`` (the long-form record,
rows from :mod:`sertools.report.table_rows`), ``.md`` and ``.tex``
(presentation: a wide layout with a caption, rendered by
:mod:`sertools.report.render`). The Markdown/LaTeX versions show the test
splits (:data:`sertools.splits.TEST_SPLITS`) when present, otherwise every
split, with 3 decimals and the bootstrap CI in brackets.

The main, strata and significance tables use the common hard-label scheme
(``evaluation.common_hard_labels``) and strata distribution
(``evaluation.strata_distribution``) every variant shares; ``own_scheme``
shows the hard-label metrics under each variant's own scheme and
``entropy_strata_own`` the strata of each distributional variant's own target
distribution (``docs/metrics.md``).

Which tables a corpus gets is :func:`table_names`: a table that needs what the corpus's
class set lacks (the Other-class table without Other, the CCC table without A/V/D) is not
made, and the ``intended`` table (each metric against the perceived consensus and the
speaker's intended emotion) is made only for a corpus that records one
(:mod:`sertools.report.shown`).

The reference rows (:mod:`sertools.evaluation.reference`: ``oracle_truth``, the
latent truth as the prediction, and ``prior``, the Train class prior as a
constant prediction) come last in every table with variant rows, with the
Model ``reference``; they are never bold, never compared (no significance
rows) and never the baseline, and their single deterministic run does not
count towards the captions' seed numbers.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sertools.classes import MSP_PODCAST, ClassSet
from sertools.evaluation import metrics_doc, settings, significance_doc
from sertools.io import read_json, write_text
from sertools.report import shown as corpus_shown
from sertools.report import table_captions as captions
from sertools.report import table_layout as layout
from sertools.report.render import WideTable, csv_text
from sertools.report.stage import check_declared, document_classes, read_documents, validate_metrics
from sertools.report.table_captions import CaptionFacts
from sertools.report.table_rows import (
    CCC_COLUMNS,
    INTENDED_COLUMNS,
    LABEL_COLUMNS,
    MAIN_COLUMNS,
    OTHER_COLUMNS,
    OWN_COLUMNS,
    SIGNIFICANCE_COLUMNS,
    STRATA_COLUMNS,
    STRATA_OWN_COLUMNS,
    Row,
    TableError,
    ccc_rows,
    intended_rows,
    label_rows,
    main_rows,
    other_rows,
    own_rows,
    significance_rows,
    strata_own_rows,
    strata_rows,
    variant_order,
)

__all__ = [
    "CONFIG_KEYS",
    "TABLES",
    "TABLE_NAMES",
    "TableError",
    "build_tables",
    "left_out",
    "readme_table",
    "run",
    "table_files",
    "table_names",
]

PathLike = str | Path
log = logging.getLogger(__name__)

#: keys of the ``evaluation`` config section this stage reads (``ci_level``: significance
#: threshold ``1 - ci_level`` and captions; ``bootstrap_resamples``: captions)
CONFIG_KEYS: tuple[str, ...] = ("splits", "baseline_variant", "ci_level", "bootstrap_resamples")
_FORMATS = ("csv", "md", "tex")


# ============================================================================ the table specs


@dataclass
class _Inputs:
    """What the tables are made from, with the rows several tables share computed once."""

    metrics: Mapping[str, Mapping[str, Any]]
    significance: Mapping[str, Mapping[str, Any]]
    label_summary: Mapping[str, Any]
    evaluation: Mapping[str, Any]
    #: the reference rows among ``metrics``, in table order
    references: tuple[str, ...] = ()

    @cached_property
    def baseline(self) -> str:
        return str(self.evaluation["baseline_variant"])

    @cached_property
    def ci_level(self) -> float:
        return float(self.evaluation["ci_level"])

    @cached_property
    def ci_method(self) -> str:
        """The interval method of the metrics documents (``settings.ci_method``), which they must share."""
        found = {v: settings.recorded_ci_method(doc) for v, doc in self.metrics.items()}
        if len(set(found.values())) > 1:
            raise TableError(f"the metrics documents were computed with different ci_method: {found}")
        return next(iter(found.values()), settings.LEGACY_CI_METHOD)

    @cached_property
    def order(self) -> list[str]:
        return variant_order(self.metrics, self.baseline, self.references)

    @cached_property
    def main(self) -> list[Row]:
        """Rows of the main table (the CCC table is a subset)."""
        return main_rows(self.metrics, self.order)

    @cached_property
    def comparisons(self) -> list[Row]:
        """Rows of the significance table, in variant order (the main table marks from them)."""
        rows = significance_rows(self.significance, self.baseline, self.ci_level)
        rank = {v: i for i, v in enumerate(self.order)}
        return sorted(rows, key=lambda r: (rank.get(r["variant"], len(rank)), r["variant"]))

    @cached_property
    def captions(self) -> CaptionFacts:
        """What the captions of these tables say (seeds, intervals, schemes, references)."""
        return CaptionFacts(
            tuple(layout.model_seeds(self.main)),
            self.evaluation,
            self.ci_method,
            self.schemes,
            self.references,
            self.classes,
        )

    @cached_property
    def classes(self) -> ClassSet:
        """The class set the documents share (:func:`sertools.report.stage.document_classes`)."""
        return document_classes(self.metrics, TableError)

    @cached_property
    def schemes(self) -> dict[str, Any]:
        """The common scheme and strata distribution, which every metrics document must share."""
        found = {v: metrics_doc.schemes(self.metrics[v]) for v in self.order}
        keys = ("common_hard_labels", "strata_distribution")
        first = found[self.order[0]]
        for v, sch in found.items():
            if any(sch[k] != first[k] for k in keys):
                raise TableError(
                    f"variant {v!r} was evaluated on {[sch[k] for k in keys]}, "
                    f"{self.order[0]!r} on {[first[k] for k in keys]}: the common scheme must be shared"
                )
        return first


@dataclass(frozen=True)
class _TableSpec:
    """One table: its CSV columns and how its rows, wide presentation and caption are made."""

    name: str
    columns: tuple[str, ...]
    rows: Callable[[_Inputs], list[Row]]
    wide: Callable[[list[Row], _Inputs], WideTable]
    caption: Callable[[_Inputs], str]
    #: what the table needs from the corpus (:data:`sertools.report.shown.NEEDS`): without it the
    #: table has nothing to show and is not made
    needs: frozenset[str] = frozenset()


#: every table, in the order it is written
TABLES: tuple[_TableSpec, ...] = (
    _TableSpec(
        "main",
        MAIN_COLUMNS,
        lambda t: t.main,
        lambda rows, t: layout.main_wide(rows, t.comparisons),
        lambda t: captions.main_caption(
            t.captions.seeds,
            t.evaluation,
            bool(t.comparisons),
            t.schemes["common_hard_labels"],
            layout.has_truth(t.main),
            layout.reference_rows(t.main),
            t.ci_method,
        ),
    ),
    _TableSpec(
        "entropy_strata",
        STRATA_COLUMNS,
        lambda t: strata_rows(t.metrics, t.order),
        lambda rows, t: layout.stratified_wide(
            rows, layout.STRATA_SHOWN, ("jsd_primary",), references=t.references
        ),
        lambda t: captions.strata_caption(t.captions),
    ),
    _TableSpec(
        "significance",
        SIGNIFICANCE_COLUMNS,
        lambda t: t.comparisons,
        lambda rows, t: layout.sig_wide(rows),
        lambda t: captions.significance_caption(t.captions),
    ),
    _TableSpec(
        "ccc",
        CCC_COLUMNS,
        lambda t: ccc_rows(t.main),
        lambda rows, t: layout.ccc_wide(rows, t.references),
        lambda t: captions.ccc_caption(t.captions),
        frozenset({"dimensions"}),
    ),
    _TableSpec(
        "other_class",
        OTHER_COLUMNS,
        lambda t: other_rows(t.metrics, t.order),
        lambda rows, t: layout.other_wide(rows, t.references),
        lambda t: captions.other_caption(t.captions),
        frozenset({"other"}),
    ),
    _TableSpec(
        "label_stats",
        LABEL_COLUMNS,
        lambda t: label_rows(t.label_summary),
        lambda rows, t: layout.label_wide(rows),
        lambda t: captions.label_caption(t.captions),
    ),
    _TableSpec(
        "own_scheme",
        OWN_COLUMNS,
        lambda t: own_rows(t.metrics, t.order),
        lambda rows, t: layout.own_wide(rows, t.references),
        lambda t: captions.own_caption(t.captions),
    ),
    _TableSpec(
        "entropy_strata_own",
        STRATA_OWN_COLUMNS,
        lambda t: strata_own_rows(t.metrics, t.order),
        # an empty stratum's size is its one n_utterances row
        lambda rows, t: layout.stratified_wide(
            rows,
            layout.STRATA_OWN_SHOWN,
            ("jsd_primary", "n_utterances"),
            target=True,
            references=t.references,
        ),
        lambda t: captions.strata_own_caption(t.captions),
    ),
    _TableSpec(
        "intended",
        INTENDED_COLUMNS,
        lambda t: intended_rows(t.metrics, t.order),
        lambda rows, t: layout.intended_wide(rows),
        lambda t: captions.intended_caption(t.captions),
        frozenset({"intended"}),
    ),
)
#: every table's name, whatever the corpus (:func:`table_names` gives a corpus's)
TABLE_NAMES: tuple[str, ...] = tuple(spec.name for spec in TABLES)


def table_names(classes: ClassSet = MSP_PODCAST) -> list[str]:
    """The tables made for a corpus of ``classes`` (:mod:`sertools.report.shown`), in order."""
    return [spec.name for spec in TABLES if corpus_shown.shown(spec.needs, classes)]


def left_out(classes: ClassSet) -> dict[str, str]:
    """The tables not made for a corpus of ``classes``, with why."""
    return corpus_shown.left_out({spec.name: spec.needs for spec in TABLES}, classes)


# ================================================================================ writing


def table_files(
    out_dir: PathLike, formats: Sequence[str] = _FORMATS, classes: ClassSet = MSP_PODCAST
) -> list[Path]:
    """Every file :func:`build_tables` writes into ``out_dir`` for a corpus of ``classes``
    (table-major, then format)."""
    d = Path(out_dir)
    return [d / f"{name}.{ext}" for name in table_names(classes) for ext in formats]


def _write_table(out_dir: Path, spec: _TableSpec, t: _Inputs) -> list[Path]:
    """The CSV of the table's rows, and its wide form as Markdown and LaTeX with the caption."""
    rows = spec.rows(t)
    wide = spec.wide(rows, t)
    caption = spec.caption(t)
    texts = (
        csv_text(spec.columns, rows),
        wide.markdown(caption),
        wide.latex(caption, "tab:" + spec.name.replace("_", "-")),
    )
    paths = [out_dir / f"{spec.name}.{ext}" for ext in _FORMATS]
    for p, text in zip(paths, texts, strict=True):
        write_text(p, text)
    return paths


def _check_inputs(
    metrics: Mapping[str, Mapping[str, Any]],
    significance: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    references: Sequence[str],
) -> None:
    for key in ("baseline_variant", "ci_level", "bootstrap_resamples"):
        if key not in evaluation:
            raise TableError(f"evaluation config lacks key {key!r} (pass config['evaluation'])")
    if not metrics:
        raise TableError("build_tables: no variant metrics given")
    for r in references:
        if r not in metrics:
            raise TableError(f"reference {r!r} has no metrics document")
        if r == evaluation["baseline_variant"]:
            raise TableError(f"reference {r!r} cannot be the baseline: it is not a model")
        if r in significance:
            raise TableError(f"reference {r!r} has a significance document: references are never compared")
    if len(set(references)) != len(references):
        raise TableError(f"references listed twice: {list(references)}")
    if not set(metrics) - set(references):
        raise TableError("build_tables: only reference rows given, no variant")
    validate_metrics(metrics, TableError)


def build_tables(
    metrics: Mapping[str, Mapping[str, Any]],
    significance: Mapping[str, Mapping[str, Any]],
    label_summary: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    out_dir: PathLike,
    references: Sequence[str] = (),
) -> list[Path]:
    """Write every table of :data:`TABLES` and return the paths written.

    ``metrics``: variant -> metrics document, the reference rows' included;
    ``significance``: variant -> significance document (the baseline itself
    may be absent, a reference always is); ``label_summary``: the label
    stage's ``summary.json``; ``references``: which of ``metrics`` are
    reference rows (:mod:`sertools.evaluation.reference`), in table order.
    """
    references = tuple(references)
    _check_inputs(metrics, significance, evaluation, references)
    t = _Inputs(metrics, significance, label_summary, evaluation, references)
    written: list[Path] = []
    for spec in TABLES:
        if corpus_shown.shown(spec.needs, t.classes):
            written += _write_table(Path(out_dir), spec, t)
    return written


def _read_csv(path: PathLike) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def readme_table(
    main_csv_path: PathLike,
    evaluation: Mapping[str, Any] | None = None,
    significance_csv_path: PathLike | None = None,
) -> str:
    """The Markdown Table 2 analogue, built from ``main.csv`` (and ``significance.csv`` for † marks).

    Rows are variants (the reference rows last, Model ``reference``); columns
    Test1/Test2 x (macro-F1, accuracy, JSD, KLD) as ``mean [lo, hi]``. ``evaluation`` (``bootstrap_resamples``, ``ci_level``,
    ``ci_method``, ``baseline_variant``, ``common_hard_labels``) only fills in the caption; without ``ci_method``
    the caption names the percentile interval (that of documents which do not record it).
    Identical to ``main.md``.
    """
    rows = _read_csv(main_csv_path)
    if not rows or set(MAIN_COLUMNS) - {"model"} - set(rows[0]):
        raise TableError(f"{main_csv_path} is empty or lacks the columns {list(MAIN_COLUMNS)}")
    sig = _read_csv(significance_csv_path) if significance_csv_path else None
    scheme = str((evaluation or {}).get("common_hard_labels", "consensus"))
    method = str((evaluation or {}).get("ci_method", settings.LEGACY_CI_METHOD))
    caption = captions.main_caption(
        layout.model_seeds(rows),
        evaluation,
        bool(sig),
        scheme,
        layout.has_truth(rows),
        layout.reference_rows(rows),
        method,
    )
    return layout.main_wide(rows, sig).markdown(caption)


def run(
    inputs: Mapping[str, Any],
    outputs: Iterable[PathLike] | Mapping[str, PathLike],
    *,
    evaluation: Mapping[str, Any],
    variants: Sequence[str],
    compared: Sequence[str],
    out_dir: PathLike,
    references: Sequence[str] = (),
) -> list[Path]:
    """The ``tables`` rule: every table from the variants' documents into ``out_dir``.

    ``inputs``: ``metrics`` (one metrics document per variant, in ``variants``
    order), ``significance`` (one per variant of ``compared``, in that order),
    ``references`` (one metrics document per reference row of ``references``,
    in that order; may be absent without references) and ``label_summary``.
    Every file of ``outputs`` must be among those written.
    """
    overlap = sorted(set(references) & set(variants))
    if overlap:
        raise TableError(f"{overlap} are both variants and reference rows")
    metrics = read_documents(metrics_doc.read, variants, inputs["metrics"], TableError)
    ref_paths = inputs["references"] if references else []
    metrics.update(read_documents(metrics_doc.read, references, ref_paths, TableError))
    significance = read_documents(significance_doc.read, compared, inputs["significance"], TableError)
    label_summary = read_json(inputs["label_summary"], error=TableError)
    written = build_tables(metrics, significance, label_summary, evaluation, out_dir, references)
    check_declared(outputs, written, TableError, "tables")
    for name, why in left_out(document_classes(metrics, TableError)).items():
        log.info("table %s not made: %s", name, why)
    return written

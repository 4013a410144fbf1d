"""The ``figures`` stage: every figure of the evaluation, as PNG and PDF.

Which figures exist is :func:`figure_stems`: per-metric entropy-strata plots,
the Other-class plot, the entropy histogram and the example utterances of
the headline split (shared by all variants), then a confusion matrix, a
reliability diagram and training curves per variant. The drawing itself is
in :mod:`sertools.report.plots`.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from sertools import splits as partitions
from sertools.classes import MSP_PODCAST, ClassSet
from sertools.evaluation import metrics_doc
from sertools.io import read_json
from sertools.report import plots
from sertools.report import shown as corpus_shown
from sertools.report.stage import check_declared, document_classes, read_documents, validate_metrics
from sertools.report.style import PlotError

__all__ = [
    "CONFIG_KEYS",
    "FIGURE_NEEDS",
    "STRATA_FIGURE_METRICS",
    "VARIANT_FIGURES",
    "PlotError",
    "build_figures",
    "figure_stems",
    "left_out",
    "run",
]

PathLike = str | Path

#: keys of the ``evaluation`` config section this stage reads (``baseline_variant``: variant
#: order; ``entropy_bins``: stratum edges drawn on the entropy histogram)
CONFIG_KEYS: tuple[str, ...] = ("splits", "baseline_variant", "entropy_bins")
#: metrics with an entropy-strata figure (``strata_<metric>``)
STRATA_FIGURE_METRICS: tuple[str, ...] = ("jsd_primary", "kld_primary", "macro_f1")
#: figures drawn for each variant (``<kind>_<variant>``), in this order
VARIANT_FIGURES: tuple[str, ...] = ("confusion", "reliability", "training")
#: what a shared figure needs from the corpus (:data:`sertools.report.shown.NEEDS`; absent: nothing)
FIGURE_NEEDS: dict[str, frozenset[str]] = {"other_class": frozenset({"other"})}


def figure_stems(
    variants: Sequence[str],
    with_training: bool = True,
    example_split: str = partitions.HEADLINE,
    classes: ClassSet = MSP_PODCAST,
) -> list[str]:
    """File stems (no extension) :func:`build_figures` writes for a corpus of ``classes``; each
    gets ``.png`` and ``.pdf``.

    The shared figures first (``figure_stems([])`` gives only those), then
    :data:`VARIANT_FIGURES` for each variant in the given order. A figure whose
    :data:`FIGURE_NEEDS` the corpus does not meet is not made (:mod:`sertools.report.shown`).
    """
    stems = [f"strata_{m}" for m in STRATA_FIGURE_METRICS]
    stems += ["other_class", "entropy_histogram", f"examples_{example_split}"]
    stems = [s for s in stems if corpus_shown.shown(FIGURE_NEEDS.get(s, ()), classes)]
    kinds = [k for k in VARIANT_FIGURES if with_training or k != "training"]
    return stems + [f"{kind}_{v}" for v in variants for kind in kinds]


def left_out(classes: ClassSet) -> dict[str, str]:
    """The shared figures not made for a corpus of ``classes``, with why."""
    return corpus_shown.left_out(FIGURE_NEEDS, classes)


def _read_log(path: PathLike) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise PlotError(f"cannot read training log {path}: {err}") from None


def _check_inputs(
    metrics: Mapping[str, Mapping[str, Any]], train_logs: Mapping[str, Mapping[Any, Any]] | None
) -> None:
    """Fail before drawing anything: no variants, a malformed document, missing training logs."""
    if not metrics:
        raise PlotError("build_figures: no variant metrics")
    validate_metrics(metrics, PlotError)
    if train_logs is not None:
        absent = [v for v in metrics if not train_logs.get(v)]
        if absent:
            raise PlotError(f"build_figures: no training logs for variant(s) {absent}")


def _tasks(
    ordered: Mapping[str, Mapping[str, Any]],
    label_summary: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    d: Path,
    train_logs: Mapping[str, Mapping[Any, PathLike | pd.DataFrame]] | None,
    example_split: str,
) -> list[tuple[Callable[..., list[Path]], tuple, dict]]:
    """Every figure as ``(plot function, args, kwargs)``, in :func:`figure_stems` order."""
    tasks: list[tuple[Callable[..., list[Path]], tuple, dict]] = [
        (plots.plot_metric_by_stratum, (ordered, m, d / f"strata_{m}"), {}) for m in STRATA_FIGURE_METRICS
    ]
    if corpus_shown.shown(FIGURE_NEEDS["other_class"], document_classes(ordered, PlotError)):
        tasks.append((plots.plot_other_by_stratum, (ordered, d / "other_class"), {}))
    edges = evaluation.get("entropy_bins")
    tasks.append((plots.plot_entropy_histogram, (label_summary, d / "entropy_histogram"), {"edges": edges}))
    have = partitions.ordered({s for doc in ordered.values() for s in metrics_doc.split_names(doc)})
    split = example_split if example_split in have else have[0]
    tasks.append((plots.plot_examples, (ordered, d / f"examples_{example_split}"), {"split": split}))
    for v, doc in ordered.items():
        tasks.append((plots.plot_confusion, (doc, d / f"confusion_{v}"), {"variant": v}))
        tasks.append((plots.plot_reliability, (doc, d / f"reliability_{v}"), {"variant": v}))
        if train_logs is not None:
            frames = {
                s: (p if isinstance(p, pd.DataFrame) else _read_log(p)) for s, p in train_logs[v].items()
            }
            tasks.append((plots.plot_training_curves, (frames, d / f"training_{v}"), {"variant": v}))
    return tasks


def _draw(task: tuple[Callable[..., list[Path]], tuple, dict]) -> list[Path]:
    func, args, kwargs = task
    return func(*args, **kwargs)


def build_figures(
    metrics: Mapping[str, Mapping[str, Any]],
    label_summary: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    out_dir: PathLike,
    train_logs: Mapping[str, Mapping[Any, PathLike | pd.DataFrame]] | None = None,
    example_split: str = partitions.HEADLINE,
    workers: int = 1,
) -> list[Path]:
    """Every figure of :func:`figure_stems` into ``out_dir``; returns the files written.

    ``metrics``: variant -> metrics document; ``train_logs``: variant -> seed
    -> train_log.csv path (or DataFrame). The example figure uses
    ``example_split``, or the first evaluated split when that one is absent
    (the stem keeps the requested name).

    Each figure depends only on its own data, so with ``workers`` > 1 they
    are drawn by a pool of forked processes (matplotlib's Agg and PDF
    writers; no torch, so no inherited thread locks); the files and the
    returned order are the same as with one worker (tested).
    """
    _check_inputs(metrics, train_logs)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    base = evaluation.get("baseline_variant")
    ordered = {v: metrics[v] for v in sorted(metrics, key=lambda v: (v != base, v))}
    tasks = _tasks(ordered, label_summary, evaluation, Path(out_dir), train_logs, example_split)
    if workers == 1:
        parts = [_draw(t) for t in tasks]
    else:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
            parts = list(pool.map(_draw, tasks))
    return [path for part in parts for path in part]


def _train_logs(paths: Sequence[PathLike], variants: Sequence[str], seeds: Sequence[Any]) -> dict:
    """variant -> seed -> path from the rule's flat list (``expand`` order: variant-major, then seed)."""
    paths = list(paths)
    if len(paths) != len(variants) * len(seeds):
        raise PlotError(f"{len(paths)} training logs for {len(variants)} variants x {len(seeds)} seeds")
    logs = iter(paths)
    return {v: {s: next(logs) for s in seeds} for v in variants}


def run(
    inputs: Mapping[str, Any],
    outputs: Iterable[PathLike] | Mapping[str, PathLike],
    *,
    evaluation: Mapping[str, Any],
    variants: Sequence[str],
    seeds: Sequence[Any],
    out_dir: PathLike,
    workers: int = 1,
) -> list[Path]:
    """The ``figures`` rule: every figure from the variants' documents into ``out_dir``.

    ``inputs``: ``metrics`` (one metrics document per variant, in ``variants``
    order), ``label_summary``, and ``train_logs`` (one per variant and seed,
    variant-major). Every file of ``outputs`` must be among those written.
    """
    metrics = read_documents(
        metrics_doc.read, variants, inputs["metrics"], PlotError, metrics_doc.MetricsDocError
    )
    label_summary = read_json(inputs["label_summary"], error=PlotError)
    train_logs = _train_logs(inputs["train_logs"], variants, seeds)
    written = build_figures(
        metrics, label_summary, evaluation, out_dir, train_logs=train_logs, workers=workers
    )
    check_declared(outputs, written, PlotError, "figures")
    return written

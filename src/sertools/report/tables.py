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

The reference rows (:mod:`sertools.evaluation.reference`: ``oracle_truth``, the
latent truth as the prediction, and ``prior``, the Train class prior as a
constant prediction) come last in every table with variant rows, with the
Model ``reference``; they are never bold, never compared (no significance
rows) and never the baseline, and their single deterministic run does not
count towards the captions' seed numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sertools import splits as partitions
from sertools.evaluation import metrics_doc, settings, significance_doc
from sertools.io import read_json, write_text
from sertools.report.render import WideTable, best_flags, csv_text, interval
from sertools.report.stage import check_declared, read_documents, validate_metrics
from sertools.report.table_rows import (
    ATTRIBUTES,
    CCC_COLUMNS,
    LABEL_COLUMNS,
    MAIN_COLUMNS,
    OTHER_COLUMNS,
    OTHER_FIELDS,
    OWN_COLUMNS,
    REFERENCE_MODEL,
    SIGNIFICANCE_COLUMNS,
    STRATA_COLUMNS,
    STRATA_OWN_COLUMNS,
    Row,
    TableError,
    ccc_rows,
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
    "readme_table",
    "run",
    "table_files",
]

PathLike = str | Path

#: keys of the ``evaluation`` config section this stage reads (``ci_level``: significance
#: threshold ``1 - ci_level`` and captions; ``bootstrap_resamples``: captions)
CONFIG_KEYS: tuple[str, ...] = ("splits", "baseline_variant", "ci_level", "bootstrap_resamples")
#: metric -> (header, higher is better) of every metric a wide table shows
_HEADERS: dict[str, tuple[str, bool]] = {
    "macro_f1": ("Macro-F1", True),
    "macro_f1_published": ("Macro-F1 (TP>0)", True),
    "uar": ("UAR", True),
    "accuracy": ("Accuracy", True),
    "f1_Other": ("F1 Other", True),
    "jsd_primary": ("JSD", False),
    "kld_primary": ("KLD", False),
    "jsd_true": ("JSD true", False),
    "kld_true": ("KLD true", False),
}


def _shown(*metrics: str) -> tuple[tuple[str, str, bool], ...]:
    """(metric, header, higher is better) of the columns of a wide table."""
    return tuple((m, *_HEADERS[m]) for m in metrics)


_HEADLINE = _shown("macro_f1", "accuracy", "jsd_primary", "kld_primary")
#: headline columns added when the corpus has a latent truth (the synthetic corpus)
_TRUTH_SHOWN = _shown("jsd_true", "kld_true")
_STRATA_SHOWN = _shown("macro_f1", "jsd_primary", "kld_primary")
_OWN_SHOWN = _shown("macro_f1", "macro_f1_published", "uar", "accuracy", "f1_Other")
_STRATA_OWN_SHOWN = _shown("macro_f1", "macro_f1_published", "uar")
#: (metric, header) of the significance table: the difference of the metric
_SIG_SHOWN: tuple[tuple[str, str], ...] = tuple(
    (m, f"Δ{_HEADERS[m][0]}") for m in ("macro_f1", "jsd_primary", "kld_primary")
)
_FORMATS = ("csv", "md", "tex")
#: what each reference row is, for the captions
_REFERENCE_TEXT: dict[str, str] = {
    "oracle_truth": "oracle_truth predicts each utterance's latent true distribution (the ceiling: JSD and "
    "KLD true 0)",
    "prior": "prior predicts the Train class prior, the mean Train primary-vote distribution, for every "
    "utterance (chance)",
}

# ============================================================================== presentation


def _shown_splits(splits: Iterable[str]) -> list[str]:
    present = partitions.ordered(set(splits))
    tests = [s for s in present if s in partitions.TEST_SPLITS]
    return tests or present


def _lookup(rows: Iterable[Mapping[str, str]], *keys: str) -> dict[tuple[str, ...], Mapping[str, str]]:
    return {tuple(r[k] for k in keys): r for r in rows}


def _cell(r: Mapping[str, str] | None, field: str = "mean") -> str:
    """``mean [lo, hi]`` of a CSV row (``field`` and its ``_ci_low``/``_ci_high`` twins for the
    Other-class table), or ``–`` without a row."""
    if not r:
        return "–"
    if field == "mean":
        return interval(r["mean"], r["ci_low"], r["ci_high"])
    return interval(r[field], r[f"{field}_ci_low"], r[f"{field}_ci_high"])


def _sig_marks(sig_rows: Iterable[Mapping[str, str]] | None) -> set[tuple[str, str, str]]:
    """(variant, split, metric) with a Holm-significant difference on the whole split."""
    if not sig_rows:
        return set()
    return {
        (r["variant"], r["split"], r["metric"])
        for r in sig_rows
        if r.get("stratum") == partitions.ALL and r.get("significant") == "true"
    }


def _stub(variant: str, references: Collection[str]) -> str:
    """The variant's name in a table without a Model column; a reference row says it is one."""
    return f"{variant} (reference)" if variant in references else variant


def _arrow(header: str, higher: bool) -> str:
    return f"{header} {'↑' if higher else '↓'}"


def _headline(rows: Sequence[Mapping[str, str]]) -> tuple[tuple[str, str, bool], ...]:
    """The headline columns: the distances to the latent truth join when the rows have them."""
    present = {r["metric"] for r in rows}
    return _HEADLINE + tuple(c for c in _TRUTH_SHOWN if c[0] in present)


def _reference_rows(rows: Iterable[Mapping[str, str]]) -> list[str]:
    """The reference variants of main-table rows (Model ``reference``), in row order."""
    return list(dict.fromkeys(r["variant"] for r in rows if r.get("model") == REFERENCE_MODEL))


def _model_seeds(rows: Iterable[Mapping[str, str]]) -> list[str]:
    """``n_seeds`` of the main-table rows of models (a reference's one run is not a training seed)."""
    return [r["n_seeds"] for r in rows if r.get("model") != REFERENCE_MODEL]


def _has_truth(rows: Sequence[Mapping[str, str]]) -> bool:
    return len(_headline(rows)) > len(_HEADLINE)


def _main_wide(rows: Sequence[Mapping[str, str]], sig_rows: Sequence[Mapping[str, str]] | None) -> WideTable:
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "metric")
    marks = _sig_marks(sig_rows)
    shown = _headline(rows)
    cols = [(s, m, hi) for s in splits for m, _, hi in shown]
    # a Model column when the variants name their model (fine-tuned and frozen-upstream rows side by side)
    models = {r["variant"]: r.get("model", "") for r in rows}
    with_model = any(models.values())
    body, means = [], []
    for v in variants:
        cells, ms = [], []
        for s, m, _ in cols:
            r = look.get((v, s, m))
            cells.append(_cell(r) + (" †" if (v, s, m) in marks else ""))
            # a reference row is never the best: bold compares the models
            ms.append(r["mean"] if r and models[v] != REFERENCE_MODEL else "")
        body.append(([v, models[v]] if with_model else [v], cells))
        means.append(ms)
    groups = [(s, [_arrow(h, hi) for _, h, hi in shown]) for s in splits]
    head = ["Variant", "Model"] if with_model else ["Variant"]
    return WideTable(head, groups, body, best_flags(means, [hi for _, _, hi in cols]))


def _stratified_wide(
    rows: Sequence[Mapping[str, str]],
    shown: Sequence[tuple[str, str, bool]],
    size_from: Collection[str],
    target: bool = False,
    references: Collection[str] = (),
) -> WideTable:
    """Per variant (with its own ``target`` distribution) and stratum: per split the stratum's
    size (from the rows of the metrics ``size_from``) and the ``shown`` metrics."""
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    strata = list(dict.fromkeys(r["stratum"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "stratum", "metric")
    dist = {r["variant"]: r["distribution"] for r in rows} if target else {}
    size = {
        (r["variant"], r["split"], r["stratum"]): r["n_utterances"] for r in rows if r["metric"] in size_from
    }
    body = []
    for v in variants:
        for st in strata:
            cells = []
            for s in splits:
                cells.append(size.get((v, s, st), "0"))
                cells += [_cell(look.get((v, s, st, m))) for m, _, _ in shown]
            name = _stub(v, references)
            body.append(([name, dist[v], st] if target else [name, st], cells))
    groups = [(s, ["n", *(_arrow(h, hi) for _, h, hi in shown)]) for s in splits]
    head = ["Variant", "Target", "Entropy stratum"] if target else ["Variant", "Entropy stratum"]
    return WideTable(head, groups, body)


def _own_wide(rows: Sequence[Mapping[str, str]], references: Collection[str] = ()) -> WideTable:
    """Per variant: its own scheme and its hard-label metrics under it (no bold: the schemes differ)."""
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "metric")
    scheme = {r["variant"]: r["scheme"] for r in rows}
    body = [
        (
            [_stub(v, references), scheme[v]],
            [_cell(look.get((v, s, m))) for s in splits for m, _, _ in _OWN_SHOWN],
        )
        for v in variants
    ]
    groups = [(s, [_arrow(h, hi) for _, h, hi in _OWN_SHOWN]) for s in splits]
    return WideTable(["Variant", "Scheme"], groups, body)


def _ccc_wide(rows: Sequence[Mapping[str, str]], references: Collection[str] = ()) -> WideTable:
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "attribute")
    body = [
        ([_stub(v, references)], [_cell(look.get((v, s, a))) for s in splits for a in ATTRIBUTES])
        for v in variants
    ]
    return WideTable(["Variant"], [(s, [a.capitalize() for a in ATTRIBUTES]) for s in splits], body)


def _other_wide(rows: Sequence[Mapping[str, str]], references: Collection[str] = ()) -> WideTable:
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    strata = list(dict.fromkeys(r["stratum"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "stratum")
    heads = {"other_pred_share": "argmax share", "other_mass": "mass", "human_other_share": "human share"}
    body = [
        ([_stub(v, references), st], [_cell(look.get((v, s, st)), f) for s in splits for f in OTHER_FIELDS])
        for v in variants
        for st in strata
    ]
    return WideTable(["Variant", "Entropy stratum"], [(s, list(heads.values())) for s in splits], body)


def _sig_cell(r: Mapping[str, str] | None) -> str:
    if not r:
        return "–"
    text = interval(r["diff"], r["ci_low"], r["ci_high"])
    p = f"p_Holm = {float(r['p_holm']):.3f}" if r["p_holm"] else ""
    return f"{text}{' *' if r['significant'] == 'true' else ''} ({p})" if p else text


def _sig_wide(rows: Sequence[Mapping[str, str]]) -> WideTable:
    rows = [r for r in rows if r["stratum"] == partitions.ALL]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "metric")
    body = [([v], [_sig_cell(look.get((v, s, m))) for s in splits for m, _ in _SIG_SHOWN]) for v in variants]
    return WideTable(["Variant"], [(s, [h for _, h in _SIG_SHOWN]) for s in splits], body)


def _label_wide(rows: Sequence[Mapping[str, str]]) -> WideTable:
    splits = partitions.ordered({r["split"] for r in rows})
    stats = list(dict.fromkeys(r["statistic"] for r in rows))
    look = _lookup(rows, "split", "statistic")
    body = [([st], [look[(s, st)]["value"] if (s, st) in look else "–" for s in splits]) for st in stats]
    return WideTable(["Statistic"], [("", splits)], body)


# ================================================================================== captions


def _seed_phrase(n_seeds: Iterable[str]) -> str:
    ns = sorted({int(n) for n in n_seeds if n != ""})
    if not ns:
        return "seeds"
    if len(ns) == 1:
        return f"{ns[0]} training seed{'s' if ns[0] != 1 else ''}"
    return f"{ns[0]}–{ns[-1]} training seeds"


def _ci_phrase(evaluation: Mapping[str, Any] | None, method: str) -> str:
    """The captions' account of the intervals; ``method``: the documents' ``ci_method``."""
    if evaluation and "ci_level" in evaluation and "bootstrap_resamples" in evaluation:
        return (
            f"{settings.ci_phrase(method, evaluation['ci_level'])} of the seed-averaged "
            f"metric in brackets (B = {int(evaluation['bootstrap_resamples'])} resamples of utterances)"
        )
    return f"{settings.ci_phrase(method)} of the seed-averaged metric in brackets"


def _reference_phrase(references: Sequence[str], bold: bool = False) -> str:
    """The caption sentence saying what the reference rows are (empty without any)."""
    if not references:
        return ""
    what = "; ".join(_REFERENCE_TEXT.get(r, f"{r} is a reference") for r in references)
    never = "never bold and never compared" if bold else "never compared"
    return (
        f" The last rows are references, not models, one deterministic run each: {what}. "
        f"They are {never} with the baseline."
    )


def _scheme_phrase(scheme: str) -> str:
    """How the main table's macro-F1 and accuracy treat the hard labels of the common scheme."""
    if scheme == "consensus":
        return "Macro-F1 and accuracy: hard-labelled utterances only (X excluded)."
    return (
        f"Macro-F1 and accuracy: the common hard-label scheme {scheme} for every variant "
        "(evaluation.common_hard_labels)."
    )


def _main_caption(
    n_seeds: Sequence[str],
    evaluation: Mapping[str, Any] | None,
    with_sig: bool,
    scheme: str = "consensus",
    with_truth: bool = False,
    references: Sequence[str] = (),
    ci_method: str = settings.LEGACY_CI_METHOD,
) -> str:
    truth = (
        "JSD true, KLD true: the same against each utterance's latent true distribution (synthetic "
        "corpus; KL(truth ‖ model)). "
        if with_truth
        else ""
    )
    text = (
        f"Mean over {_seed_phrase(n_seeds)}; {_ci_phrase(evaluation, ci_method)}. "
        "JSD: Jensen-Shannon divergence, base 2, in [0, 1]; KLD: KL(human ‖ model) in nats; "
        "both against the primary-vote distribution over all utterances with votes (X included). "
        f"{truth}{_scheme_phrase(scheme)} Bold: best per column."
    )
    if with_sig:
        base = (evaluation or {}).get("baseline_variant", "the baseline")
        level = 1 - float((evaluation or {}).get("ci_level", 0.95))
        text += f" †: differs from {base} (paired bootstrap, Holm-adjusted p < {level:g})."
    return text + _reference_phrase(references, bold=True)


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
    def seeds(self) -> list[str]:
        """The models' seed counts (the captions' "mean over n training seeds")."""
        return _model_seeds(self.main)

    @cached_property
    def refs(self) -> str:
        """The caption sentence on the reference rows (empty without any)."""
        return _reference_phrase(self.references)

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


def _strata_caption(t: _Inputs) -> str:
    dist, scheme = t.schemes["strata_distribution"], t.schemes["common_hard_labels"]
    entropy = "primary-vote entropy" if dist == "primary" else f"entropy of the {dist} distribution"
    hard = "macro-F1 excludes X" if scheme == "consensus" else f"macro-F1 on the hard labels {scheme}"
    return (
        f"Entropy-stratified results (normalised {entropy}; n = utterances per stratum). "
        f"Mean over {_seed_phrase(t.seeds)}; {_ci_phrase(t.evaluation, t.ci_method)}. JSD base 2, KLD in nats, "
        f"against the primary-vote distribution (X included); {hard}.{t.refs}"
    )


def _own_caption(t: _Inputs) -> str:
    return (
        "Hard-label metrics under each variant's own scheme (its hard_labels: consensus = X excluded; "
        "consensus_x_other = X relabelled Other; guarded_argmax:<d> = the release's neutral-guarded "
        "argmax of the variant's target distribution d), as the paper release scored its rows; the main "
        f"table uses the common scheme {t.schemes['common_hard_labels']} instead. Macro-F1: all nine "
        "classes; Macro-F1 (TP>0): the release's published rule, the mean F1 over the classes with a "
        "true positive; UAR: mean recall over the classes with support. "
        f"Mean over {_seed_phrase(t.seeds)}; {_ci_phrase(t.evaluation, t.ci_method)}. Rows on different schemes are "
        f"not like-for-like, so no column is marked best.{t.refs}"
    )


def _strata_own_caption(t: _Inputs) -> str:
    return (
        "Entropy strata of each distributional variant's own target distribution (normalised entropy, "
        "ln / ln 9; the edges of evaluation.entropy_bins; n = utterances per stratum), scored on the "
        "variant's own hard-label scheme, as the release stratifies its rows. Variants with hard targets "
        f"have no own distribution and are not listed{', nor are the reference rows' if t.references else ''}. "
        f"Mean over {_seed_phrase(t.seeds)}; {_ci_phrase(t.evaluation, t.ci_method)}."
    )


def _significance_caption(t: _Inputs) -> str:
    return (
        f"Paired bootstrap of each variant minus {t.baseline} on shared resamples (seed-averaged); "
        f"{settings.ci_phrase('percentile', t.ci_level)} of the difference in brackets; p_Holm: two-sided bootstrap p-value, "
        f"Holm-adjusted across variants per split, stratum and metric; *: p_Holm < {1 - t.ci_level:g}. "
        "Negative ΔJSD/ΔKLD = closer to the human votes."
        + (" The reference rows of the other tables are never compared." if t.references else "")
    )


def _ccc_caption(t: _Inputs) -> str:
    return (
        "Concordance correlation coefficient of the dimensional head against the mean annotator "
        f"rating (1-7), all utterances; mean over {_seed_phrase(t.seeds)}; {_ci_phrase(t.evaluation, t.ci_method)}."
        f"{t.refs}"
    )


def _other_caption(t: _Inputs) -> str:
    return (
        "Other class by entropy stratum: share of utterances whose argmax prediction is Other, mean "
        "predicted probability of Other, and the humans' mean primary-vote share of Other; all "
        f"utterances (X included); {_ci_phrase(t.evaluation, t.ci_method)}.{t.refs}"
    )


def _label_caption(t: _Inputs) -> str:
    return (
        "Label statistics per split: consensus class counts (X = no agreement), normalised primary-vote "
        "entropy histogram, Fleiss' kappa of the primary votes; Krippendorff's "
        "alpha (interval) of the arousal/valence/dominance ratings and annotators per utterance over all splits."
    )


#: every table, in the order it is written
TABLES: tuple[_TableSpec, ...] = (
    _TableSpec(
        "main",
        MAIN_COLUMNS,
        lambda t: t.main,
        lambda rows, t: _main_wide(rows, t.comparisons),
        lambda t: _main_caption(
            t.seeds,
            t.evaluation,
            bool(t.comparisons),
            t.schemes["common_hard_labels"],
            _has_truth(t.main),
            _reference_rows(t.main),
            t.ci_method,
        ),
    ),
    _TableSpec(
        "entropy_strata",
        STRATA_COLUMNS,
        lambda t: strata_rows(t.metrics, t.order),
        lambda rows, t: _stratified_wide(rows, _STRATA_SHOWN, ("jsd_primary",), references=t.references),
        _strata_caption,
    ),
    _TableSpec(
        "significance",
        SIGNIFICANCE_COLUMNS,
        lambda t: t.comparisons,
        lambda rows, t: _sig_wide(rows),
        _significance_caption,
    ),
    _TableSpec(
        "ccc",
        CCC_COLUMNS,
        lambda t: ccc_rows(t.main),
        lambda rows, t: _ccc_wide(rows, t.references),
        _ccc_caption,
    ),
    _TableSpec(
        "other_class",
        OTHER_COLUMNS,
        lambda t: other_rows(t.metrics, t.order),
        lambda rows, t: _other_wide(rows, t.references),
        _other_caption,
    ),
    _TableSpec(
        "label_stats",
        LABEL_COLUMNS,
        lambda t: label_rows(t.label_summary),
        lambda rows, t: _label_wide(rows),
        _label_caption,
    ),
    _TableSpec(
        "own_scheme",
        OWN_COLUMNS,
        lambda t: own_rows(t.metrics, t.order),
        lambda rows, t: _own_wide(rows, t.references),
        _own_caption,
    ),
    _TableSpec(
        "entropy_strata_own",
        STRATA_OWN_COLUMNS,
        lambda t: strata_own_rows(t.metrics, t.order),
        # an empty stratum's size is its one n_utterances row
        lambda rows, t: _stratified_wide(
            rows, _STRATA_OWN_SHOWN, ("jsd_primary", "n_utterances"), target=True, references=t.references
        ),
        _strata_own_caption,
    ),
)
TABLE_NAMES: tuple[str, ...] = tuple(spec.name for spec in TABLES)


# ================================================================================ writing


def table_files(out_dir: PathLike, formats: Sequence[str] = _FORMATS) -> list[Path]:
    """Every file :func:`build_tables` writes into ``out_dir`` (table-major, then format)."""
    d = Path(out_dir)
    return [d / f"{name}.{ext}" for name in TABLE_NAMES for ext in formats]


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
    caption = _main_caption(
        _model_seeds(rows), evaluation, bool(sig), scheme, _has_truth(rows), _reference_rows(rows), method
    )
    return _main_wide(rows, sig).markdown(caption)


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
    return written

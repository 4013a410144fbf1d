"""The wide (presentation) layout of the result tables: which columns, which rows, what is bold.

Each function turns the long-form CSV rows of one table (:mod:`sertools.report.table_rows`)
into a :class:`~sertools.report.render.WideTable`; the captions are in
:mod:`sertools.report.table_captions`, the files in :mod:`sertools.report.tables`.
The wide tables show the test splits (:data:`sertools.splits.TEST_SPLITS`) when
present, otherwise every split.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from sertools import splits as partitions
from sertools.report.render import WideTable, best_flags, interval
from sertools.report.table_rows import ATTRIBUTES, INTENDED_METRICS, OTHER_FIELDS, REFERENCE_MODEL

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
STRATA_SHOWN = _shown("macro_f1", "jsd_primary", "kld_primary")
_OWN_SHOWN = _shown("macro_f1", "macro_f1_published", "uar", "accuracy", "f1_Other")
STRATA_OWN_SHOWN = _shown("macro_f1", "macro_f1_published", "uar")
#: (metric, header) of the significance table: the difference of the metric
_SIG_SHOWN: tuple[tuple[str, str], ...] = tuple(
    (m, f"Δ{_HEADERS[m][0]}") for m in ("macro_f1", "jsd_primary", "kld_primary")
)


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


def reference_rows(rows: Iterable[Mapping[str, str]]) -> list[str]:
    """The reference variants of main-table rows (Model ``reference``), in row order."""
    return list(dict.fromkeys(r["variant"] for r in rows if r.get("model") == REFERENCE_MODEL))


def model_seeds(rows: Iterable[Mapping[str, str]]) -> list[str]:
    """``n_seeds`` of the main-table rows of models (a reference's one run is not a training seed)."""
    return [r["n_seeds"] for r in rows if r.get("model") != REFERENCE_MODEL]


def has_truth(rows: Sequence[Mapping[str, str]]) -> bool:
    return len(_headline(rows)) > len(_HEADLINE)


def main_wide(rows: Sequence[Mapping[str, str]], sig_rows: Sequence[Mapping[str, str]] | None) -> WideTable:
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


def stratified_wide(
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


def own_wide(rows: Sequence[Mapping[str, str]], references: Collection[str] = ()) -> WideTable:
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


def ccc_wide(rows: Sequence[Mapping[str, str]], references: Collection[str] = ()) -> WideTable:
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "attribute")
    body = [
        ([_stub(v, references)], [_cell(look.get((v, s, a))) for s in splits for a in ATTRIBUTES])
        for v in variants
    ]
    return WideTable(["Variant"], [(s, [a.capitalize() for a in ATTRIBUTES]) for s in splits], body)


def other_wide(rows: Sequence[Mapping[str, str]], references: Collection[str] = ()) -> WideTable:
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


def sig_wide(rows: Sequence[Mapping[str, str]]) -> WideTable:
    rows = [r for r in rows if r["stratum"] == partitions.ALL]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "metric")
    body = [([v], [_sig_cell(look.get((v, s, m))) for s in splits for m, _ in _SIG_SHOWN]) for v in variants]
    return WideTable(["Variant"], [(s, [h for _, h in _SIG_SHOWN]) for s in splits], body)


def label_wide(rows: Sequence[Mapping[str, str]]) -> WideTable:
    """Statistics x splits; columns that are not splits (a CREMA-D summary's modalities) follow
    the splits in the rows' order."""
    seen = list(dict.fromkeys(r["split"] for r in rows))
    known = partitions.ordered(s for s in seen if s in (*partitions.SPLITS, partitions.ALL))
    splits = known + [s for s in seen if s not in known]
    stats = list(dict.fromkeys(r["statistic"] for r in rows))
    look = _lookup(rows, "split", "statistic")
    body = [([st], [look[(s, st)]["value"] if (s, st) in look else "–" for s in splits]) for st in stats]
    return WideTable(["Statistic"], [("", splits)], body)


#: the labels the intended-emotion table scores against, in column order
_LABELS = ("perceived", "intended")


def intended_wide(rows: Sequence[Mapping[str, str]]) -> WideTable:
    """Per variant and shown split, each metric against the perceived consensus and the intended
    emotion side by side; bold: best per column among the models."""
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "labels", "metric")
    models = {r["variant"]: r.get("model", "") for r in rows}
    cols = [(s, m, lab) for s in splits for m in INTENDED_METRICS for lab in _LABELS]
    body, means = [], []
    for v in variants:
        cells = [_cell(look.get((v, s, lab, m))) for s, m, lab in cols]
        ms = [
            r["mean"] if (r := look.get((v, s, lab, m))) and models[v] != REFERENCE_MODEL else ""
            for s, m, lab in cols
        ]
        body.append(([v, models[v]], cells))
        means.append(ms)
    groups = [
        (s, [_arrow(f"{_HEADERS[m][0]} {lab}", _HEADERS[m][1]) for m in INTENDED_METRICS for lab in _LABELS])
        for s in splits
    ]
    return WideTable(["Variant", "Model"], groups, body, best_flags(means, [True] * len(cols)))

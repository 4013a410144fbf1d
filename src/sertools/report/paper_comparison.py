"""Published vs reproduced: the paper's Table 2 next to this run's numbers.

The published values are reference data transcribed from the paper's code
release (docs/paper_release/table2.csv, described in
docs/paper_release/README.md). Each variant of a run may name the published
row it reproduces (``paper_row`` in its config, e.g. ``MH KLD``); for every
such row, split and metric the table shows the published value and CI, ours
(mean over seeds, with its CI), the difference and whether the two CIs
overlap. Percent metrics are published in % and converted here.

On a corpus other than MSP-Podcast 2.0 (the synthetic default) the numbers are
not comparable; the table is still written, headed as such, so that the
mechanism is tested end to end.

Our values come from the metrics documents (:data:`OURS`): the hard-label
metrics under the variant's OWN scheme (the labels the release scored each row
against), the release's JSD and KLD in nats against
``evaluation.paper_reference`` and the mean CCC from the common block (they
do not depend on hard labels). The stage is :func:`run`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sertools.evaluation import metrics_doc
from sertools.io import write_text
from sertools.report.render import csv_text, fmt_float
from sertools.splits import TEST_SPLITS

#: published metric -> scale factor from this package's value to the published unit
PUBLISHED_SCALE: dict[str, float] = {
    "macro_f1_published": 100.0,
    "uar": 100.0,
    "accuracy": 100.0,
    "f1_other": 100.0,
    "jsd": 1.0,
    "kld": 1.0,
    "ccc_mean": 1.0,
}
#: published metric -> (block of the metrics document, our metric name); "own" = under the
#: variant's own hard-label scheme, "common" = the split's main block
OURS: dict[str, tuple[str, str]] = {
    "macro_f1_published": ("own", "macro_f1_published"),
    "uar": ("own", "uar"),
    "accuracy": ("own", "accuracy"),
    "f1_other": ("own", "f1_Other"),
    "jsd": ("common", "jsd_paper"),
    "kld": ("common", "kld_paper"),
    "ccc_mean": ("common", "ccc_mean"),
}
#: the splits of the published table
SPLITS: tuple[str, ...] = TEST_SPLITS
OURS_COLUMNS = ("variant", "split", "metric", "value", "ci_low", "ci_high")
COLUMNS = (
    "paper_row",
    "variant",
    "split",
    "metric",
    "published",
    "published_low",
    "published_high",
    "ours",
    "ours_low",
    "ours_high",
    "difference",
    "cis_overlap",
)
NOT_COMPARABLE = (
    "Not comparable: this run did not use MSP-Podcast 2.0, so its numbers are not the paper's "
    "experiment; the table shows the comparison mechanism only."
)


def read_published(path: str | Path) -> pd.DataFrame:
    """The published Table 2 (row, split, metric, value, ci_low, ci_high, unit, n)."""
    df = pd.read_csv(path, dtype={"row": str, "split": str, "metric": str})
    missing = {"row", "split", "metric", "value", "ci_low", "ci_high"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: columns missing: {sorted(missing)}")
    unknown = set(df["metric"]) - set(PUBLISHED_SCALE)
    if unknown:
        raise ValueError(f"{path}: metrics without a known unit: {sorted(unknown)}")
    return df


def compare(published: pd.DataFrame, ours: pd.DataFrame, rows: Mapping[str, str]) -> pd.DataFrame:
    """Join published and reproduced values.

    ``ours``: columns variant, split, metric, value, ci_low, ci_high in this
    package's units; ``rows``: variant -> published row name. Published rows no
    variant reproduces are listed with empty ``ours`` cells; metrics a run lacks
    likewise.
    """
    by_row = {row: variant for variant, row in rows.items()}
    unknown = set(by_row) - set(published["row"])
    if unknown:
        raise ValueError(f"paper_row names not in the published table: {sorted(unknown)}")
    pub = published.assign(variant=published["row"].map(by_row))
    scale = pub["metric"].map(PUBLISHED_SCALE)
    mine = ours.rename(columns={"value": "ours", "ci_low": "ours_low", "ci_high": "ours_high"})
    out = pub.merge(mine, on=["variant", "split", "metric"], how="left")
    for col in ("ours", "ours_low", "ours_high"):
        out[col] = out[col] * scale.to_numpy()
    out = out.rename(
        columns={
            "row": "paper_row",
            "value": "published",
            "ci_low": "published_low",
            "ci_high": "published_high",
        }
    )
    out["difference"] = out["ours"] - out["published"]
    overlap = (out["ours_low"] <= out["published_high"]) & (out["published_low"] <= out["ours_high"])
    out["cis_overlap"] = overlap.where(out["ours"].notna())
    return out[list(COLUMNS)].reset_index(drop=True)


def paper_rows(variants: Mapping[str, Any]) -> dict[str, str]:
    """variant -> published row, from the variants config (``paper_row`` of each; null rows left out).

    A value may also be the row name itself (or None). Two variants naming the
    same row are refused unless their ``model`` labels differ (a row fine-tuned
    and on frozen features, :func:`sertools.config.model_label`).
    """
    rows: dict[str, str] = {}
    taken: dict[tuple[str, Any], str] = {}
    for v, cfg in variants.items():
        row = cfg.get("paper_row") if isinstance(cfg, Mapping) else cfg
        if row is None:
            continue
        if not isinstance(row, str):
            raise ValueError(f"variant {v!r}: paper_row must be a string or null, got {row!r}")
        key = (row, cfg.get("model") if isinstance(cfg, Mapping) else None)
        if key in taken:
            raise ValueError(f"variants {taken[key]!r} and {v!r} both reproduce paper row {row!r}")
        taken[key] = v
        rows[v] = row
    return rows


def ours_from_metrics(docs: Mapping[str, Mapping[str, Any]], variants: Iterable[str]) -> pd.DataFrame:
    """Our values of :data:`OURS` for ``variants`` (Test1 and Test2), from their metrics documents.

    Columns :data:`OURS_COLUMNS`, in this package's units: the mean over
    seeds and the bootstrap CI of each entry. A missing split, block or metric
    gives no row (the comparison then shows an empty cell).
    """
    records = []
    for v in variants:
        doc = docs[v]
        for split in SPLITS:
            if metrics_doc.split_result(doc, split) is None:
                continue
            for published, (where, name) in OURS.items():
                e = (
                    metrics_doc.own_entry(doc, split, name)
                    if where == "own"
                    else metrics_doc.entry(doc, split, name)
                )
                if e is None:
                    continue
                records.append(
                    (
                        v,
                        split,
                        published,
                        metrics_doc.value(e, "mean"),
                        metrics_doc.value(e, "ci_low"),
                        metrics_doc.value(e, "ci_high"),
                    )
                )
    out = pd.DataFrame.from_records(records, columns=list(OURS_COLUMNS))
    return out.astype(
        {"variant": object, "split": object, "metric": object, **dict.fromkeys(OURS_COLUMNS[3:], float)}
    )


# a table cell: pandas types the fields of itertuples() as any scalar it can hold
def _na(x: Any) -> bool:
    return bool(pd.isna(x))


def _fmt(x: Any, digits: int) -> str:
    return "–" if _na(x) else f"{float(x):.{digits}f}"


def to_markdown(
    table: pd.DataFrame, comparable: bool, notes: Sequence[str] = (), ci_method: str | None = None
) -> str:
    """One Markdown table per split, headed as not comparable when it is not; ``notes`` are
    appended as paragraphs. ``ci_method``: the interval method of our CIs (the documents'
    ``settings.ci_method``), named in the caption."""
    lines = ["# Published vs reproduced (the paper's Table 2)", ""]
    ours_ci = f"{ci_method} bootstrap CI" if ci_method else "bootstrap CI"
    if not comparable:
        lines += [f"**{NOT_COMPARABLE}**", ""]
    for split, part in table.groupby("split", sort=False):
        lines += [
            f"## {split}",
            "",
            "| paper row | variant | metric | published [95% CI] | ours [95% CI] | difference | CIs overlap |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in part.itertuples(index=False):
            digits = 2 if PUBLISHED_SCALE[str(r.metric)] == 100.0 else 3
            pub = f"{_fmt(r.published, digits)} [{_fmt(r.published_low, digits)}, {_fmt(r.published_high, digits)}]"
            ours = (
                "–"
                if _na(r.ours)
                else f"{_fmt(r.ours, digits)} [{_fmt(r.ours_low, digits)}, {_fmt(r.ours_high, digits)}]"
            )
            overlap = "–" if _na(r.cis_overlap) else ("yes" if r.cis_overlap else "no")
            variant = r.variant if isinstance(r.variant, str) else "–"
            lines.append(
                f"| {r.paper_row} | {variant} | {r.metric} | {pub} | {ours} | {_fmt(r.difference, digits)} | {overlap} |"
            )
        lines.append("")
    lines.append(
        "Published: docs/paper_release/table2.csv (the release's Table 2, percentile-bootstrap CIs; Macro-F1 is its "
        f"published rule, `macro_f1_published`). Ours: mean over seeds with its {ours_ci} (evaluation.ci_method, "
        "docs/metrics.md). "
        "Difference: ours − published."
    )
    for note in notes:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def to_csv(table: pd.DataFrame) -> str:
    """The comparison as CSV text (6 decimals, NaN as an empty field, overlap as true/false)."""
    rows = []
    for r in table.to_dict("records"):
        row = {}
        for c in COLUMNS:
            x = r[c]
            if c == "cis_overlap":
                row[c] = "" if _missing(x) else ("true" if bool(x) else "false")
            elif c in ("paper_row", "variant", "split", "metric"):
                row[c] = "" if _missing(x) else str(x)
            else:
                row[c] = fmt_float(None if _missing(x) else float(x))
        rows.append(row)
    return csv_text(COLUMNS, rows)


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA


def _notes(docs: Mapping[str, Mapping[str, Any]], rows: Mapping[str, str]) -> list[str]:
    """What the reproduced numbers are: each compared variant's own scheme and the JSD/KLD reference."""
    if not rows:
        return ["No variant names a paper_row: every `ours` cell is empty."]
    parts = []
    refs = set()
    ccc = set()
    for v in rows:
        sch = metrics_doc.schemes(docs[v])
        refs.add(sch.get("paper_reference") or "?")
        parts.append(f"{v} ({rows[v]}): {sch.get('own_hard_labels') or '?'}")
        ccc.add(sch.get("ccc_targets") or "ratings")
    ccc_note = (
        "Mean CCC: against the A/V/D targets each row trains on (evaluation.ccc_targets model_scale: ratings "
        "clipped to [2, 6] on the neg1_1 scale, as the release computes CCC)."
        if ccc == {"model_scale"}
        else "Mean CCC: against the consensus ratings as rated (evaluation.ccc_targets ratings; the release clips "
        "them to [2, 6] on its neg1_1 scale)."
    )
    return [
        "Macro-F1, UAR, accuracy and F1Other of each variant are under its own hard-label scheme "
        "(as the release scored its rows): " + "; ".join(parts) + ".",
        "JSD and KLD: the release's definitions in nats (distributions clamped at 1e-8 and renormalised), "
        f"against the distribution {', '.join(sorted(refs))} (evaluation.paper_reference).",
        ccc_note,
        "How this run's config differs from the release's, setting by setting: docs/paper_release/settings.md "
        "(for config/paper.yaml).",
    ]


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    variants: Mapping[str, Any],
    comparable: bool,
) -> pd.DataFrame:
    """The ``paper_comparison`` rule: the published Table 2 next to this run's values.

    ``inputs``: ``published`` (docs/paper_release/table2.csv) and ``metrics``
    (one metrics document per variant, in the order of ``variants``);
    ``outputs``: ``csv`` and ``md``. ``variants``: the variants config (its
    ``paper_row`` says which published row a variant reproduces);
    ``comparable``: whether the corpus is MSP-Podcast (else the table is headed
    "not comparable").
    """
    names = list(variants)
    paths = [inputs["metrics"]] if isinstance(inputs["metrics"], (str, Path)) else list(inputs["metrics"])
    if len(paths) != len(names):
        raise ValueError(f"paper_comparison: {len(paths)} metrics documents for {len(names)} variants")
    docs: dict[str, Mapping[str, Any]] = {}
    for v, path in zip(names, paths, strict=True):
        doc = metrics_doc.read(path)
        if doc.get("variant") not in (None, v):
            raise ValueError(f"{path} holds the metrics of variant {doc.get('variant')!r}, expected {v!r}")
        docs[v] = doc
    rows = paper_rows(variants)
    table = compare(read_published(inputs["published"]), ours_from_metrics(docs, rows), rows)
    write_text(outputs["csv"], to_csv(table))
    # documents that do not record ci_method were computed before it existed, with the percentile interval
    methods = sorted({str((docs[v].get("settings") or {}).get("ci_method", "percentile")) for v in rows})
    method = methods[0] if len(methods) == 1 else None  # mixed (never from one run): no single name
    write_text(outputs["md"], to_markdown(table, comparable, _notes(docs, rows), method))
    return table

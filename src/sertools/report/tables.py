"""Result tables from the per-variant metric and significance JSON files.

Every table is written as ``.csv`` (long form, the machine-readable record),
``.md`` and ``.tex`` (LaTeX booktabs; presentation). Output bytes are
deterministic: floats are formatted with a fixed number of decimals (6 in
CSV, NaN as an empty field), rows come in a fixed order (baseline variant
first, then variants alphabetically; splits Development, Test1, Test2; metrics
in :data:`METRIC_ORDER`, then alphabetically; strata by bin), and lines end
with ``\\n``.

The Markdown/LaTeX versions show the test splits (Test1, Test2) when present,
otherwise every split. Holm's correction of the significance table runs over
the variants compared with the baseline, separately for each split x stratum x
metric.

Config keys read (the ``evaluation`` section): ``baseline_variant``,
``ci_level`` (significance threshold ``1 - ci_level`` and captions),
``bootstrap_resamples`` (captions).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sertools.classes import CODES, NO_AGREEMENT
from sertools.evaluation.scores import holm
from sertools.io import write_text

__all__ = [
    "CCC_COLUMNS",
    "LABEL_COLUMNS",
    "MAIN_COLUMNS",
    "METRIC_ORDER",
    "OTHER_COLUMNS",
    "SIGNIFICANCE_COLUMNS",
    "STRATA_COLUMNS",
    "TABLE_NAMES",
    "build_tables",
    "readme_table",
    "run_tables",
    "table_files",
]

PathLike = str | Path

MAIN_COLUMNS: tuple[str, ...] = (
    "variant",
    "split",
    "metric",
    "mean",
    "sd_seeds",
    "ci_low",
    "ci_high",
    "n_seeds",
    "n_utterances",
)
STRATA_COLUMNS: tuple[str, ...] = ("variant", "split", "stratum", *MAIN_COLUMNS[2:])
SIGNIFICANCE_COLUMNS: tuple[str, ...] = (
    "variant",
    "baseline",
    "split",
    "stratum",
    "metric",
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "p_holm",
    "significant",
)
CCC_COLUMNS: tuple[str, ...] = ("variant", "split", "attribute", *MAIN_COLUMNS[3:])
_OTHER_FIELDS = ("other_pred_share", "other_mass", "human_other_share")
OTHER_COLUMNS: tuple[str, ...] = (
    "variant",
    "split",
    "stratum",
    "n_seeds",
    "n_utterances",
    *(f"{f}{sfx}" for f in _OTHER_FIELDS for sfx in ("", "_ci_low", "_ci_high")),
)
LABEL_COLUMNS: tuple[str, ...] = ("split", "statistic", "value")
TABLE_NAMES: tuple[str, ...] = ("main", "entropy_strata", "significance", "ccc", "other_class", "label_stats")

METRIC_ORDER: tuple[str, ...] = (
    "macro_f1",
    "accuracy",
    "jsd_primary",
    "kld_primary",
    "jsd_merged",
    "kld_merged",
    "ccc_arousal",
    "ccc_valence",
    "ccc_dominance",
    "ece",
    "jsd_true",
    "kld_true",
)
ATTRIBUTES: tuple[str, ...] = ("arousal", "valence", "dominance")
_SPLIT_ORDER = ("Train", "Development", "Test1", "Test2", "all")
_TEST_SPLITS = ("Test1", "Test2")
# (metric, header, higher is better)
_HEADLINE: tuple[tuple[str, str, bool], ...] = (
    ("macro_f1", "Macro-F1", True),
    ("accuracy", "Accuracy", True),
    ("jsd_primary", "JSD", False),
    ("kld_primary", "KLD", False),
)
_STRATA_SHOWN: tuple[tuple[str, str, bool], ...] = (
    ("macro_f1", "Macro-F1", True),
    ("jsd_primary", "JSD", False),
    ("kld_primary", "KLD", False),
)
_SIG_SHOWN: tuple[tuple[str, str], ...] = (
    ("macro_f1", "ΔMacro-F1"),
    ("jsd_primary", "ΔJSD"),
    ("kld_primary", "ΔKLD"),
)


class TableError(ValueError):
    """The metric or significance inputs cannot be turned into tables."""


# =============================================================================== formatting


def _isnum(x: Any) -> bool:
    return x is not None and not isinstance(x, bool) and isinstance(x, (int, float, np.number))


def _f(x: Any, nd: int = 6) -> str:
    """Fixed-decimal float; NaN/None -> empty; never ``-0.000000``."""
    if not _isnum(x) or not math.isfinite(float(x)):
        return ""
    s = f"{float(x):.{nd}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


def _i(x: Any) -> str:
    return "" if x is None else str(int(x))


def _order_key(order: Sequence[str]):
    rank = {v: i for i, v in enumerate(order)}
    return lambda v: (rank.get(v, len(rank)), v)


def _strata_order(present: Iterable[str], names: Sequence[str] | None, with_all: bool = True) -> list[str]:
    """``"all"`` first, then the strata in bin order (``names`` from the JSON), then anything else."""
    order = (["all"] if with_all else []) + list(names or [])
    return sorted(present, key=_order_key(order))


def _variant_order(variants: Iterable[str], baseline: str | None) -> list[str]:
    return sorted(variants, key=lambda v: (v != baseline, v))


def _metric_order(metrics: Iterable[str]) -> list[str]:
    return sorted(metrics, key=_order_key(METRIC_ORDER))


def _split_order(splits: Iterable[str]) -> list[str]:
    return sorted(splits, key=_order_key(_SPLIT_ORDER))


def _csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([r[c] for c in columns])
    return buf.getvalue()


def _read_csv(path: PathLike) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _tex_escape(s: str) -> str:
    repl = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
        "Δ": r"$\Delta$",
        "‖": r"$\|$",
        "†": r"$^\dagger$",
        "↑": r"$\uparrow$",
        "↓": r"$\downarrow$",
        "–": "--",
        "<": r"$<$",
        ">": r"$>$",
    }
    return "".join(repl.get(ch, ch) for ch in s)


def _interval(mean: str, lo: str, hi: str, nd: int = 3) -> str:
    """``"m [lo, hi]"`` from CSV strings (3 decimals); ``–`` when missing."""
    if mean == "":
        return "–"
    m = f"{float(mean):.{nd}f}"
    if lo == "" or hi == "":
        return m
    return f"{m} [{float(lo):.{nd}f}, {float(hi):.{nd}f}]"


class _Wide:
    """A presentation table: column groups (e.g. splits) of sub-columns, rendered to md and tex."""

    def __init__(
        self,
        stub: Sequence[str],
        groups: Sequence[tuple[str, Sequence[str]]],
        rows: Sequence[tuple[Sequence[str], Sequence[str]]],
        bold: Sequence[Sequence[bool]] | None = None,
    ) -> None:
        self.stub, self.groups, self.rows = list(stub), list(groups), list(rows)
        self.bold = bold

    def _cell(self, r: int, c: int, text: str, md: bool) -> str:
        on = self.bold is not None and self.bold[r][c] and text not in ("", "–")
        if md:
            return f"**{text}**" if on else text
        t = _tex_escape(text)
        return f"\\textbf{{{t}}}" if on else t

    def markdown(self) -> str:
        if len(self.groups) == 1 and not self.groups[0][0]:
            head = [*self.stub, *self.groups[0][1]]
        else:
            head = [*self.stub, *(f"{g} {c}".strip() for g, subs in self.groups for c in subs)]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
        for r, (stub, cells) in enumerate(self.rows):
            vals = [*stub, *(self._cell(r, c, t, True) for c, t in enumerate(cells))]
            lines.append("| " + " | ".join(vals) + " |")
        return "\n".join(lines) + "\n"

    def latex(self, caption: str, label: str) -> str:
        n_sub = sum(len(s) for _, s in self.groups)
        spec = "l" * len(self.stub) + "r" * n_sub
        out = [
            "% generated by sertools.tables; do not edit by hand",
            "\\begin{table}[t]",
            "\\centering",
            "\\small",
            f"\\caption{{{_tex_escape(caption)}}}",
            f"\\label{{{label}}}",
            f"\\begin{{tabular}}{{{spec}}}",
            "\\toprule",
        ]
        grouped = any(g for g, _ in self.groups)
        if grouped:
            top, rules, col = [""] * len(self.stub), [], len(self.stub) + 1
            for g, subs in self.groups:
                top.append(f"\\multicolumn{{{len(subs)}}}{{c}}{{{_tex_escape(g)}}}")
                rules.append(f"\\cmidrule(lr){{{col}-{col + len(subs) - 1}}}")
                col += len(subs)
            out.append(" & ".join(top) + " \\\\")
            out.append(" ".join(rules))
        head = [_tex_escape(s) for s in self.stub] + [_tex_escape(c) for _, subs in self.groups for c in subs]
        out += [" & ".join(head) + " \\\\", "\\midrule"]
        for r, (stub, cells) in enumerate(self.rows):
            vals = [_tex_escape(s) for s in stub] + [self._cell(r, c, t, False) for c, t in enumerate(cells)]
            out.append(" & ".join(vals) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
        return "\n".join(out) + "\n"


def _best_flags(values: Sequence[Sequence[str]], higher: Sequence[bool]) -> list[list[bool]]:
    """Bold the best mean (3 decimals, ties included) of each column."""
    n_rows = len(values)
    flags = [[False] * len(higher) for _ in range(n_rows)]
    for c, hi in enumerate(higher):
        col = [round(float(values[r][c]), 3) if values[r][c] != "" else None for r in range(n_rows)]
        present = [v for v in col if v is not None]
        if len(present) < 2:
            continue
        best = max(present) if hi else min(present)
        for r, v in enumerate(col):
            flags[r][c] = v == best
    return flags


def _shown_splits(splits: Iterable[str]) -> list[str]:
    present = _split_order(set(splits))
    tests = [s for s in present if s in _TEST_SPLITS]
    return tests or present


def _seed_phrase(n_seeds: Iterable[str]) -> str:
    ns = sorted({int(n) for n in n_seeds if n != ""})
    if not ns:
        return "seeds"
    if len(ns) == 1:
        return f"{ns[0]} training seed{'s' if ns[0] != 1 else ''}"
    return f"{ns[0]}–{ns[-1]} training seeds"


def _ci_phrase(eval_cfg: Mapping[str, Any] | None) -> str:
    if eval_cfg and "ci_level" in eval_cfg and "bootstrap_resamples" in eval_cfg:
        return (
            f"{100 * float(eval_cfg['ci_level']):g}% percentile-bootstrap CI of the seed-averaged "
            f"metric in brackets (B = {int(eval_cfg['bootstrap_resamples'])} resamples of utterances)"
        )
    return "percentile-bootstrap CI of the seed-averaged metric in brackets"


# ==================================================================================== rows


def _metric_rows(variant: str, split: str, split_res: Mapping[str, Any], stratum: str | None) -> list[dict]:
    n_seeds = split_res["n_seeds"]
    block = split_res["metrics"] if stratum is None else split_res["strata"][stratum]["metrics"]
    rows = []
    for m in _metric_order(block):
        e = block[m]
        row = {
            "variant": variant,
            "split": split,
            "metric": m,
            "mean": _f(e.get("mean")),
            "sd_seeds": _f(e.get("sd_seeds")),
            "ci_low": _f(e.get("ci_low")),
            "ci_high": _f(e.get("ci_high")),
            "n_seeds": _i(n_seeds),
            "n_utterances": _i(e.get("n")),
        }
        if stratum is not None:
            row["stratum"] = stratum
        rows.append(row)
    return rows


def _check_metrics_json(variant: str, res: Mapping[str, Any]) -> None:
    if not isinstance(res, Mapping) or "splits" not in res:
        raise TableError(f"metrics of variant {variant!r} are not a variant_metrics result (no 'splits')")


def _main_rows(metrics: Mapping[str, Mapping[str, Any]], order: Sequence[str]) -> list[dict]:
    rows = []
    for v in order:
        for split in _split_order(metrics[v]["splits"]):
            rows += _metric_rows(v, split, metrics[v]["splits"][split], None)
    return rows


def _strata_rows(metrics: Mapping[str, Mapping[str, Any]], order: Sequence[str]) -> list[dict]:
    rows = []
    for v in order:
        for split in _split_order(metrics[v]["splits"]):
            res = metrics[v]["splits"][split]
            for stratum in _strata_order(res["strata"], metrics[v].get("strata"), with_all=False):
                block = _metric_rows(v, split, res, stratum)
                if not block:  # empty stratum: one row recording its size
                    block = [
                        {
                            "variant": v,
                            "split": split,
                            "stratum": stratum,
                            "metric": "n_utterances",
                            "mean": "",
                            "sd_seeds": "",
                            "ci_low": "",
                            "ci_high": "",
                            "n_seeds": _i(res["n_seeds"]),
                            "n_utterances": "0",
                        }
                    ]
                rows += block
    return rows


def _ccc_rows(main_rows: Sequence[Mapping[str, str]]) -> list[dict]:
    rows = []
    for r in main_rows:
        if r["metric"].startswith("ccc_") and r["metric"][4:] in ATTRIBUTES:
            rows.append({**{k: r[k] for k in CCC_COLUMNS if k in r}, "attribute": r["metric"][4:]})
    return rows


def _other_rows(metrics: Mapping[str, Mapping[str, Any]], order: Sequence[str]) -> list[dict]:
    rows = []
    for v in order:
        for split in _split_order(metrics[v]["splits"]):
            res = metrics[v]["splits"][split]
            other = res.get("other_class", {})
            for stratum in _strata_order(other, metrics[v].get("strata")):
                o = other[stratum]
                row = {
                    "variant": v,
                    "split": split,
                    "stratum": stratum,
                    "n_seeds": _i(res["n_seeds"]),
                    "n_utterances": _i(o.get("n_utterances")),
                }
                for f in _OTHER_FIELDS:
                    e = o.get(f) or {}
                    row[f] = _f(e.get("mean"))
                    row[f"{f}_ci_low"] = _f(e.get("ci_low"))
                    row[f"{f}_ci_high"] = _f(e.get("ci_high"))
                rows.append(row)
    return rows


def _significance_rows(
    significance: Mapping[str, Mapping[str, Any]], baseline: str, ci_level: float
) -> list[dict]:
    raw = []
    for v in sorted(significance):
        sig = significance[v]
        if not isinstance(sig, Mapping) or "splits" not in sig:
            raise TableError(f"significance of variant {v!r} is not a significance result (no 'splits')")
        base = sig.get("baseline") or baseline
        if v == base:
            continue
        for split in _split_order(sig["splits"]):
            strata = sig["splits"][split]
            for stratum in _strata_order(strata, sig.get("strata")):
                blk = strata[stratum].get("metrics", {})
                for m in _metric_order(blk):
                    raw.append((v, base, split, stratum, m, blk[m]))
    # Holm over variants within each split x stratum x metric
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, (_, _, split, stratum, m, _) in enumerate(raw):
        groups.setdefault((split, stratum, m), []).append(i)
    p_holm = [float("nan")] * len(raw)
    for idx in groups.values():
        ps = [raw[i][5].get("p_value") for i in idx]
        adj = holm([float("nan") if p is None else float(p) for p in ps])
        for i, a in zip(idx, adj, strict=True):
            p_holm[i] = float(a)
    alpha = 1.0 - ci_level
    rows = []
    for (v, base, split, stratum, m, e), ph in zip(raw, p_holm, strict=True):
        rows.append(
            {
                "variant": v,
                "baseline": base,
                "split": split,
                "stratum": stratum,
                "metric": m,
                "diff": _f(e.get("diff")),
                "ci_low": _f(e.get("ci_low")),
                "ci_high": _f(e.get("ci_high")),
                "p_value": _f(e.get("p_value")),
                "p_holm": _f(ph),
                "significant": "" if math.isnan(ph) else ("true" if ph < alpha else "false"),
            }
        )
    return rows


def _label_rows(summary: Mapping[str, Any]) -> list[dict]:
    rows: list[dict] = []

    def add(split: str, stat: str, value: Any) -> None:
        if isinstance(value, bool) or value is None:
            text = "" if value is None else str(value).lower()
        elif isinstance(value, (int, np.integer)):
            text = str(int(value))
        else:
            text = _f(value, 4)
        rows.append({"split": split, "statistic": stat, "value": text})

    dist = summary.get("class_distribution", {})
    kappa = summary.get("reliability", {}).get("fleiss_kappa_primary", {})
    hist = summary.get("entropy_histogram", {})
    edges = hist.get("edges")
    for split in _split_order(dist):
        d = dist[split]
        n = int(d.get("utterances", 0))
        add(split, "utterances", n)
        cons = d.get("consensus", {})
        for code in (*CODES, NO_AGREEMENT):
            add(split, f"consensus_{code}", int(cons.get(code, 0)))
        add(split, "no_agreement_share", cons.get(NO_AGREEMENT, 0) / n if n else None)
        add(split, "fleiss_kappa_primary", kappa.get(split))
        counts = hist.get(split, {}).get("primary")
        if edges and counts:
            for i, c in enumerate(counts):
                close = "]" if i == len(counts) - 1 else ")"
                add(split, f"entropy_primary_hist_[{edges[i]:.2f}, {edges[i + 1]:.2f}{close}", int(c))
    alpha = summary.get("reliability", {}).get("krippendorff_alpha_interval", {})
    for attr in ATTRIBUTES:
        if attr in alpha:
            add("all", f"krippendorff_alpha_{attr}", alpha[attr])
    apu = summary.get("annotators_per_utterance", {})
    for k in ("min", "mean", "max"):
        if k in apu:
            add("all", f"annotators_per_utterance_{k}", apu[k])
    if "workers" in summary:
        add("all", "workers", int(summary["workers"]))
    return rows


# ============================================================================ presentation


def _lookup(rows: Iterable[Mapping[str, str]], *keys: str) -> dict[tuple[str, ...], Mapping[str, str]]:
    return {tuple(r[k] for k in keys): r for r in rows}


def _sig_marks(sig_rows: Iterable[Mapping[str, str]] | None) -> set[tuple[str, str, str]]:
    """(variant, split, metric) with a Holm-significant difference on the whole split."""
    if not sig_rows:
        return set()
    return {
        (r["variant"], r["split"], r["metric"])
        for r in sig_rows
        if r.get("stratum") == "all" and r.get("significant") == "true"
    }


def _main_wide(
    rows: Sequence[Mapping[str, str]], sig_rows: Sequence[Mapping[str, str]] | None
) -> tuple[_Wide, list[str]]:
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "metric")
    marks = _sig_marks(sig_rows)
    cols = [(s, m, hi) for s in splits for m, _, hi in _HEADLINE]
    body, means = [], []
    for v in variants:
        cells, ms = [], []
        for s, m, _ in cols:
            r = look.get((v, s, m))
            text = _interval(r["mean"], r["ci_low"], r["ci_high"]) if r else "–"
            if (v, s, m) in marks:
                text += " †"
            cells.append(text)
            ms.append(r["mean"] if r else "")
        body.append(([v], cells))
        means.append(ms)
    groups = [(s, [f"{h} {'↑' if hi else '↓'}" for _, h, hi in _HEADLINE]) for s in splits]
    wide = _Wide(["Variant"], groups, body, _best_flags(means, [hi for _, _, hi in cols]))
    return wide, [r["n_seeds"] for r in rows]


def _main_caption(n_seeds: Sequence[str], eval_cfg: Mapping[str, Any] | None, with_sig: bool) -> str:
    text = (
        f"Mean over {_seed_phrase(n_seeds)}; {_ci_phrase(eval_cfg)}. "
        "JSD: Jensen-Shannon divergence, base 2, in [0, 1]; KLD: KL(human ‖ model) in nats; "
        "both against the primary-vote distribution over all utterances with votes (X included). "
        "Macro-F1 and accuracy: hard-labelled utterances only (X excluded). Bold: best per column."
    )
    if with_sig:
        base = (eval_cfg or {}).get("baseline_variant", "the baseline")
        level = 1 - float((eval_cfg or {}).get("ci_level", 0.95))
        text += f" †: differs from {base} (paired bootstrap, Holm-adjusted p < {level:g})."
    return text


def readme_table(
    main_csv_path: PathLike,
    eval_cfg: Mapping[str, Any] | None = None,
    significance_csv_path: PathLike | None = None,
) -> str:
    """The Markdown Table 2 analogue, built from ``main.csv`` (and ``significance.csv`` for † marks).

    Rows are variants; columns Test1/Test2 x (macro-F1, accuracy, JSD, KLD) as
    ``mean [lo, hi]``. ``eval_cfg`` (``bootstrap_resamples``, ``ci_level``,
    ``baseline_variant``) only fills in the caption. Identical to ``main.md``.
    """
    rows = _read_csv(main_csv_path)
    if not rows or set(MAIN_COLUMNS) - set(rows[0]):
        raise TableError(f"{main_csv_path} is empty or lacks the columns {list(MAIN_COLUMNS)}")
    sig = _read_csv(significance_csv_path) if significance_csv_path else None
    return _main_markdown(rows, sig, eval_cfg)


def _main_markdown(
    rows: Sequence[Mapping[str, str]], sig: Sequence[Mapping[str, str]] | None, eval_cfg: Mapping | None
) -> str:
    wide, n_seeds = _main_wide(rows, sig)
    return wide.markdown() + "\n" + _main_caption(n_seeds, eval_cfg, bool(sig)) + "\n"


def _strata_wide(rows: Sequence[Mapping[str, str]]) -> _Wide:
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    strata = list(dict.fromkeys(r["stratum"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "stratum", "metric")
    size = {
        (r["variant"], r["split"], r["stratum"]): r["n_utterances"]
        for r in rows
        if r["metric"] == "jsd_primary"
    }
    body = []
    for v in variants:
        for st in strata:
            cells = []
            for s in splits:
                cells.append(size.get((v, s, st), "0"))
                for m, _, _ in _STRATA_SHOWN:
                    r = look.get((v, s, st, m))
                    cells.append(_interval(r["mean"], r["ci_low"], r["ci_high"]) if r else "–")
            body.append(([v, st], cells))
    groups = [(s, ["n", *(f"{h} {'↑' if hi else '↓'}" for _, h, hi in _STRATA_SHOWN)]) for s in splits]
    return _Wide(["Variant", "Entropy stratum"], groups, body)


def _ccc_wide(rows: Sequence[Mapping[str, str]]) -> _Wide:
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "attribute")
    body = []
    for v in variants:
        cells = []
        for s in splits:
            for a in ATTRIBUTES:
                r = look.get((v, s, a))
                cells.append(_interval(r["mean"], r["ci_low"], r["ci_high"]) if r else "–")
        body.append(([v], cells))
    return _Wide(["Variant"], [(s, [a.capitalize() for a in ATTRIBUTES]) for s in splits], body)


def _other_wide(rows: Sequence[Mapping[str, str]]) -> _Wide:
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    strata = list(dict.fromkeys(r["stratum"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "stratum")
    heads = {"other_pred_share": "argmax share", "other_mass": "mass", "human_other_share": "human share"}
    body = []
    for v in variants:
        for st in strata:
            cells = []
            for s in splits:
                r = look.get((v, s, st))
                for f in _OTHER_FIELDS:
                    cells.append(_interval(r[f], r[f"{f}_ci_low"], r[f"{f}_ci_high"]) if r else "–")
            body.append(([v, st], cells))
    return _Wide(["Variant", "Entropy stratum"], [(s, list(heads.values())) for s in splits], body)


def _sig_wide(rows: Sequence[Mapping[str, str]]) -> _Wide:
    rows = [r for r in rows if r["stratum"] == "all"]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    splits = _shown_splits(r["split"] for r in rows)
    look = _lookup(rows, "variant", "split", "metric")
    body = []
    for v in variants:
        cells = []
        for s in splits:
            for m, _ in _SIG_SHOWN:
                r = look.get((v, s, m))
                if not r:
                    cells.append("–")
                    continue
                text = _interval(r["diff"], r["ci_low"], r["ci_high"])
                p = f"p_Holm = {float(r['p_holm']):.3f}" if r["p_holm"] else ""
                cells.append(f"{text}{' *' if r['significant'] == 'true' else ''} ({p})" if p else text)
        body.append(([v], cells))
    return _Wide(["Variant"], [(s, [h for _, h in _SIG_SHOWN]) for s in splits], body)


def _label_wide(rows: Sequence[Mapping[str, str]]) -> _Wide:
    splits = _split_order({r["split"] for r in rows})
    stats = list(dict.fromkeys(r["statistic"] for r in rows))
    look = _lookup(rows, "split", "statistic")
    body = [([st], [look[(s, st)]["value"] if (s, st) in look else "–" for s in splits]) for st in stats]
    return _Wide(["Statistic"], [("", splits)], body)


# ================================================================================ writing


def table_files(out_dir: PathLike) -> list[Path]:
    """Every file :func:`build_tables` writes (for declaring Snakemake outputs)."""
    d = Path(out_dir)
    return [d / f"{name}.{ext}" for name in TABLE_NAMES for ext in ("csv", "md", "tex")]


def _write_captioned(
    out_dir: Path, name: str, columns: Sequence[str], rows, wide, caption: str
) -> list[Path]:
    """CSV of ``rows`` plus the wide table as Markdown and LaTeX, both with ``caption``."""
    md = wide.markdown() + "\n" + caption + "\n"
    return _write(out_dir, name, columns, rows, md, wide.latex(caption, "tab:" + name.replace("_", "-")))


def _write(out_dir: Path, name: str, columns: Sequence[str], rows, md: str, tex: str) -> list[Path]:
    paths = [out_dir / f"{name}.csv", out_dir / f"{name}.md", out_dir / f"{name}.tex"]
    for p, text in zip(paths, (_csv_text(columns, rows), md, tex), strict=True):
        write_text(p, text)
    return paths


def build_tables(
    metrics: Mapping[str, Mapping[str, Any]],
    significance: Mapping[str, Mapping[str, Any]],
    label_summary: Mapping[str, Any],
    eval_cfg: Mapping[str, Any],
    out_dir: PathLike,
) -> list[Path]:
    """Write every table (see the module docstring) and return the paths written.

    ``metrics``: variant -> :func:`sertools.evaluate.variant_metrics` result;
    ``significance``: variant -> :func:`sertools.evaluate.significance` result
    (the baseline itself may be absent); ``label_summary``: the label stage's
    ``summary.json``.
    """
    for key in ("baseline_variant", "ci_level", "bootstrap_resamples"):
        if key not in eval_cfg:
            raise TableError(f"evaluation config lacks key {key!r} (pass config['evaluation'])")
    if not metrics:
        raise TableError("build_tables: no variant metrics given")
    for v, res in metrics.items():
        _check_metrics_json(v, res)
    baseline = str(eval_cfg["baseline_variant"])
    ci_level = float(eval_cfg["ci_level"])
    order = _variant_order(metrics, baseline)
    out = Path(out_dir)
    written: list[Path] = []

    main = _main_rows(metrics, order)
    sig = _significance_rows(significance, baseline, ci_level)
    sig.sort(key=lambda r: (order.index(r["variant"]) if r["variant"] in order else len(order), r["variant"]))
    seeds = [r["n_seeds"] for r in main]
    level = f"{100 * ci_level:g}%"
    wide, _ = _main_wide(main, sig)
    written += _write(
        out,
        "main",
        MAIN_COLUMNS,
        main,
        _main_markdown(main, sig, eval_cfg),
        wide.latex(_main_caption(seeds, eval_cfg, bool(sig)), "tab:main"),
    )

    strata = _strata_rows(metrics, order)
    cap = (
        "Entropy-stratified results (normalised primary-vote entropy; n = utterances per stratum). "
        f"Mean over {_seed_phrase(seeds)}; {_ci_phrase(eval_cfg)}. JSD base 2, KLD in nats, "
        "against the primary-vote distribution (X included); macro-F1 excludes X."
    )
    sw = _strata_wide(strata)
    written += _write_captioned(out, "entropy_strata", STRATA_COLUMNS, strata, sw, cap)

    cap = (
        f"Paired bootstrap of each variant minus {baseline} on shared resamples (seed-averaged); "
        f"{level} CI of the difference in brackets; p_Holm: two-sided bootstrap p-value, Holm-adjusted "
        f"across variants per split, stratum and metric; *: p_Holm < {1 - ci_level:g}. "
        "Negative ΔJSD/ΔKLD = closer to the human votes."
    )
    gw = _sig_wide(sig)
    written += _write_captioned(out, "significance", SIGNIFICANCE_COLUMNS, sig, gw, cap)

    ccc_rows = _ccc_rows(main)
    cap = (
        "Concordance correlation coefficient of the dimensional head against the mean annotator "
        f"rating (1-7), all utterances; mean over {_seed_phrase(seeds)}; {_ci_phrase(eval_cfg)}."
    )
    cw = _ccc_wide(ccc_rows)
    written += _write_captioned(out, "ccc", CCC_COLUMNS, ccc_rows, cw, cap)

    other = _other_rows(metrics, order)
    cap = (
        "Other class by entropy stratum: share of utterances whose argmax prediction is Other, mean "
        "predicted probability of Other, and the humans' mean primary-vote share of Other; all "
        f"utterances (X included); {_ci_phrase(eval_cfg)}."
    )
    ow = _other_wide(other)
    written += _write_captioned(out, "other_class", OTHER_COLUMNS, other, ow, cap)

    labels = _label_rows(label_summary)
    cap = (
        "Label statistics per split: consensus class counts (X = no agreement), normalised primary-vote "
        "entropy histogram, Fleiss' kappa of the primary votes; Krippendorff's "
        "alpha (interval) of the arousal/valence/dominance ratings and annotators per utterance over all splits."
    )
    lw = _label_wide(labels)
    written += _write_captioned(out, "label_stats", LABEL_COLUMNS, labels, lw, cap)
    return written


def run_tables(
    metrics_paths: Mapping[str, PathLike],
    significance_paths: Mapping[str, PathLike],
    label_summary_path: PathLike,
    eval_cfg: Mapping[str, Any],
    out_dir: PathLike,
) -> list[Path]:
    """:func:`build_tables` from JSON files (variant -> path)."""
    import json

    def load(p: PathLike) -> Any:
        try:
            return json.loads(Path(p).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise TableError(f"cannot read {p}: {err}") from None

    return build_tables(
        {v: load(p) for v, p in metrics_paths.items()},
        {v: load(p) for v, p in significance_paths.items()},
        load(label_summary_path),
        eval_cfg,
        out_dir,
    )

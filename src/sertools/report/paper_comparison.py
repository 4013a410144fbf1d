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
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

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


def _fmt(x: object, digits: int) -> str:
    return "–" if pd.isna(x) else f"{float(x):.{digits}f}"


def to_markdown(table: pd.DataFrame, comparable: bool) -> str:
    """One Markdown table per split, headed as not comparable when it is not."""
    lines = ["# Published vs reproduced (the paper's Table 2)", ""]
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
            digits = 2 if PUBLISHED_SCALE[r.metric] == 100.0 else 3
            pub = f"{_fmt(r.published, digits)} [{_fmt(r.published_low, digits)}, {_fmt(r.published_high, digits)}]"
            ours = (
                "–"
                if pd.isna(r.ours)
                else f"{_fmt(r.ours, digits)} [{_fmt(r.ours_low, digits)}, {_fmt(r.ours_high, digits)}]"
            )
            overlap = "–" if pd.isna(r.cis_overlap) else ("yes" if r.cis_overlap else "no")
            variant = r.variant if isinstance(r.variant, str) else "–"
            lines.append(
                f"| {r.paper_row} | {variant} | {r.metric} | {pub} | {ours} | {_fmt(r.difference, digits)} | {overlap} |"
            )
        lines.append("")
    lines.append(
        "Published: docs/paper_release/table2.csv (the release's Table 2; Macro-F1 is its published rule, "
        "`macro_f1_published`). Ours: mean over seeds with its percentile-bootstrap CI. Difference: ours − published."
    )
    return "\n".join(lines) + "\n"

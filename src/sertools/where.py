"""Print where the workflow's main outputs are (run at the end of `make demo`)."""

from __future__ import annotations

from pathlib import Path

OUTPUTS = {
    "label table": "results/labels/labels.parquet",
    "label summary": "results/labels/summary.json",
    "audio manifest": "results/manifest/manifest.parquet",
    "trained models": "results/train/",
    "prediction dumps": "results/predictions/",
    "metrics (JSON)": "results/metrics/",
    "Table 2 analogue": "results/tables/main.md",
    "all tables": "results/tables/",
    "figures": "results/figures/",
    "report": "results/report.html",
}


def main() -> None:
    print("\nsertools outputs (described in results/README.md):")
    for what, path in OUTPUTS.items():
        mark = "" if Path(path).exists() else "  (missing)"
        print(f"  {what:<18} {path}{mark}")
    table = Path(OUTPUTS["Table 2 analogue"])
    if table.exists():
        print("\n" + table.read_text())


if __name__ == "__main__":
    main()

"""Print where the workflow's main outputs are (run after `make demo`)."""

from __future__ import annotations

from pathlib import Path

OUTPUTS = {
    "label table": "results/labels/labels.parquet",
    "label summary": "results/labels/summary.json",
    "audio manifest": "results/manifest/manifest.parquet",
    "manifest summary": "results/manifest/summary.json",
}


def main() -> None:
    print("\nsertools outputs:")
    for what, path in OUTPUTS.items():
        mark = "" if Path(path).exists() else "  (missing)"
        print(f"  {what:<18} {path}{mark}")


if __name__ == "__main__":
    main()

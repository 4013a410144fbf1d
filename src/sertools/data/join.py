"""The rows training sees: the label table inner-joined with the audio manifest on ``file_id``.

:func:`load_joined` reads the label table of either corpus with its class set
(:mod:`sertools.labels.view`) and the audio manifest (validated by
:mod:`sertools.data.manifest_table`) and joins them; :func:`load_table` is the
joined frame alone. Labelled utterances without audio are counted per split and logged (never
silently lost); the label table's ``split`` is authoritative and a disagreeing
manifest split is an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sertools import arrays
from sertools.classes import DIMENSIONS, MSP_PODCAST, ClassSet
from sertools.data import manifest_table
from sertools.data.errors import DataError
from sertools.labels import view as label_view

log = logging.getLogger(__name__)

#: the label columns training and prediction read from an MSP-Podcast (or synthetic) label table
LABEL_COLUMNS = (
    "file_id",
    "split",
    "consensus",
    "hard_label",
    "p_primary",
    "p_merged",
    "entropy_primary",
    "entropy_merged",
    "agreement",
    *DIMENSIONS,
)
MANIFEST_COLUMNS = ("file_id", "path", "duration_s", "frames", "sample_rate")


#: the label columns every corpus's table gives (under the names of sertools.labels.view)
COMMON_LABEL_COLUMNS = (
    "file_id",
    "split",
    "consensus",
    "hard_label",
    "p_primary",
    "entropy_primary",
    "agreement",
)


def label_columns(classes: ClassSet) -> tuple[str, ...]:
    """The label columns training needs from a table of ``classes``: :data:`LABEL_COLUMNS` for
    MSP-Podcast's, else the common ones and the class set's dimensions."""
    if classes is MSP_PODCAST:
        return LABEL_COLUMNS
    return (*COMMON_LABEL_COLUMNS, *classes.dimensions)


def read_labels(path: str | Path) -> label_view.LabelView:
    """The label table (one row per utterance), validated, with the columns training needs and its class set."""
    return label_view.read(path, require=label_columns(label_view.table_class_set(path)))


def read_manifest(path: str | Path) -> pd.DataFrame:
    """The audio manifest, validated, with the columns training needs."""
    return manifest_table.read(path, require=MANIFEST_COLUMNS)


def join(labels: pd.DataFrame, manifest: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Inner join on ``file_id`` (sorted by file_id); counts what had no audio or no label."""
    cols = [c for c in manifest.columns if c not in labels.columns or c == "file_id"]
    merged = labels.merge(manifest[cols], on="file_id", how="inner", validate="one_to_one")
    if "split" in manifest.columns:
        check = labels[["file_id", "split"]].merge(
            manifest[["file_id", "split"]], on="file_id", suffixes=("", "_m")
        )
        bad = check[check["split"] != check["split_m"]]
        if len(bad):
            ex = bad.iloc[0]
            raise DataError(
                f"{len(bad)} utterance(s) have different splits in the label table and the manifest, "
                f"e.g. {ex['file_id']}: {ex['split']!r} vs {ex['split_m']!r}"
            )
    have_audio = arrays.isin(labels["file_id"], manifest["file_id"])
    no_audio = labels.loc[~have_audio, "split"].value_counts().sort_index()
    report: dict[str, Any] = {
        "joined": len(merged),
        "labels_without_audio": {str(k): int(v) for k, v in no_audio.items()},
        "audio_without_labels": int((~arrays.isin(manifest["file_id"], labels["file_id"])).sum()),
    }
    if len(no_audio):
        log.warning(
            "%d labelled utterance(s) have no audio in the manifest and are left out: %s",
            int(no_audio.sum()),
            ", ".join(f"{k} {v}" for k, v in report["labels_without_audio"].items()),
        )
    if report["audio_without_labels"]:
        log.warning("%d manifest row(s) have no label and are ignored", report["audio_without_labels"])
    return merged.sort_values("file_id", kind="stable").reset_index(drop=True), report


@dataclass(frozen=True, eq=False)
class Joined:
    """The joined rows (``table``), what the join left out (``report``) and the labels' class set."""

    table: pd.DataFrame
    report: dict[str, Any]
    classes: ClassSet


def load_joined(labels_path: str | Path, manifest_path: str | Path) -> Joined:
    """:func:`read_labels` + :func:`read_manifest` + :func:`join`, with the label table's class set."""
    labels = read_labels(labels_path)
    table, report = join(labels.table, read_manifest(manifest_path))
    return Joined(table, report, labels.classes)


def load_table(labels_path: str | Path, manifest_path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The joined rows and the report of :func:`load_joined`."""
    joined = load_joined(labels_path, manifest_path)
    return joined.table, joined.report

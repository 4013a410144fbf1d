"""The label stage's dispatch, the label view and the manifest on a 6-class (CREMA-D) corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cremad import pipeline_clips
from stagefiles import CremaDRun
from tinyrun import make_corpus

from sertools.classes import CREMA_D, MSP_PODCAST
from sertools.data import manifest_table
from sertools.labels import crema_d_table, table, view


def test_the_label_stage_writes_the_crema_d_table(cremad_run: CremaDRun) -> None:
    df = crema_d_table.read(cremad_run.labels)
    assert sorted(df["file_id"]) == sorted(name for name, _ in pipeline_clips())
    assert set(df["split"]) == {"Train", "Development", "Test1"}


def test_the_view_names_the_class_set_and_maps_the_columns(cremad_run: CremaDRun) -> None:
    assert view.table_class_set(cremad_run.labels) is CREMA_D
    v = view.read(cremad_run.labels, require=["p_primary", "entropy_primary", "hard_label"])
    own = crema_d_table.read(cremad_run.labels)
    assert v.classes is CREMA_D and v.audio_suffix == ".wav"
    np.testing.assert_array_equal(np.stack(v.table["p_primary"]), np.stack(own["p_votes"]))
    np.testing.assert_array_equal(v.table["entropy_primary"], own["entropy"])
    assert "p_votes" not in v.table.columns and "arousal" not in v.table.columns
    with pytest.raises(crema_d_table.CremaDTableError, match="p_merged"):
        view.read(cremad_run.labels, require=["p_merged"])
    only = view.read_columns(cremad_run.labels, ["file_id", "p_primary"])
    assert list(only.table.columns) == ["file_id", "p_primary"]


def test_an_msp_table_is_msp_podcasts(tmp_path: Path) -> None:
    out, _ = make_corpus(tmp_path)
    assert view.table_class_set(out) is MSP_PODCAST
    need = ["file_id", "split", "hard_label", "p_primary", "entropy_primary"]
    v = view.read(out, require=need)
    assert v.classes is MSP_PODCAST and v.audio_suffix == ""
    assert v.table.equals(table.read(out, require=need))


def test_the_manifest_finds_the_clips_in_audiowav(cremad_run: CremaDRun) -> None:
    m = manifest_table.read(cremad_run.manifest)
    labels = crema_d_table.read(cremad_run.labels)
    assert sorted(m["file_id"]) == sorted(labels["file_id"])
    assert all(p.endswith(f"/AudioWAV/{f}.wav") for f, p in zip(m["file_id"], m["path"], strict=True))
    summary = json.loads(cremad_run.manifest_summary.read_text())
    assert summary["utterances_dropped"] == {} and summary["audio_without_labels"] == 0
    assert summary["per_split"] == labels["split"].value_counts().sort_index().to_dict()

"""labels.txt and labels_detailed.csv of the same corpus give the same label table.

The synthetic corpus writes both files from the same annotations (empty
secondaries both as an absent field and as an empty slot); the label stage
reads one or the other (``labels.detailed_source``), and every vote,
distribution and hard-label column must come out equal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sertools.corpus.msp import label_files
from sertools.corpus.synthetic import generate as synth
from sertools.labels import build, table

UTTERANCES = 300


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[pd.DataFrame, dict]]:
    from sertools import config

    root = tmp_path_factory.mktemp("synth") / "corpus"
    synth.generate(root, UTTERANCES, 3, labels_only=True)
    cfg = config.resolve({})["labels"]
    out: dict[str, tuple[pd.DataFrame, dict]] = {}
    for source in ("labels_detailed", "labels_txt"):
        files = label_files(root, source)
        dest = root.parent / source
        summary = build.run(
            files,
            {"table": dest / "labels.parquet", "summary": dest / "summary.json"},
            labels={**cfg, "detailed_source": source},
        )
        out[source] = (table.read(dest / "labels.parquet"), summary)
    return out


def test_the_two_sources_were_read(both):
    assert both["labels_detailed"][1]["source"]["detailed_layout"] == "2.0"
    txt = both["labels_txt"][1]["source"]
    assert txt["detailed_layout"] == "labels_txt" and Path(txt["detailed_file"]).name == "labels.txt"
    assert txt["blocks"] == UTTERANCES and txt["blocks_with_bad_header"] == 0


def test_every_column_is_equal(both):
    csv, txt = both["labels_detailed"][0], both["labels_txt"][0]
    assert len(csv) == UTTERANCES and list(csv.columns) == list(txt.columns)
    lists = table.list_columns(csv.columns)
    assert {
        "votes_primary",
        "votes_merged",
        "p_primary",
        "p_merged",
        "p_release_secondary",
        "p_release_MH",
    } <= set(lists)
    for column in csv.columns:
        if column in lists:
            np.testing.assert_array_equal(
                table.matrix(csv, column), table.matrix(txt, column), err_msg=column
            )
        else:
            pd.testing.assert_series_equal(csv[column], txt[column], check_names=True)
    # the corpus exercises what the comparison is about
    assert (table.matrix(csv, "p_release_secondary").sum(axis=1) > 0).any()
    assert (csv["hard_guarded_release_MH"] != csv["hard_guarded_release_primary"]).any()


def test_the_summaries_agree_but_for_the_source(both):
    a, b = (dict(both[s][1]) for s in ("labels_detailed", "labels_txt"))
    a.pop("source"), b.pop("source")
    assert a == b

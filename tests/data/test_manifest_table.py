"""The audio manifest (sertools.data.manifest_table): written and read back; a bad manifest is named."""

from __future__ import annotations

import pandas as pd
import pytest

from sertools.data import manifest_table
from sertools.data.manifest_table import ManifestError


def _manifest() -> pd.DataFrame:
    rows = [
        ("a.wav", "Train", 16000, 1, "PCM_16", False),
        ("b.wav", "Development", 44100, 2, "PCM_16", True),
        ("c.wav", "Test1", 16000, 1, "FLOAT", False),
    ]
    return pd.DataFrame(
        [
            {
                "file_id": f,
                "split": split,
                "path": f"cache/{f}" if conv else f"Audios/{f}",
                "source_path": f"Audios/{f}",
                "duration_s": 24000 / 16000,
                "frames": 24000,
                "sample_rate": 16000,
                "source_sample_rate": rate,
                "source_channels": channels,
                "source_subtype": subtype,
                "converted": conv,
            }
            for f, split, rate, channels, subtype, conv in rows
        ],
        columns=list(manifest_table.COLUMNS),
    )


def test_round_trip(tmp_path):
    path = tmp_path / "manifest.parquet"
    manifest_table.write(_manifest(), path)
    pd.testing.assert_frame_equal(manifest_table.read(path), _manifest())
    assert list(manifest_table.read(path, columns=["file_id", "frames"]).columns) == ["file_id", "frames"]
    manifest_table.write(manifest_table.empty(), tmp_path / "empty.parquet")
    assert len(manifest_table.read(tmp_path / "empty.parquet")) == 0


BAD = [
    ("file_id", "a.wav", r"column 'file_id' of 'a\.wav' \('a\.wav'\) is listed more than once"),
    (
        "split",
        "Test3",
        r"column 'split' of 'b\.wav' \('Test3'\) is not one of Train, Development, Test1, Test2",
    ),
    ("frames", 0, r"column 'frames' of 'b\.wav' \(0\) is not positive"),
    ("duration_s", 2.0, r"column 'duration_s' of 'b\.wav' \(2\.0\) is not frames / sample_rate"),
    ("sample_rate", 8000, r"column 'sample_rate' of 'b\.wav' \(8000\) differs from the first row's 16000"),
    ("path", "", r"column 'path' of 'b\.wav' \(''\) is empty"),
]


@pytest.mark.parametrize(("column", "value", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_manifest_is_named_with_its_problem(tmp_path, column, value, message):
    bad = _manifest()
    bad.loc[1, column] = value
    path = tmp_path / "manifest.parquet"
    with pytest.raises(ManifestError, match=rf"^{path}: manifest: {message}"):
        manifest_table.write(bad, path)
    assert not path.exists()
    bad.to_parquet(path, index=False)
    with pytest.raises(ManifestError, match=rf"^{path}: manifest: {message}"):
        manifest_table.read(path)


def test_wrong_types_missing_columns_and_files(tmp_path):
    bad = _manifest().assign(frames=[1.5, 2.5, 3.5])
    with pytest.raises(
        ManifestError, match=r"<manifest>: manifest: column 'frames' has type float64, expected int"
    ):
        manifest_table.validate(bad)
    with pytest.raises(ManifestError, match=r"<manifest>: manifest lacks column\(s\) \['converted'\]"):
        manifest_table.validate(_manifest().drop(columns=["converted"]))
    path = tmp_path / "m.parquet"
    _manifest().drop(columns=["path"]).to_parquet(path, index=False)
    with pytest.raises(ManifestError, match=r"m\.parquet: manifest lacks column\(s\) \['path'\]"):
        manifest_table.read(path)
    assert len(manifest_table.read(path, require=["file_id", "frames"])) == 3
    with pytest.raises(ManifestError, match=r"nope\.parquet: manifest not found"):
        manifest_table.read(tmp_path / "nope.parquet")

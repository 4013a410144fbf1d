"""Readers for MSP-Podcast label files, in every known layout (docs/corpus.md).

The readers only parse; they return raw strings so that the label stage can
decide (and count) what is valid. Columns are found by name, in any order;
extra columns are ignored; a missing column is an error naming the file.

Supported files (``<root>/Labels/``, see "Label files" in docs/corpus.md):

- ``labels_consensus.csv`` / ``labels_consensus.json``
- ``labels_detailed.csv`` in the 2.0 layout (``FileName, WorkerID,
  EmoClass_Major, EmoClass_Second, EmoAct, EmoVal, EmoDom``; the 1.6 spelling
  ``Workers`` is accepted), in the 1.11/1.12 layout (``FileName, EmoDetail``
  with ``WORKER..; <primary>; <secondary,...>; A:x; V:x; D:x;``), and
  ``labels_detailed.json`` (``{file: {worker: {EmoClass_Major: ...}}}``).
- ``labels.txt``, the block-format dump (:mod:`sertools.corpus.labels_txt`), as
  the detailed source when ``labels.detailed_source`` asks for it (or ``auto``
  finds no labels_detailed file): its worker lines become the same raw table;
  its block headers (consensus letter, mean ratings) are not used, the
  consensus file stays the source of consensus and partition.

CSV files may carry a UTF-8 byte-order mark and CRLF line endings. Bytes that
are not valid UTF-8 are replaced by U+FFFD and the rows holding them are
counted (``non_utf8_rows``) rather than stopping the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sertools.corpus.labels_txt import read_labels_txt
from sertools.splits import DEVELOPMENT, TRAIN

CONSENSUS_COLUMNS = {
    "file_id": "FileName",
    "consensus": "EmoClass",
    "act": "EmoAct",
    "val": "EmoVal",
    "dom": "EmoDom",
    "speaker": "SpkrID",
    "gender": "Gender",
    "split": "Split_Set",
}
CONSENSUS_OPTIONAL = {"speaker", "gender", "act", "val", "dom"}

DETAILED_COLUMNS = {
    "file_id": ("FileName",),
    "worker": ("WorkerID", "Workers"),
    "primary": ("EmoClass_Major",),
    "secondary": ("EmoClass_Second",),
    "act": ("EmoAct",),
    "val": ("EmoVal",),
    "dom": ("EmoDom",),
}
DETAILED_FIELDS = tuple(DETAILED_COLUMNS)

# WORKER00000123; Neutral; Concerned,Sad; A:2.0; V:4.0; D:3.0;
_EMODETAIL_RE = (
    r"^\s*(?P<worker>[^;]*?)\s*;\s*(?P<primary>[^;]*?)\s*;\s*(?P<secondary>[^;]*?)\s*;"
    r"\s*A\s*:\s*(?P<act>[^;]*?)\s*;\s*V\s*:\s*(?P<val>[^;]*?)\s*;\s*D\s*:\s*(?P<dom>[^;]*?)\s*;?\s*$"
)

REPLACEMENT_CHAR = "\ufffd"

LABELS_TXT = "labels.txt"
#: values of ``labels.detailed_source``
DETAILED_SOURCES = ("auto", "labels_detailed", "labels_txt")
#: ``RawLabels.detailed_layout`` of a labels.txt source
LABELS_TXT_LAYOUT = "labels_txt"

# Other spellings of partition names (lower case) -> sertools.splits names.
# Early releases wrote Validation for Development.
SPLIT_ALIASES = {
    "validation": DEVELOPMENT,
    "dev": DEVELOPMENT,
    "train": TRAIN,
    "development": DEVELOPMENT,
}


def canonical_split(name: str) -> str:
    """The ``sertools.splits`` spelling of a ``Split_Set`` value (unknown names unchanged)."""
    return SPLIT_ALIASES.get(name.lower(), name)


class CorpusFormatError(ValueError):
    """A label file is missing, unreadable or not in a known MSP-Podcast layout."""


@dataclass(frozen=True)
class RawLabels:
    """Raw label tables as read from disk (all values are strings).

    ``consensus``: one row per consensus line, columns ``file_id, consensus, act,
    val, dom, speaker, gender, split, line``.
    ``detailed``: one row per annotation, columns ``file_id, worker, primary,
    secondary, act, val, dom, malformed, line``; ``line`` is the 1-based line number in the
    source file (CSV, labels.txt) or the record number (JSON), for error messages.
    From labels.txt the table also has ``raw``, the worker line as written.
    ``detailed_layout``: ``2.0``, ``1.11``, ``json`` or ``labels_txt``.
    ``blocks`` and ``bad_block_headers`` (labels.txt only): blocks read, and the
    (line, text) of each block header that did not parse (its worker lines are
    malformed rows without a file name).
    """

    consensus: pd.DataFrame
    detailed: pd.DataFrame
    consensus_path: Path
    detailed_path: Path
    detailed_layout: str
    non_utf8_rows: int
    blocks: int = 0
    bad_block_headers: tuple[tuple[int, str], ...] = ()


def find_label_file(labels_dir: Path, stem: str) -> Path:
    """``<stem>.csv`` if present, else ``<stem>.json``; a clear error otherwise."""
    for ext in (".csv", ".json"):
        p = labels_dir / f"{stem}{ext}"
        if p.is_file():
            return p
    raise CorpusFormatError(
        f"{labels_dir}: neither {stem}.csv nor {stem}.json found "
        "(expected an MSP-Podcast release with a Labels/ directory)"
    )


def _read_csv_strings(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            encoding_errors="replace",
            skipinitialspace=False,
        )
    except pd.errors.EmptyDataError as e:
        raise CorpusFormatError(f"{path}: the file is empty") from e
    except pd.errors.ParserError as e:
        raise CorpusFormatError(f"{path}: not a readable CSV file ({e})") from e
    df.columns = [c.strip() for c in df.columns]
    return df


def _count_replaced(df: pd.DataFrame) -> int:
    if df.empty:
        return 0
    mask = pd.Series(False, index=df.index)
    for c in df.columns:
        if pd.api.types.is_string_dtype(df[c]):  # object or pandas' (arrow) str dtype
            mask |= df[c].str.contains(REPLACEMENT_CHAR, regex=False, na=False)
    return int(mask.sum())


def _pick(
    path: Path, df: pd.DataFrame, wanted: dict[str, tuple[str, ...]], optional: set[str]
) -> pd.DataFrame:
    cols = {}
    for field, names in wanted.items():
        found = next((n for n in names if n in df.columns), None)
        if found is None:
            if field in optional:
                cols[field] = pd.Series("", index=df.index, dtype=object)
                continue
            raise CorpusFormatError(
                f"{path}: required column {names[0]!r} is missing (columns found: {', '.join(df.columns)})"
            )
        cols[field] = df[found].astype(str).str.strip()
    return pd.DataFrame(cols)


def read_consensus(path: Path) -> tuple[pd.DataFrame, int]:
    """Read ``labels_consensus.csv`` or ``.json``; returns (table, rows with non-UTF-8 bytes)."""
    wanted = {k: (v,) for k, v in CONSENSUS_COLUMNS.items()}
    if path.suffix == ".json":
        data = _load_json(path)
        if not isinstance(data, dict):
            raise CorpusFormatError(f"{path}: expected a JSON object keyed by file name")
        rows = []
        for name, rec in data.items():
            if isinstance(rec, list) and len(rec) == 1:  # MSP-Face style wrapper
                rec = rec[0]
            if not isinstance(rec, dict):
                raise CorpusFormatError(f"{path}: entry {name!r} is not an object")
            rec = dict(rec)
            if "EmoClass" not in rec and "EmoClass_Major" in rec:
                rec["EmoClass"] = rec["EmoClass_Major"]
            rows.append({"FileName": name, **{k: "" if v is None else str(v) for k, v in rec.items()}})
        raw = pd.DataFrame(rows, columns=sorted({c for r in rows for c in r}) or ["FileName"])
        raw = raw.fillna("")
        line = pd.Series(range(1, len(raw) + 1), dtype="int64")
    else:
        raw = _read_csv_strings(path)
        line = pd.Series(range(2, len(raw) + 2), dtype="int64")
    out = _pick(path, raw, wanted, CONSENSUS_OPTIONAL)
    out["line"] = line.to_numpy()
    return out, _count_replaced(raw)


def read_detailed(path: Path) -> tuple[pd.DataFrame, str, int]:
    """Read a detailed-labels file in any known layout.

    Returns (table, layout name, rows with non-UTF-8 bytes); layout is one of
    ``"2.0"``, ``"1.11"`` or ``"json"``.
    """
    if path.suffix == ".json":
        return _read_detailed_json(path), "json", 0
    raw = _read_csv_strings(path)
    replaced = _count_replaced(raw)
    line = pd.Series(range(2, len(raw) + 2), dtype="int64").to_numpy()
    if "EmoDetail" in raw.columns and "EmoClass_Major" not in raw.columns:
        if "FileName" not in raw.columns:
            raise CorpusFormatError(f"{path}: required column 'FileName' is missing")
        parts = raw["EmoDetail"].str.extract(_EMODETAIL_RE)
        out = pd.DataFrame({"file_id": raw["FileName"].str.strip()})
        for field in DETAILED_FIELDS[1:]:
            out[field] = parts[field].fillna("")
        # Rows that do not match the EmoDetail pattern keep an empty primary and
        # are reported by the label stage as malformed, with their line number.
        out["malformed"] = parts["worker"].isna().to_numpy()
        out["line"] = line
        return out, "1.11", replaced
    out = _pick(path, raw, DETAILED_COLUMNS, optional={"secondary"})
    out["malformed"] = False
    out["line"] = line
    return out, "2.0", replaced


def _load_json(path: Path) -> object:
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            return json.load(fh)
    except json.JSONDecodeError as e:
        raise CorpusFormatError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from e


def _read_detailed_json(path: Path) -> pd.DataFrame:
    data = _load_json(path)
    if not isinstance(data, dict):
        raise CorpusFormatError(f"{path}: expected a JSON object keyed by file name")
    rows = []
    n = 0
    for name, workers in data.items():
        if not isinstance(workers, dict):
            raise CorpusFormatError(f"{path}: entry {name!r} is not an object keyed by worker id")
        for worker, rec in workers.items():
            n += 1
            if not isinstance(rec, dict):
                raise CorpusFormatError(f"{path}: {name!r}/{worker!r} is not an object")
            row = {"file_id": name, "worker": worker, "line": n, "malformed": False}
            for field, names in DETAILED_COLUMNS.items():
                if field in ("file_id", "worker"):
                    continue
                v = next((rec[k] for k in names if k in rec), "")
                row[field] = "" if v is None else str(v).strip()
            rows.append(row)
    cols = ["file_id", "worker", "primary", "secondary", "act", "val", "dom", "malformed", "line"]
    return pd.DataFrame(rows, columns=cols)


def is_labels_txt(path: str | Path) -> bool:
    """Whether a detailed-label path is a ``labels.txt`` dump (by its ``.txt`` suffix)."""
    return Path(path).suffix.lower() == ".txt"


def detailed_file(labels_dir: Path, source: str = "auto") -> Path:
    """The per-worker annotation file ``labels.detailed_source`` selects in ``labels_dir``.

    ``labels_detailed``: labels_detailed.csv (or .json); ``labels_txt``: labels.txt;
    ``auto``: labels_detailed if present, else labels.txt. A clear error when it is missing.
    """
    if source not in DETAILED_SOURCES:
        raise ValueError(f"unknown detailed source {source!r} (allowed: {', '.join(DETAILED_SOURCES)})")
    txt = labels_dir / LABELS_TXT
    if source == "labels_txt":
        if txt.is_file():
            return txt
        raise CorpusFormatError(
            f"{labels_dir}: {LABELS_TXT} not found (labels.detailed_source is labels_txt)"
        )
    has_detailed = any((labels_dir / f"labels_detailed{ext}").is_file() for ext in (".csv", ".json"))
    if source == "auto" and not has_detailed:
        if txt.is_file():
            return txt
        raise CorpusFormatError(
            f"{labels_dir}: none of labels_detailed.csv, labels_detailed.json, {LABELS_TXT} found "
            "(expected an MSP-Podcast release with per-worker annotations)"
        )
    return find_label_file(labels_dir, "labels_detailed")


def label_files(root: str | Path, detailed_source: str = "auto") -> dict[str, Path]:
    """The ``consensus`` and ``detailed`` label files of an MSP-Podcast directory.

    CSV is preferred over JSON; ``detailed`` is the file ``detailed_source``
    (``labels.detailed_source``) selects, see :func:`detailed_file`. A clear error
    when ``root`` has no ``Labels/`` directory or a file is missing.
    """
    root = Path(root)
    labels_dir = root / "Labels"
    if not labels_dir.is_dir():
        raise CorpusFormatError(
            f"{root}: no Labels/ directory - this does not look like an MSP-Podcast release "
            "(expected Audios/ and Labels/labels_consensus.csv, Labels/labels_detailed.csv)"
        )
    return {
        "consensus": find_label_file(labels_dir, "labels_consensus"),
        "detailed": detailed_file(labels_dir, detailed_source),
    }


def read_label_files(consensus: str | Path, detailed: str | Path) -> RawLabels:
    """Read a consensus and a detailed label file (CSV, JSON or, for the detailed one, labels.txt; by suffix)."""
    cpath, dpath = Path(consensus), Path(detailed)
    for path in (cpath, dpath):
        if not path.is_file():
            raise CorpusFormatError(f"{path}: label file not found")
    consensus_df, bad_c = read_consensus(cpath)
    if is_labels_txt(dpath):
        txt = read_labels_txt(dpath)
        bad_d = _count_replaced(txt.detailed[["raw"]]) + _count_replaced(txt.headers.drop(columns="line"))
        bad_d += sum(REPLACEMENT_CHAR in text for _, text in txt.bad_header_lines)
        return RawLabels(
            consensus_df,
            txt.detailed.reset_index(drop=True),
            cpath,
            dpath,
            LABELS_TXT_LAYOUT,
            bad_c + bad_d,
            blocks=len(txt.headers) + txt.bad_headers,
            bad_block_headers=txt.bad_header_lines,
        )
    detailed_df, layout, bad_d = read_detailed(dpath)
    return RawLabels(consensus_df, detailed_df, cpath, dpath, layout, bad_c + bad_d)


def read_labels(root: str | Path, detailed_source: str = "auto") -> RawLabels:
    """Read the consensus and detailed label files of an MSP-Podcast directory."""
    files = label_files(root, detailed_source)
    return read_label_files(files["consensus"], files["detailed"])

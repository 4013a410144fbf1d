"""Readers for MSP-Podcast label files, in every known layout (docs/corpus.md).

The readers only parse; they return raw strings so that the label stage can
decide (and count) what is valid. Columns are found by name, in any order;
extra columns are ignored; a missing column is an error naming the file.

Supported files (``<root>/Labels/``, see "Label files" in docs/corpus.md; each
public release's layout is listed in docs/msp_podcast_releases.md). The label
folder and the file names are matched case-insensitively: the folder is
``Labels/``, ``labels/`` (1.9) or ``label/`` (1.6), and the consensus file is
also found under its name until release 1.10, ``labels_concensus``.

- ``labels_consensus.csv`` / ``labels_consensus.json``; without either, the
  block headers of ``labels.txt`` (file, consensus letter, mean ratings) with
  the partition of each file from ``Partitions.txt`` (or ``Partition.txt``) in
  the release root (:func:`read_partitions`)
- ``labels_detailed.csv`` in the 2.0 layout (``FileName, WorkerID,
  EmoClass_Major, EmoClass_Second, EmoAct, EmoVal, EmoDom``; the 1.6 spelling
  ``Workers`` is accepted), in the 1.11/1.12 layout (``FileName, EmoDetail``
  with ``WORKER..; <primary>; <secondary,...>; A:x; V:x; D:x;``, parsed by its
  field structure, :mod:`sertools.corpus.worker_lines`), and
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
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sertools.corpus.labels_txt import LabelsTxt, read_labels_txt
from sertools.corpus.worker_lines import parse_worker_line
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

REPLACEMENT_CHAR = "\ufffd"

LABELS_TXT = "labels.txt"
#: names of the label folder, in order of preference, compared case-insensitively:
#: ``Labels`` in most releases, ``labels`` in 1.9, ``label`` in 1.6
LABEL_DIRS = ("labels", "label")
#: the audio folder at the root of a release
AUDIO_DIR = "Audios"
#: the spellings of a label-file stem, in order of preference (case-insensitive);
#: the consensus file was named ``labels_concensus`` until release 1.10
STEM_SPELLINGS: dict[str, tuple[str, ...]] = {"labels_consensus": ("labels_consensus", "labels_concensus")}
#: partition files of the release root (case-insensitive), read when the consensus
#: comes from labels.txt: lines ``<Split>; <FileName>``
PARTITION_FILES = ("partitions.txt", "partition.txt")
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
    From 1.11 (``EmoDetail``) the table also has ``raw``, the ``EmoDetail`` value as written.
    ``detailed_layout``: ``2.0``, ``1.11``, ``json`` or ``labels_txt``.
    ``blocks`` and ``bad_block_headers`` (labels.txt only): blocks read, and the
    (line, text) of each block header that did not parse (its worker lines are
    malformed rows without a file name).
    ``consensus_layout``: ``csv``, ``json`` or ``labels_txt`` (the block headers of
    labels.txt, with the partition from ``partition_path``).
    """

    consensus: pd.DataFrame
    detailed: pd.DataFrame
    consensus_path: Path
    detailed_path: Path
    detailed_layout: str
    non_utf8_rows: int
    blocks: int = 0
    bad_block_headers: tuple[tuple[int, str], ...] = ()
    consensus_layout: str = "csv"
    partition_path: Path | None = None

    def layout(self) -> dict[str, str]:
        """How the release was read, for the label summary (docs/msp_podcast_releases.md)."""
        out = {
            "labels_dir": self.consensus_path.parent.name,
            "consensus_layout": self.consensus_layout,
            "detailed_layout": self.detailed_layout,
        }
        if self.partition_path is not None:
            out["partition_file"] = str(self.partition_path)
        return out


def find_entry(folder: Path, names: Sequence[str], *, directory: bool = False) -> Path | None:
    """The first of ``names`` (compared case-insensitively) that ``folder`` holds, or ``None``.

    Two entries whose names differ only in case are ambiguous: a clear error.
    """
    if not folder.is_dir():
        return None
    entries: dict[str, list[Path]] = {}
    for p in folder.iterdir():
        if p.is_dir() if directory else p.is_file():
            entries.setdefault(p.name.lower(), []).append(p)
    for name in names:
        hits = sorted(entries.get(name.lower(), []))
        if len(hits) > 1:
            raise CorpusFormatError(
                f"{folder}: {' and '.join(h.name for h in hits)} differ only in case; keep one of them"
            )
        if hits:
            return hits[0]
    return None


def find_labels_dir(root: str | Path) -> Path:
    """The label folder of a release (:data:`LABEL_DIRS`, any case); a clear error without one."""
    root = Path(root)
    found = find_entry(root, LABEL_DIRS, directory=True)
    if found is None:
        raise CorpusFormatError(
            f"{root}: no Labels/ directory (nor labels/ or label/, in any case) - this does not look like "
            "an MSP-Podcast release (expected Audios/ and Labels/labels_consensus.csv, "
            "Labels/labels_detailed.csv)"
        )
    return found


def find_label_file(labels_dir: Path, stem: str, *, required: bool = True) -> Path | None:
    """``<stem>.csv`` if present, else ``<stem>.json`` (any case, any spelling of
    :data:`STEM_SPELLINGS`); a clear error otherwise (``None`` when not ``required``)."""
    spellings = STEM_SPELLINGS.get(stem, (stem,))
    for ext in (".csv", ".json"):
        found = find_entry(labels_dir, [f"{s}{ext}" for s in spellings])
        if found is not None:
            return found
    if not required:
        return None
    also = f" (nor the spelling {', '.join(spellings[1:])})" if len(spellings) > 1 else ""
    raise CorpusFormatError(
        f"{labels_dir}: neither {stem}.csv nor {stem}.json found{also} "
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
    path: Path, df: pd.DataFrame, wanted: Mapping[str, tuple[str, ...]], optional: set[str]
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
    if path.suffix.lower() == ".json":
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
    if path.suffix.lower() == ".json":
        return _read_detailed_json(path), "json", 0
    raw = _read_csv_strings(path)
    replaced = _count_replaced(raw)
    line = pd.Series(range(2, len(raw) + 2), dtype="int64").to_numpy()
    if "EmoDetail" in raw.columns and "EmoClass_Major" not in raw.columns:
        if "FileName" not in raw.columns:
            raise CorpusFormatError(f"{path}: required column 'FileName' is missing")
        return _emodetail(raw["FileName"], raw["EmoDetail"], line), "1.11", replaced
    out = _pick(path, raw, DETAILED_COLUMNS, optional={"secondary"})
    out["malformed"] = False
    out["line"] = line
    return out, "2.0", replaced


def _emodetail(file_id: pd.Series, detail: pd.Series, line: np.ndarray) -> pd.DataFrame:
    """The 1.11/1.12 ``EmoDetail`` values split into fields by their structure.

    The secondary field may be absent or empty and free-text tags may hold ``;``
    or ``:`` (:func:`sertools.corpus.worker_lines.parse_worker_line`). A value
    without the structure keeps empty fields and ``malformed``; the label stage
    counts it, or shows its ``raw`` text.
    """
    empty = ("",) * len(DETAILED_FIELDS[1:])
    fields = [tuple(w) if (w := parse_worker_line(text)) is not None else None for text in detail]
    out = pd.DataFrame(
        [f if f is not None else empty for f in fields], columns=list(DETAILED_FIELDS[1:]), dtype=object
    )
    out.insert(0, "file_id", file_id.str.strip().to_numpy())
    out["malformed"] = np.array([f is None for f in fields], dtype=bool)
    out["raw"] = detail.to_numpy()
    out["line"] = line
    return out


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
    ``auto``: labels_detailed if present, else labels.txt. Names are matched in
    any case. A clear error when it is missing.
    """
    if source not in DETAILED_SOURCES:
        raise ValueError(f"unknown detailed source {source!r} (allowed: {', '.join(DETAILED_SOURCES)})")
    txt = find_entry(labels_dir, [LABELS_TXT])
    if source == "labels_txt":
        if txt is not None:
            return txt
        raise CorpusFormatError(
            f"{labels_dir}: {LABELS_TXT} not found (labels.detailed_source is labels_txt)"
        )
    detailed = find_label_file(labels_dir, "labels_detailed", required=False)
    if source == "auto" and detailed is None:
        if txt is not None:
            return txt
        raise CorpusFormatError(
            f"{labels_dir}: none of labels_detailed.csv, labels_detailed.json, {LABELS_TXT} found "
            "(expected an MSP-Podcast release with per-worker annotations)"
        )
    found = find_label_file(labels_dir, "labels_detailed")
    assert found is not None
    return found


def label_files(root: str | Path, detailed_source: str = "auto") -> dict[str, Path]:
    """The label files of an MSP-Podcast directory: ``consensus`` and ``detailed``,
    plus ``partitions`` when the consensus comes from labels.txt.

    The label folder is found by :func:`find_labels_dir`; CSV is preferred over
    JSON; ``detailed`` is the file ``detailed_source`` (``labels.detailed_source``)
    selects, see :func:`detailed_file`. Without a consensus file, labels.txt's
    block headers are the consensus and the release root must hold a partition
    file (:data:`PARTITION_FILES`). A clear error when something is missing.
    """
    root = Path(root)
    labels_dir = find_labels_dir(root)
    consensus = find_label_file(labels_dir, "labels_consensus", required=False)
    if consensus is None:
        txt = find_entry(labels_dir, [LABELS_TXT])
        if txt is None:
            find_label_file(labels_dir, "labels_consensus")  # raises, naming the directory
        assert txt is not None
        partitions = find_entry(root, PARTITION_FILES)
        if partitions is None:
            raise CorpusFormatError(
                f"{labels_dir}: no labels_consensus.csv or .json (nor labels_concensus), so the consensus "
                f"would come from {txt.name}, whose blocks carry no partition; neither Partitions.txt nor "
                f"Partition.txt found in {root}"
            )
        return {
            "consensus": txt,
            "detailed": detailed_file(labels_dir, detailed_source),
            "partitions": partitions,
        }
    return {"consensus": consensus, "detailed": detailed_file(labels_dir, detailed_source)}


def read_partitions(path: str | Path) -> dict[str, str]:
    """File name -> partition from a release's ``Partitions.txt``.

    Lines are ``<Split>; <FileName>`` (the part ending in ``.wav`` is taken as
    the file, so the reverse order is read too); blank lines and lines without
    ``;`` are skipped. A file listed twice, or no entry at all, is a clear error.
    """
    path = Path(path)
    out: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for number, text in enumerate(fh, start=1):
            parts = [p.strip() for p in text.strip().split(";") if p.strip()]
            if len(parts) != 2:
                continue
            split, name = (parts[1], parts[0]) if parts[0].lower().endswith(".wav") else parts
            if name in out:
                raise CorpusFormatError(f"{path} line {number}: {name!r} is listed twice")
            out[name] = split
    if not out:
        raise CorpusFormatError(f"{path}: no '<Split>; <FileName>' line found")
    return out


def _consensus_from_labels_txt(txt: LabelsTxt, partitions: dict[str, str]) -> pd.DataFrame:
    """The consensus table from labels.txt's block headers; splits from the partition file."""
    h = txt.headers
    out = pd.DataFrame(
        {c: h[c].astype(str).str.strip() for c in ("file_id", "consensus", "act", "val", "dom")}
    )
    out["speaker"] = ""
    out["gender"] = ""
    out["split"] = [partitions.get(f, "") for f in out["file_id"]]
    out["line"] = h["line"].to_numpy(dtype="int64")
    return out[[*CONSENSUS_COLUMNS, "line"]]


def read_label_files(
    consensus: str | Path, detailed: str | Path, partitions: str | Path | None = None
) -> RawLabels:
    """Read a consensus and a detailed label file (CSV, JSON or labels.txt; by suffix).

    A labels.txt ``consensus`` is read from its block headers and needs ``partitions``
    (a ``Partitions.txt``, :func:`read_partitions`).
    """
    cpath, dpath = Path(consensus), Path(detailed)
    ppath = Path(partitions) if partitions is not None else None
    for path in (cpath, dpath, *([ppath] if ppath is not None else [])):
        if not path.is_file():
            raise CorpusFormatError(f"{path}: label file not found")
    consensus_csv = None
    if not is_labels_txt(cpath) and is_labels_txt(dpath):
        # the two files are independent: the consensus CSV/JSON is read on a second thread
        # while labels.txt is parsed (both spend their time outside the GIL)
        pool = ThreadPoolExecutor(max_workers=1)
        consensus_csv = pool.submit(read_consensus, cpath)
        pool.shutdown(wait=False)
    txt = read_labels_txt(dpath) if is_labels_txt(dpath) else None
    if consensus_csv is not None:
        consensus_df, bad_c = consensus_csv.result()
        consensus_layout = "json" if cpath.suffix.lower() == ".json" else "csv"
    elif is_labels_txt(cpath):
        if ppath is None:
            raise CorpusFormatError(
                f"{cpath}: the consensus comes from labels.txt, whose blocks carry no partition; "
                "a Partitions.txt is needed"
            )
        ctxt = txt if txt is not None and cpath == dpath else read_labels_txt(cpath)
        consensus_df = _consensus_from_labels_txt(ctxt, read_partitions(ppath))
        bad_c = _count_replaced(ctxt.headers.drop(columns="line"))
        consensus_layout = LABELS_TXT_LAYOUT
    else:
        consensus_df, bad_c = read_consensus(cpath)
        consensus_layout = "json" if cpath.suffix.lower() == ".json" else "csv"
    if txt is not None:
        bad_d = _count_replaced(txt.detailed[["raw"]]) + _count_replaced(txt.headers.drop(columns="line"))
        bad_d += sum(REPLACEMENT_CHAR in text for _, text in txt.bad_header_lines)
        if consensus_layout == LABELS_TXT_LAYOUT and cpath == dpath:
            bad_c = 0  # the same header rows, counted once
        return RawLabels(
            consensus_df,
            txt.detailed.reset_index(drop=True),
            cpath,
            dpath,
            LABELS_TXT_LAYOUT,
            bad_c + bad_d,
            blocks=len(txt.headers) + txt.bad_headers,
            bad_block_headers=txt.bad_header_lines,
            consensus_layout=consensus_layout,
            partition_path=ppath,
        )
    detailed_df, layout, bad_d = read_detailed(dpath)
    return RawLabels(
        consensus_df,
        detailed_df,
        cpath,
        dpath,
        layout,
        bad_c + bad_d,
        consensus_layout=consensus_layout,
        partition_path=ppath,
    )


def read_labels(root: str | Path, detailed_source: str = "auto") -> RawLabels:
    """Read the consensus and detailed label files of an MSP-Podcast directory."""
    files = label_files(root, detailed_source)
    return read_label_files(files["consensus"], files["detailed"], files.get("partitions"))


def source_text(raw: RawLabels, row: pd.Series) -> str:
    """One annotation row as its file holds it, for error messages.

    labels.txt and 1.11: the worker line or ``EmoDetail`` value (``raw``); CSV: the
    text of its line; JSON: the worker's record.
    """
    if "raw" in row.index:
        return str(row["raw"])
    path = raw.detailed_path
    if path.suffix.lower() == ".json":
        data = _load_json(path)
        rec = data.get(row["file_id"], {}).get(row["worker"]) if isinstance(data, dict) else None
        return json.dumps({row["file_id"]: {row["worker"]: rec}}, ensure_ascii=False)
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        for number, text in enumerate(fh, start=1):
            if number == int(row["line"]):
                return text.rstrip("\r\n")
    return ""

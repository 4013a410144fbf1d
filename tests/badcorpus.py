"""Generator of MSP-Podcast-format corpora that each carry exactly one fault.

``make(root, fault)`` copies a small clean synthetic corpus to ``root`` and
applies the named fault; it returns the file id (or ids) the fault touches.
The expected behaviour of every fault is asserted in ``test_bad_input.py``
and listed in ``docs/bad_input.md``.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from sertools.corpus.synthetic import generate as synth

SR = 16000
CONSENSUS = "labels_consensus.csv"
DETAILED = "labels_detailed.csv"

Rows = list[list[str]]


def clean_corpus(root: Path, utterances: int = 40, seed: int = 11) -> Path:
    """A small clean corpus (every split present, 0.8-1.2 s utterances)."""
    synth.generate(root, utterances, seed=seed, min_duration_s=0.8, max_duration_s=1.2)
    return root


def read_csv(path: Path) -> tuple[list[str], Rows]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write_csv(
    path: Path, header: list[str], rows: Rows, encoding: str = "utf-8", newline: str = "\n"
) -> None:
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh, lineterminator=newline)
        w.writerow(header)
        w.writerows(rows)


def _labels(root: Path, name: str) -> tuple[list[str], Rows]:
    return read_csv(root / "Labels" / name)


def _first(root: Path, split: str = "Train") -> str:
    header, rows = _labels(root, CONSENSUS)
    col = header.index("Split_Set")
    return next(r[0] for r in rows if r[col] == split)


def _edit_annotation(root: Path, column: str, value: str) -> str:
    """Set ``column`` of the first annotation of the first Train utterance."""
    fid = _first(root)
    header, rows = _labels(root, DETAILED)
    row = next(r for r in rows if r[0] == fid)
    row[header.index(column)] = value
    write_csv(root / "Labels" / DETAILED, header, rows)
    return fid


def _wav(root: Path, fid: str) -> Path:
    return root / "Audios" / fid


def missing_wav(root: Path) -> str:
    fid = _first(root)
    _wav(root, fid).unlink()
    return fid


def corrupt_header(root: Path) -> str:
    fid = _first(root)
    data = bytearray(_wav(root, fid).read_bytes())
    data[:16] = b"NOT A WAVE FILE!"
    _wav(root, fid).write_bytes(bytes(data))
    return fid


def truncated_wav(root: Path) -> str:
    fid = _first(root)
    data = _wav(root, fid).read_bytes()
    _wav(root, fid).write_bytes(data[: len(data) // 2])  # the header still declares the full length
    return fid


def zero_length_wav(root: Path) -> str:
    fid = _first(root)
    sf.write(_wav(root, fid), np.zeros(0, dtype=np.float32), SR, subtype="PCM_16")
    return fid


def _rewrite(root: Path, fid: str, rate: int, channels: int, subtype: str) -> str:
    wave, sr = sf.read(_wav(root, fid), dtype="float32")
    n = round(len(wave) * rate / sr)
    resampled = np.interp(np.linspace(0, len(wave) - 1, n), np.arange(len(wave)), wave).astype(np.float32)
    out = np.stack([resampled] * channels, axis=1) if channels > 1 else resampled
    sf.write(_wav(root, fid), out, rate, subtype=subtype)
    return fid


def stereo_44k(root: Path) -> str:
    return _rewrite(root, _first(root), 44100, 2, "PCM_16")


def pcm_u8(root: Path) -> str:
    return _rewrite(root, _first(root), SR, 1, "PCM_U8")


def float_wav(root: Path) -> str:
    return _rewrite(root, _first(root), SR, 1, "FLOAT")


def shorter_than_receptive_field(root: Path) -> str:
    fid = _first(root, "Development")
    sf.write(_wav(root, fid), np.full(200, 0.1, dtype=np.float32), SR, subtype="PCM_16")  # 12.5 ms
    return fid


def nan_rating(root: Path) -> str:
    return _edit_annotation(root, "EmoAct", "NaN")


def out_of_range_rating(root: Path) -> str:
    return _edit_annotation(root, "EmoVal", "9")


def unknown_emotion(root: Path) -> str:
    return _edit_annotation(root, "EmoClass_Major", "Joyful")


def unknown_secondary_word(root: Path) -> str:
    return _edit_annotation(root, "EmoClass_Second", "Bewildered")


def duplicated_worker(root: Path) -> str:
    fid = _first(root)
    header, rows = _labels(root, DETAILED)
    i = next(i for i, r in enumerate(rows) if r[0] == fid)
    rows.insert(i + 1, list(rows[i]))
    write_csv(root / "Labels" / DETAILED, header, rows)
    return fid


def one_annotator(root: Path) -> str:
    fid = _first(root)
    header, rows = _labels(root, DETAILED)
    i = next(i for i, r in enumerate(rows) if r[0] == fid)
    rows = [r for j, r in enumerate(rows) if r[0] != fid or j == i]
    write_csv(root / "Labels" / DETAILED, header, rows)
    return fid


def all_other(root: Path) -> str:
    fid = _first(root)
    header, rows = _labels(root, DETAILED)
    major, second = header.index("EmoClass_Major"), header.index("EmoClass_Second")
    for r in rows:
        if r[0] == fid:
            r[major], r[second] = "Other-Bored", ""
    write_csv(root / "Labels" / DETAILED, header, rows)
    header, rows = _labels(root, CONSENSUS)
    next(r for r in rows if r[0] == fid)[header.index("EmoClass")] = "O"
    write_csv(root / "Labels" / CONSENSUS, header, rows)
    return fid


def labels_without_audio(root: Path) -> str:
    fid = "MSP-PODCAST_9999_0001.wav"
    header, rows = _labels(root, CONSENSUS)
    template = next(r for r in rows if r[header.index("Split_Set")] == "Train")
    write_csv(root / "Labels" / CONSENSUS, header, [*rows, [fid, *template[1:]]])
    header, rows = _labels(root, DETAILED)
    extra = [[fid, *r[1:]] for r in rows if r[0] == template[0]]
    write_csv(root / "Labels" / DETAILED, header, [*rows, *extra])
    return fid


def audio_without_labels(root: Path) -> str:
    fid = "MSP-PODCAST_9999_0002.wav"
    shutil.copy(_wav(root, _first(root)), _wav(root, fid))
    return fid


def non_utf8_text(root: Path) -> str:
    fid = _edit_annotation(root, "EmoClass_Second", "Other-MARKER")
    path = root / "Labels" / DETAILED
    path.write_bytes(path.read_bytes().replace(b"MARKER", b"\xff\xfe"))  # raw bytes, not UTF-8
    return fid


def bom_crlf(root: Path) -> str:
    for name in (CONSENSUS, DETAILED):
        header, rows = _labels(root, name)
        write_csv(root / "Labels" / name, header, rows, encoding="utf-8-sig", newline="\r\n")
    return ""


def unlabelled_test3(root: Path) -> str:
    """A Test3 row as releases hold it (no labels) and an annotation row for it that fails every check."""
    fid = "MSP-PODCAST_test3_0001.wav"
    header, rows = _labels(root, CONSENSUS)
    row = dict.fromkeys(header, "")
    row.update(FileName=fid, SpkrID="Unknown", Gender="Unknown", Split_Set="Test3")
    write_csv(root / "Labels" / CONSENSUS, header, [*rows, [row[h] for h in header]])
    header, rows = _labels(root, DETAILED)
    bad = dict.fromkeys(header, "")
    bad.update(FileName=fid, WorkerID="WORKER99", EmoClass_Major="Joyful", EmoAct="x", EmoVal="9")
    write_csv(root / "Labels" / DETAILED, header, [*rows, [bad[h] for h in header]])
    return fid


def no_primary_labels(root: Path) -> str:
    """Every annotation's primary label blanked (as in a labels_detailed.json carrying only ratings)."""
    header, rows = _labels(root, DETAILED)
    col = header.index("EmoClass_Major")
    for r in rows:
        r[col] = ""
    write_csv(root / "Labels" / DETAILED, header, rows)
    return ""


def _empty_split(split: str) -> Callable[[Path], str]:
    def fault(root: Path) -> str:
        header, rows = _labels(root, CONSENSUS)
        col = header.index("Split_Set")
        gone = {r[0] for r in rows if r[col] == split}
        write_csv(root / "Labels" / CONSENSUS, header, [r for r in rows if r[0] not in gone])
        header, rows = _labels(root, DETAILED)
        write_csv(root / "Labels" / DETAILED, header, [r for r in rows if r[0] not in gone])
        for fid in gone:
            _wav(root, fid).unlink()
        return split

    fault.__name__ = f"empty_{split.lower()}"
    return fault


empty_test2 = _empty_split("Test2")
empty_development = _empty_split("Development")

FAULTS: dict[str, Callable[[Path], str]] = {
    f.__name__: f
    for f in (
        missing_wav,
        corrupt_header,
        truncated_wav,
        zero_length_wav,
        stereo_44k,
        pcm_u8,
        float_wav,
        shorter_than_receptive_field,
        nan_rating,
        out_of_range_rating,
        unknown_emotion,
        unknown_secondary_word,
        duplicated_worker,
        one_annotator,
        all_other,
        labels_without_audio,
        audio_without_labels,
        non_utf8_text,
        bom_crlf,
        unlabelled_test3,
        no_primary_labels,
        empty_test2,
        empty_development,
    )
}


def make(clean: Path, root: Path, fault: str) -> str:
    """Copy the clean corpus ``clean`` to ``root`` and apply ``fault``."""
    shutil.copytree(clean, root)
    return FAULTS[fault](root)

"""Writers of the synthetic corpus: MSP-Podcast 2.0 files plus the known truth.

The label files have exactly the 2.0 columns (docs/corpus.md, "Label files"):
CSV with ``\\n`` line ends, mean ratings with at most 6 decimals, rows of the
detailed file sorted by (FileName, WorkerID). ``labels.txt`` holds the same
annotations in the block format (docs/corpus.md, "Worker lines and
labels.txt"). Every file is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sertools.corpus.msp import AUDIO_DIR
from sertools.corpus.synthetic import sampling
from sertools.corpus.synthetic.labels import KINDS, Annotations, Latent, Raters
from sertools.corpus.synthetic.layout import Layout
from sertools.corpus.synthetic.voice import PEAK_CEILING, Voices, render, to_pcm16
from sertools.io import atomic_path, write_json, write_parquet
from sertools.splits import SPLITS

# paths inside the corpus directory
CONSENSUS = "Labels/labels_consensus.csv"
DETAILED = "Labels/labels_detailed.csv"
LABELS_TXT = "Labels/labels.txt"
LATENT_TRUTH = "latent_truth.parquet"
RATER_TRUTH = "rater_truth.parquet"
RATER_MIXTURE = "rater_mixture.parquet"
META = "synth_meta.json"

CONSENSUS_HEADER = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")
DETAILED_HEADER = ("FileName", "WorkerID", "EmoClass_Major", "EmoClass_Second", "EmoAct", "EmoVal", "EmoDom")


def _write_csv(dest: Path, df: pd.DataFrame) -> None:
    with atomic_path(dest) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")


def write_consensus(root: Path, layout: Layout, codes: np.ndarray, mean_ratings: np.ndarray) -> None:
    """``labels_consensus.csv``: one row per file with its consensus code and mean ratings."""
    df = pd.DataFrame(
        {
            "FileName": layout.file_id,
            "EmoClass": codes,
            "EmoAct": mean_ratings[:, 0],
            "EmoVal": mean_ratings[:, 1],
            "EmoDom": mean_ratings[:, 2],
            "SpkrID": layout.spk_id[layout.speaker],
            "Gender": np.where(layout.spk_female[layout.speaker], "Female", "Male"),
            "Split_Set": np.asarray(SPLITS, dtype=object)[layout.split],
        },
        columns=list(CONSENSUS_HEADER),
    )
    _write_csv(root / CONSENSUS, df)


def write_detailed(root: Path, layout: Layout, ann: Annotations, raters: Raters) -> None:
    """``labels_detailed.csv``: one row per annotation."""
    df = pd.DataFrame(
        {
            "FileName": layout.file_id[ann.utt],
            "WorkerID": raters.worker_ids()[ann.worker],
            "EmoClass_Major": ann.major_label,
            "EmoClass_Second": ann.secondary,
            "EmoAct": ann.ratings[:, 0],
            "EmoVal": ann.ratings[:, 1],
            "EmoDom": ann.ratings[:, 2],
        },
        columns=list(DETAILED_HEADER),
    )
    _write_csv(root / DETAILED, df)


def write_labels_txt(
    root: Path, layout: Layout, ann: Annotations, raters: Raters, codes: np.ndarray, mean_ratings: np.ndarray
) -> None:
    """``labels.txt``: one block per file, from the same annotations as ``labels_detailed.csv``.

    A block is a header ``<file>; <consensus code>; A:<mean>; V:<mean>; D:<mean>;``
    (6 decimals) and one worker line ``WORKER..; <primary>; <secondary>; A:x; V:x; D:x;``
    per annotation, in the detailed file's order; blocks are separated by a blank
    line. An empty secondary list is written alternately as an absent field
    (``Neutral; A:2.0``) and as an empty slot (``Neutral; ; A:2.0``): releases
    hold both spellings. Nothing here draws random numbers.
    """
    n = len(layout.file_id)
    header = [
        f"{f}; {c}; A:{a:.6f}; V:{v:.6f}; D:{d:.6f};"
        for f, c, (a, v, d) in zip(layout.file_id, codes, mean_ratings.tolist(), strict=True)
    ]
    sec = ann.secondary.astype(object)
    empty = sec == ""
    slot = empty & (np.cumsum(empty) % 2 == 0)  # every second empty list as an empty slot
    middle = np.where(empty, np.where(slot, "; ", ""), sec + "; ")
    rating = np.array([f"{r}.0" for r in range(8)], dtype=object)
    r = ann.ratings.astype(np.int64)
    lines = (
        raters.worker_ids()[ann.worker]
        + "; "
        + ann.major_label.astype(object)
        + "; "
        + middle
        + "A:"
        + rating[r[:, 0]]
        + "; V:"
        + rating[r[:, 1]]
        + "; D:"
        + rating[r[:, 2]]
        + ";"
    ).tolist()
    starts = np.searchsorted(ann.utt, np.arange(n + 1))
    parts: list[str] = []
    for u in range(n):
        parts.append(header[u])
        parts.extend(lines[starts[u] : starts[u + 1]])
        parts.append("")
    with atomic_path(root / LABELS_TXT) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(parts))


def write_latent(
    root: Path, layout: Layout, latent: Latent, speakers: np.ndarray | None = None, with_split: bool = True
) -> None:
    """``latent_truth.parquet``: the true class distribution and A/V/D of every utterance.

    ``speakers``: the public id of each speaker (default: the layout's ``SpkrID``);
    ``with_split``: whether to write the layout's split (a CREMA-D-layout corpus has none: its
    label stage assigns the actors to splits).
    """
    import pyarrow as pa

    n, k = latent.p_true.shape
    offsets = np.arange(0, (n + 1) * k, k, dtype=np.int32)
    p_lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(latent.p_true.ravel())).to_pandas()
    df = pd.DataFrame(
        {
            "file_id": layout.file_id,
            "p_true": p_lists,
            "arousal_true": latent.avd[:, 0],
            "valence_true": latent.avd[:, 1],
            "dominance_true": latent.avd[:, 2],
            "kind": np.asarray(KINDS, dtype=object)[latent.kind],
            "speaker": (layout.spk_id if speakers is None else speakers)[layout.speaker],
            "split": np.asarray(SPLITS, dtype=object)[layout.split],
        }
    )
    if not with_split:
        df = df.drop(columns="split")
    write_parquet(root / LATENT_TRUTH, df)


def write_mixture(root: Path, layout: Layout, mixture: np.ndarray) -> None:
    """``rater_mixture.parquet``: ``file_id, p_raters``, the raters' mixture q_bar of every
    utterance (:func:`sertools.corpus.synthetic.labels.rater_mixture`), written with the votes."""
    import pyarrow as pa

    n, k = mixture.shape
    offsets = np.arange(0, (n + 1) * k, k, dtype=np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.ascontiguousarray(mixture).ravel()))
    write_parquet(
        root / RATER_MIXTURE, pd.DataFrame({"file_id": layout.file_id, "p_raters": lists.to_pandas()})
    )


def write_raters(root: Path, raters: Raters, ann: Annotations) -> None:
    """``rater_truth.parquet``: known rater traits, for checking reliability statistics."""
    df = pd.DataFrame(
        {
            "worker_id": raters.worker_ids(),
            "reliability": raters.reliability,
            "confusion": raters.confusion,
            "style": np.where(
                raters.neutral_lover,
                "neutral_overuse",
                np.where(raters.other_lover, "other_overuse", "plain"),
            ),
            "noisy": raters.noisy,
            "bias_act": raters.bias[:, 0],
            "bias_val": raters.bias[:, 1],
            "bias_dom": raters.bias[:, 2],
            "rating_noise_sd": raters.noise_sd,
            "secondary_rate": raters.secondary_rate,
            "annotations": np.bincount(ann.worker, minlength=len(raters.number)),
        }
    ).sort_values("worker_id", kind="stable")
    write_parquet(root / RATER_TRUTH, df.reset_index(drop=True))


#: chunks per worker process of :func:`write_audio` (enough that no worker idles long at the end)
AUDIO_CHUNKS_PER_WORKER = 4

# what the forked workers of write_audio render: set in the parent before the pool forks
_AUDIO_JOB: tuple[Path, Layout, Voices, int, int, np.ndarray] | None = None


def write_audio(
    root: Path,
    layout: Layout,
    voices: Voices,
    seed: int,
    sr: int,
    workers: int = 1,
    audio_dir_name: str = AUDIO_DIR,
) -> int:
    """Render and write every wav (PCM16 mono) as ``<audio_dir_name>/<file_id>``; returns the number
    of peak-limited files.

    Each file is a function of (voice, seed, file index) alone
    (:func:`sertools.corpus.synthetic.sampling.rng`), so ``workers`` > 1 forked
    processes, each writing contiguous chunks of files, write the same bytes as one.
    """
    global _AUDIO_JOB
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    audio_dir = root / audio_dir_name
    audio_dir.mkdir(parents=True, exist_ok=True)
    n_samples = np.rint(layout.duration_s * sr).astype(np.int64)
    _AUDIO_JOB = (audio_dir, layout, voices, seed, sr, n_samples)
    try:
        indices = np.arange(len(layout.file_id))
        if workers == 1 or len(indices) < 2:
            return _write_wavs(indices)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        chunks = np.array_split(indices, min(len(indices), workers * AUDIO_CHUNKS_PER_WORKER))
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            return sum(pool.map(_write_wavs, chunks))
    finally:
        _AUDIO_JOB = None


def _write_wavs(indices: np.ndarray) -> int:
    """Write the wavs of ``indices`` (of the job in ``_AUDIO_JOB``); returns how many are peak-limited."""
    import soundfile as sf

    if _AUDIO_JOB is None:
        raise RuntimeError("_write_wavs runs inside write_audio only")
    audio_dir, layout, voices, seed, sr, n_samples = _AUDIO_JOB
    limited = 0
    for i in indices.tolist():
        y = render(voices.params(i), int(n_samples[i]), sr, sampling.rng(seed, sampling.STREAM_AUDIO, i))
        limited += int(np.max(np.abs(y)) >= PEAK_CEILING * (1 - 1e-6))  # float32 rounding
        with atomic_path(audio_dir / layout.file_id[i]) as tmp:
            sf.write(tmp, to_pcm16(y), sr, subtype="PCM_16", format="WAV")
    return limited


def write_meta(root: Path, meta: dict[str, Any]) -> None:
    """``synth_meta.json``: parameters, model constants and counts."""
    write_json(root / META, meta)

"""Training data: label table + manifest -> targets, audio dataset, padded batches.

* :func:`load_table` reads the label table and the audio manifest (validated by
  :mod:`sertools.labels.table` and :mod:`sertools.data.manifest_table`) and
  inner-joins them on ``file_id``. Labelled utterances without audio are counted per split and
  logged (never silently lost); the label table's ``split`` is authoritative
  and a disagreeing manifest split is an error.
* :func:`build_targets` turns a split's rows into the arrays a variant trains on
  (unsmoothed; label smoothing is the loss's job):
  ``consensus`` targets are class indices (X rows excluded); any other
  ``targets`` names a distribution column ``p_<targets>`` of the label table
  (``primary``, ``merged``, ``release_MH``, ...; X rows only with
  ``include_no_agreement``). Losses other than ce/cbce see distributions
  (one-hot for consensus). Dimensional targets are in normalised units
  u = (x - 1) / 6 (NaN when a rating is missing).
* The variant's ``hard_labels`` scheme (:func:`scheme_hard_labels`) gives each
  utterance its hard label: ``consensus`` (the consensus class, X none),
  ``consensus_x_other`` (X as Other, so X utterances are trained on: the
  release's hard rows) or ``guarded_argmax`` (the release's neutral-guarded
  argmax of the variant's own target distribution). Hard losses train on it;
  every variant reports it as ``hard`` (and, unless the scheme is
  ``consensus``, as ``classes``) for validation macro-F1 and the curriculum.
* :class:`AudioDataset` reads float32 mono audio with soundfile, in memory when
  the split is small, lazily otherwise. Training crops are random but a pure
  function of (seed, epoch, item), so a resumed run sees the same crops.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from sertools.arrays import stack_lists
from sertools.classes import DIMENSIONS, NO_AGREEMENT, K
from sertools.data import dim_scale, manifest_table
from sertools.labels import schemes as names
from sertools.labels import table as label_table

log = logging.getLogger(__name__)

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
DIFFICULTIES = {"entropy_primary": "entropy_primary", "entropy_merged": "entropy_merged"}
HARD_LOSSES = ("ce", "cbce")
IN_MEMORY_LIMIT_BYTES = 1 << 30


class DataError(ValueError):
    """Label table and manifest disagree, targets cannot be built, or audio is not as promised.

    (A table that breaks its own schema raises the error of its module:
    :class:`sertools.labels.table.LabelTableError`, :class:`sertools.data.manifest_table.ManifestError`.)
    """


# ----------------------------------------------------------------------------- tables


def read_labels(path: str | Path) -> pd.DataFrame:
    """The label table (one row per utterance), validated, with the columns training needs."""
    return label_table.read(path, require=LABEL_COLUMNS)


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
    have_audio = labels["file_id"].isin(manifest["file_id"])
    no_audio = labels.loc[~have_audio, "split"].value_counts().sort_index()
    report = {
        "joined": len(merged),
        "labels_without_audio": {str(k): int(v) for k, v in no_audio.items()},
        "audio_without_labels": int((~manifest["file_id"].isin(labels["file_id"])).sum()),
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


def load_table(labels_path: str | Path, manifest_path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """:func:`read_labels` + :func:`read_manifest` + :func:`join`."""
    return join(read_labels(labels_path), read_manifest(manifest_path))


# ----------------------------------------------------------------------------- targets


def stack(column: pd.Series, name: str = "") -> np.ndarray:
    """(N, 9) float64 array from a list column: :func:`sertools.arrays.stack_lists`, raising DataError."""
    try:
        return stack_lists(column, name or str(column.name))
    except ValueError as e:
        raise DataError(str(e)) from None


def hard_labels(df: pd.DataFrame) -> np.ndarray:
    """Consensus class index per row, -1 for X (no agreement)."""
    return df["hard_label"].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)


def dimension_targets(df: pd.DataFrame, scale: str = "unit") -> np.ndarray:
    """(N, 3) float32 arousal/valence/dominance in the model's ``scale``; NaN if missing.

    ``scale``: ``model.dim_scale`` (:mod:`sertools.data.dim_scale`); ``unit`` is
    u = (x - 1) / 6.
    """
    x = df[list(DIMENSIONS)].to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(dim_scale.to_model_scale(x, scale), dtype=np.float32)


def difficulty_scores(df: pd.DataFrame, kind: str) -> np.ndarray:
    """Curriculum difficulty per row: normalised entropy, or disagreement = 1 - agreement."""
    if kind in DIFFICULTIES:
        return df[DIFFICULTIES[kind]].to_numpy(dtype=np.float64)
    if kind == "disagreement":
        return 1.0 - df["agreement"].to_numpy(dtype=np.float64)
    raise ValueError(
        f"unknown curriculum difficulty {kind!r} (allowed: entropy_primary, entropy_merged, disagreement)"
    )


@dataclass(frozen=True)
class Targets:
    """What one split trains (or is validated) on.

    ``rows``: positions into the split's table; ``cat``: int64 class indices
    (ce/cbce) or float32 (N, 9) distributions; ``dims``: float32 (N, 3);
    ``classes``: class of each target (curriculum balance): the hard label, or
    for a distribution under the ``consensus`` scheme its argmax; ``hard``: the
    scheme's hard label or -1.
    """

    rows: np.ndarray
    cat: np.ndarray
    dims: np.ndarray
    classes: np.ndarray
    hard: np.ndarray
    is_index: bool


def _who(variant: Mapping[str, Any], name: str | None) -> str:
    if name is not None:
        return f"variant {name!r}"
    return f"variant (targets {variant['targets']}, hard_labels {variant.get('hard_labels', 'consensus')})"


def _column(df: pd.DataFrame, column: str, why: str) -> pd.Series:
    if column not in df.columns:
        raise DataError(
            f"the label table has no column {column!r} ({why}); columns present: {', '.join(map(str, df.columns))}"
        )
    return df[column]


def scheme_hard_labels(df: pd.DataFrame, variant: Mapping[str, Any], name: str | None = None) -> np.ndarray:
    """Hard label of every row of ``df`` under ``variant``'s ``hard_labels`` scheme; -1 where none.

    ``consensus`` is :func:`hard_labels` (X has none); ``consensus_x_other`` the
    column ``hard_consensus_x_other``; ``guarded_argmax`` the column
    ``hard_guarded_<targets>``, which needs a distribution target. ``name`` (the
    variant's name) is used in error messages.
    """
    scheme, targets = variant.get("hard_labels", "consensus"), variant["targets"]
    if scheme == names.CONSENSUS:
        return hard_labels(df)
    if scheme == names.GUARDED:
        if targets == names.CONSENSUS or targets == "release_secondary":
            raise DataError(
                f"{_who(variant, name)}: hard_labels guarded_argmax is the argmax of the variant's own target "
                f"distribution, so it needs distribution targets (primary, merged, release_primary, "
                f"release_<name>), not {targets!r}"
            )
    elif scheme not in names.HARD_LABELS:
        raise DataError(
            f"{_who(variant, name)}: unknown hard_labels {scheme!r} (allowed: {', '.join(names.HARD_LABELS)})"
        )
    column = names.hard_column(names.variant_scheme(scheme, targets))
    values = _column(df, column, f"hard_labels {scheme} of {_who(variant, name)}")
    return values.to_numpy(dtype=np.int64)


def build_targets(
    df: pd.DataFrame, variant: Mapping[str, Any], name: str | None = None, dim_scale: str = "unit"
) -> Targets:
    """Targets of ``variant`` (its ``targets``, ``loss``, ``hard_labels``, ``include_no_agreement``)
    for the rows of ``df``; ``name`` (the variant's name) is used in error messages.

    Which rows: consensus targets keep the rows with a hard label under the
    scheme (X only under ``consensus_x_other``); distribution targets keep every
    non-X row, or every row with ``include_no_agreement``, minus rows without a
    hard label when the loss is hard, and minus all-zero rows (``release_secondary``
    where nobody gave a secondary label). Targets are unsmoothed;
    ``train.label_smoothing`` is applied by the loss. Dimension targets are on
    the model's ``dim_scale`` (:mod:`sertools.data.dim_scale`).
    """
    targets, loss = variant["targets"], variant["loss"]
    scheme = variant.get("hard_labels", "consensus")
    include_x = bool(variant.get("include_no_agreement", False))
    if not names.is_targets(targets):
        raise DataError(
            f"{_who(variant, name)}: unknown targets {targets!r} "
            "(allowed: consensus, primary, merged, release_primary, release_secondary, release_<name>)"
        )
    is_index = loss in HARD_LOSSES
    hard = hard_labels(df)
    is_x = (df["consensus"].astype(str) == NO_AGREEMENT).to_numpy()
    labels = scheme_hard_labels(df, variant, name)
    if targets == "consensus":
        if include_x and scheme == "consensus":
            raise DataError("include_no_agreement needs distributional targets (primary or merged)")
        if ((hard < 0) & ~is_x).any():
            bad = df["file_id"][(hard < 0) & ~is_x].iloc[:3].tolist()
            raise DataError(f"utterances with a consensus class but no hard_label: {bad}")
        keep = labels >= 0
        full = None
    else:
        column = names.distribution_column(targets)
        full = stack(_column(df, column, f"targets {targets} of {_who(variant, name)}"), column)
        if is_index and scheme == "consensus":
            raise DataError(
                f"loss {loss!r} needs consensus targets (or hard_labels consensus_x_other / guarded_argmax, "
                f"whose labels it then trains on)"
            )
        keep = np.ones(len(df), dtype=bool) if include_x else ~is_x
        if is_index:
            keep &= labels >= 0
        empty = full.sum(axis=1) == 0
        if targets == "release_secondary" and (keep & empty).any():
            log.info(
                "%s: %d utterance(s) without any secondary label have no release_secondary target and are left out",
                _who(variant, name),
                int((keep & empty).sum()),
            )
            keep &= ~empty
    rows = np.flatnonzero(keep)
    sub = df.iloc[rows]
    if full is None:
        idx = labels[rows]
        dist = np.eye(K)[idx] if len(idx) else np.zeros((0, K))
    else:
        dist = full[rows]
        sums = dist.sum(axis=1)
        bad = ~np.isclose(sums, 1.0, atol=1e-4) | (dist < 0).any(axis=1)
        if bad.any():
            raise DataError(
                f"p_{targets} of {sub['file_id'].iloc[int(np.flatnonzero(bad)[0])]} is not a distribution"
            )
        argmax = dist.argmax(axis=1) if len(dist) else np.zeros(0, dtype=np.int64)
        idx = argmax if scheme == "consensus" else labels[rows]
    cat = labels[rows].astype(np.int64) if is_index else dist.astype(np.float32)
    return Targets(
        rows=rows,
        cat=cat,
        dims=dimension_targets(sub, dim_scale),
        classes=idx.astype(np.int64),
        hard=labels[rows],
        is_index=is_index,
    )


# ----------------------------------------------------------------------------- audio


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """float32 mono samples of ``path``; the manifest promised mono at ``sample_rate``."""
    try:
        wav, sr = sf.read(str(path), dtype="float32", always_2d=False)
    except (RuntimeError, OSError) as e:
        raise DataError(f"{path}: cannot read audio ({e})") from None
    if sr != sample_rate:
        raise DataError(f"{path}: sample rate {sr} Hz, expected {sample_rate} Hz (rebuild the manifest)")
    if wav.ndim != 1:
        raise DataError(f"{path}: {wav.shape[1]} channels, expected mono (rebuild the manifest)")
    return np.ascontiguousarray(wav, dtype=np.float32)


def crop_start(seed: int, epoch: int, item: int, length: int, crop: int) -> int:
    """Start of the random training crop of item ``item`` at ``epoch`` (pure function)."""
    if length <= crop:
        return 0
    return int(np.random.default_rng([seed, epoch, item]).integers(0, length - crop + 1))


class AudioDataset(torch.utils.data.Dataset):
    """Audio of a list of files; item ``i`` -> ``(i, float32 samples)``.

    ``crop_samples`` (training): utterances longer than this are cropped at a
    random start drawn from (seed, epoch, i); set the epoch with :meth:`set_epoch`.
    ``in_memory`` None: keep everything in memory when it fits in
    ``memory_limit_bytes`` (float32), else read each item from disk.
    """

    def __init__(
        self,
        paths: Sequence[str],
        frames: Sequence[int],
        sample_rate: int,
        crop_samples: int | None = None,
        seed: int = 0,
        in_memory: bool | None = None,
        memory_limit_bytes: int = IN_MEMORY_LIMIT_BYTES,
    ) -> None:
        self.paths = [str(p) for p in paths]
        self.frames = np.asarray(frames, dtype=np.int64)
        if len(self.frames) != len(self.paths):
            raise ValueError("paths and frames differ in length")
        self.sample_rate = int(sample_rate)
        self.crop_samples = crop_samples
        self.seed = int(seed)
        self.epoch = 0
        if in_memory is None:
            in_memory = int(self.frames.sum()) * 4 <= memory_limit_bytes
        self.in_memory = bool(in_memory)
        self._cache: list[np.ndarray] | None = None
        if self.in_memory:
            self._cache = [read_audio(p, self.sample_rate) for p in self.paths]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.paths)

    def full(self, i: int) -> np.ndarray:
        """The whole utterance ``i``."""
        return self._cache[i] if self._cache is not None else read_audio(self.paths[i], self.sample_rate)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray]:
        wav = self.full(i)
        if self.crop_samples is not None and len(wav) > self.crop_samples:
            s = crop_start(self.seed, self.epoch, i, len(wav), self.crop_samples)
            wav = wav[s : s + self.crop_samples]
        return i, wav


class Batch(NamedTuple):
    """A zero-padded batch: ``wave`` [B, T] float32, ``lengths`` [B] int64, ``index`` [B] int64."""

    wave: torch.Tensor
    lengths: torch.Tensor
    index: torch.Tensor


def check_min_frames(rows: pd.DataFrame, min_frames: int, sample_rate: int, what: str) -> None:
    """Refuse utterances shorter than the backbone's receptive field, naming them.

    The model cannot produce a single frame from them; padding would make the
    output depend on the padding, so they must be dropped at the manifest stage.
    """
    short = rows[rows["frames"].to_numpy() < min_frames]
    if len(short):
        names = ", ".join(
            f"{f} ({n} samples)" for f, n in zip(short["file_id"][:10], short["frames"][:10], strict=True)
        )
        more = f" and {len(short) - 10} more" if len(short) > 10 else ""
        raise DataError(
            f"{what}: {len(short)} utterance(s) shorter than the backbone's receptive field of {min_frames} "
            f"samples ({min_frames / sample_rate * 1000:.1f} ms): {names}{more}. Set manifest.min_duration_s "
            f"above {min_frames / sample_rate:.4f} s so that the manifest stage drops them (counted)"
        )


def collate(items: Sequence[tuple[int, np.ndarray]], min_length: int = 1) -> Batch:
    """Zero-pad to the longest item (at least ``min_length`` samples)."""
    lengths = np.array([len(w) for _, w in items], dtype=np.int64)
    width = max(int(lengths.max(initial=0)), int(min_length))
    wave = np.zeros((len(items), width), dtype=np.float32)
    for row, (_, w) in enumerate(items):
        wave[row, : len(w)] = w
    index = np.array([i for i, _ in items], dtype=np.int64)
    return Batch(torch.from_numpy(wave), torch.from_numpy(lengths), torch.from_numpy(index))


def iterate_batches(
    dataset: AudioDataset, batches: Sequence[np.ndarray], min_length: int = 1, num_workers: int = 0
) -> Iterator[Batch]:
    """Yield :class:`Batch` objects in the order of ``batches`` (dataset indices)."""
    if num_workers <= 0:
        for b in batches:
            yield collate([dataset[int(i)] for i in b], min_length)
        return
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=[[int(i) for i in b] for b in batches],
        num_workers=num_workers,
        collate_fn=functools.partial(collate, min_length=min_length),
    )
    yield from loader


def waveform_stats(dataset: AudioDataset) -> tuple[float, float]:
    """Mean and standard deviation over every sample of every (uncropped) item (float64 sums)."""
    n = 0
    s = s2 = 0.0
    for i in range(len(dataset)):
        w = dataset.full(i).astype(np.float64)
        n += len(w)
        s += float(w.sum())
        s2 += float(np.dot(w, w))
    if n == 0:
        raise DataError("cannot compute waveform statistics: no Train audio")
    mean = s / n
    return mean, float(np.sqrt(max(s2 / n - mean * mean, 0.0)))

"""One prediction set joined with its human labels: :class:`EvalData`, and the loader that
builds one per seed from a split's prediction dumps, the label table and the latent truth.

The join is on ``file_id``; rows are ordered by ``file_id`` so that every seed
(and the baseline in a paired comparison) lines up utterance by utterance.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd

from sertools.arrays import stack_lists
from sertools.classes import DIMENSIONS, MSP_PODCAST, ClassSet
from sertools.evaluation import predictions
from sertools.labels import view as label_view
from sertools.measures import check_dist, check_labels

__all__ = [
    "EvalData",
    "EvaluationError",
    "JoinColumns",
    "hard_labels",
    "label_column",
    "load_split",
    "read_label_view",
    "read_labels",
    "read_truth",
    "seed_files",
]

PathLike = str | Path

_FIELDS: tuple[str, ...] = (
    "probs",
    "pred",
    "hard",
    "p_primary",
    "p_merged",
    "p_true",
    "dims_pred",
    "dims_true",
    "entropy",
    "file_ids",
    "p_ref",
)


class EvaluationError(ValueError):
    """Inputs of the evaluation stage are missing or inconsistent."""


def _as_dims(x: np.ndarray | None, name: str, n: int) -> np.ndarray | None:
    if x is None:
        return None
    a = np.asarray(x, dtype=np.float64)
    if a.shape != (n, len(DIMENSIONS)):
        raise ValueError(f"{name} must have shape ({n}, {len(DIMENSIONS)}), got {a.shape}")
    if np.any(np.isinf(a)):
        raise ValueError(f"{name} contains infinite values")
    return a


def _reference(x: np.ndarray, n: int, k: int) -> np.ndarray:
    """The paper-reference distribution: rows summing to 1 (renormalised) or all zero."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != n:
        raise ValueError(f"p_ref must have {n} rows, got shape {a.shape}")
    zero = a.sum(axis=1) == 0
    out = np.zeros_like(a)
    if (~zero).any():
        out[~zero] = check_dist(a[~zero], "p_ref", k)
    if np.any(a[zero] != 0):  # negative entries summing to 0
        raise ValueError("p_ref contains negative probabilities")
    return out


def _as_vector(x: np.ndarray | None, name: str, n: int, dtype: type | None = None) -> np.ndarray | None:
    if x is None:
        return None
    a = np.asarray(x, dtype=dtype)
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {a.shape}")
    return a


class JoinColumns(TypedDict, total=False):
    """Label-table columns that :meth:`EvalData.from_frames` reads, as keyword arguments."""

    hard_column: str
    entropy_column: str
    reference_column: str | None


@dataclass(frozen=True, eq=False)
class EvalData:
    """Predictions of one model (one seed) and the human labels of the same utterances.

    Arrays are validated and probability rows renormalised on construction.
    ``hard`` is -1 for X (no agreement). ``dims_*`` hold arousal, valence,
    dominance (1-7) and may be None when unavailable (CCC is then NaN).
    ``entropy`` is the normalised entropy used for strata (by default of the
    primary votes). ``pred`` is taken as given (normally the argmax of
    ``probs``); accuracy, F1 and the correctness in ECE use it, the confidence
    is ``max probs``. ``p_ref`` is the reference distribution of the paper
    release's JSD and KLD (``evaluation.paper_reference``); it may hold
    all-zero rows (the release clamps and renormalises them to uniform).
    ``classes``: the class set of every vector (K columns; MSP-Podcast's by
    default); ``p_merged`` may be None only for a class set that has none (a
    corpus without secondary labels: CREMA-D), and then there are no merged metrics.
    """

    probs: np.ndarray
    pred: np.ndarray
    hard: np.ndarray
    p_primary: np.ndarray
    p_merged: np.ndarray | None
    p_true: np.ndarray | None = None
    dims_pred: np.ndarray | None = None
    dims_true: np.ndarray | None = None
    entropy: np.ndarray | None = None
    file_ids: np.ndarray | None = None
    p_ref: np.ndarray | None = None
    classes: ClassSet = MSP_PODCAST

    def __post_init__(self) -> None:
        k = self.classes.k
        probs = check_dist(self.probs, "probs", k)
        n = len(probs)
        pred = check_labels(self.pred, "pred", allow_missing=False, k=k)
        hard = check_labels(self.hard, "hard", allow_missing=True, k=k)
        for name, arr in (("pred", pred), ("hard", hard)):
            if len(arr) != n:
                raise ValueError(f"{name} has {len(arr)} rows but probs has {n}")
        fixed: dict[str, object] = {"probs": probs, "pred": pred, "hard": hard}
        for name in ("p_primary", "p_merged", "p_true"):
            val = getattr(self, name)
            if val is None:
                if name == "p_primary" or (name == "p_merged" and self.classes is MSP_PODCAST):
                    raise ValueError(f"{name} is required")
                continue
            d = check_dist(val, name, k)
            if len(d) != n:
                raise ValueError(f"{name} has {len(d)} rows but probs has {n}")
            fixed[name] = d
        fixed["dims_pred"] = _as_dims(self.dims_pred, "dims_pred", n)
        fixed["dims_true"] = _as_dims(self.dims_true, "dims_true", n)
        if self.entropy is not None:
            fixed["entropy"] = _as_vector(self.entropy, "entropy", n, np.float64)
        if self.file_ids is not None:
            fixed["file_ids"] = _as_vector(self.file_ids, "file_ids", n)
        if self.p_ref is not None:
            fixed["p_ref"] = _reference(self.p_ref, n, k)
        for name, value in fixed.items():
            object.__setattr__(self, name, value)

    @property
    def n(self) -> int:
        return len(self.pred)

    def require_file_ids(self) -> np.ndarray:
        """``file_ids``, which every set joined by :meth:`from_frames` has."""
        if self.file_ids is None:
            raise ValueError("these predictions carry no file ids (not joined by EvalData.from_frames)")
        return self.file_ids

    def same_utterances(self, other: EvalData) -> bool:
        """Whether both hold the same ``file_ids`` in the same order (both without any: True)."""
        if self.file_ids is None or other.file_ids is None:
            return self.file_ids is None and other.file_ids is None
        return bool(np.array_equal(self.file_ids, other.file_ids))

    def take(self, idx: np.ndarray) -> EvalData:
        """Rows ``idx`` (with repetition allowed): an explicitly resampled copy."""
        idx = np.asarray(idx)
        kw: dict[str, Any] = {
            name: (None if getattr(self, name) is None else getattr(self, name)[idx]) for name in _FIELDS
        }
        return EvalData(**kw, classes=self.classes)

    def with_hard(self, hard: np.ndarray) -> EvalData:
        """The same predictions and distributions with other hard labels (another label scheme).

        The other arrays are shared, not re-validated, so every other metric
        stays bit-identical.
        """
        labels = check_labels(hard, "hard", allow_missing=True, k=self.classes.k)
        if len(labels) != self.n:
            raise ValueError(f"hard has {len(labels)} rows but the prediction set has {self.n}")
        out = copy.copy(self)
        object.__setattr__(out, "hard", labels)
        return out

    def subset(self, mask: np.ndarray) -> EvalData:
        """Rows where the boolean ``mask`` is True."""
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (self.n,):
            raise ValueError(f"mask must be a boolean array of shape ({self.n},)")
        return self.take(np.flatnonzero(mask))

    @classmethod
    def from_frames(
        cls,
        predictions: pd.DataFrame,
        labels: pd.DataFrame,
        latent_truth: pd.DataFrame | None = None,
        *,
        allow_extra_labels: bool = False,
        hard_column: str = "hard_label",
        entropy_column: str = "entropy_primary",
        reference_column: str | None = None,
        classes: ClassSet = MSP_PODCAST,
    ) -> EvalData:
        """Join a prediction dump with a label table (and optional latent truth) on ``file_id``.

        ``predictions``: ``file_id, probs`` (9 floats), ``pred`` and optionally
        ``arousal, valence, dominance``. ``labels``: ``file_id``, the hard
        labels ``hard_column`` (nullable int, null or -1 = none; default
        ``hard_label``, the consensus), ``p_primary, p_merged`` (9 floats) and
        optionally the stratifying entropy ``entropy_column`` (default
        ``entropy_primary``), ``arousal, valence, dominance`` and the paper
        reference ``reference_column`` (9 floats, required when named).
        ``latent_truth``: ``file_id, p_true``. Rows are ordered by ``file_id``
        so every seed of a split lines up. The tables must cover the same
        utterances (``allow_extra_labels`` lets the label table be a superset).
        ``classes``: the label table's class set (the vectors' width; no ``p_merged`` for a
        class set other than MSP-Podcast's).
        """
        _check_frames(predictions, labels, allow_extra_labels, classes)
        k = classes.k
        _require_columns(labels, "labels", [hard_column, *([reference_column] if reference_column else [])])
        dims = [c for c in DIMENSIONS if c in predictions.columns]
        df = predictions[["file_id", "probs", "pred", *dims]].merge(
            labels, on="file_id", how="left", suffixes=("_pred", "_true")
        )
        df = df.sort_values("file_id", kind="stable").reset_index(drop=True)
        return cls(
            probs=stack_lists(df["probs"].to_numpy(), "predictions.probs", width=k),
            pred=df["pred"].to_numpy(),
            hard=hard_labels(df[hard_column]),
            p_primary=stack_lists(df["p_primary"].to_numpy(), "labels.p_primary", width=k),
            p_merged=(
                stack_lists(df["p_merged"].to_numpy(), "labels.p_merged", width=k)
                if "p_merged" in df.columns
                else None
            ),
            p_true=None if latent_truth is None else _truth_rows(latent_truth, df["file_id"], k),
            dims_pred=_dims_of(df, "pred", predictions),
            dims_true=_dims_of(df, "true", labels),
            entropy=df[entropy_column].to_numpy(dtype=np.float64) if entropy_column in df else None,
            file_ids=df["file_id"].to_numpy(),
            p_ref=(
                stack_lists(df[reference_column].to_numpy(), f"labels.{reference_column}", width=k)
                if reference_column
                else None
            ),
            classes=classes,
        )


# ============================================================================ the join's steps


def hard_labels(column: pd.Series) -> np.ndarray:
    """A hard-label column as int64 class indices, -1 for none (null, or -1 already)."""
    return column.astype("Int64").fillna(-1).to_numpy(dtype=np.int64)


def label_column(labels: pd.DataFrame, file_ids: np.ndarray, column: str) -> pd.Series:
    """``column`` of ``labels`` for ``file_ids``, in that order."""
    _require_columns(labels, "labels", ("file_id", column))
    col = labels.set_index("file_id")[column]
    absent = pd.Index(file_ids).difference(col.index)
    if len(absent):
        raise ValueError(f"labels lack {len(absent)} utterances, e.g. {list(absent[:3])}")
    return col.loc[file_ids]


def _require_columns(df: pd.DataFrame, name: str, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{name} table lacks column(s) {missing}; has {list(df.columns)}")


def _check_frames(
    predictions: pd.DataFrame, labels: pd.DataFrame, allow_extra_labels: bool, classes: ClassSet = MSP_PODCAST
) -> None:
    """Required columns, unique ids, and predictions and labels covering the same utterances."""
    _require_columns(predictions, "predictions", ("file_id", "probs", "pred"))
    merged = ("p_merged",) if classes is MSP_PODCAST else ()
    _require_columns(labels, "labels", ("file_id", "hard_label", "p_primary", *merged))
    for name, df in (("predictions", predictions), ("labels", labels)):
        dup = df["file_id"][df["file_id"].duplicated()]
        if len(dup):
            raise ValueError(f"{name}: duplicated file_id values, e.g. {dup.iloc[0]!r}")
    pred_ids = pd.Index(predictions["file_id"])
    lab_ids = pd.Index(labels["file_id"])
    missing = pred_ids.difference(lab_ids)
    extra = lab_ids.difference(pred_ids)
    if len(missing) or (len(extra) and not allow_extra_labels):
        raise ValueError(
            "predictions and labels do not cover the same utterances: "
            f"{len(missing)} predicted utterances have no labels (e.g. {list(missing[:3])}), "
            f"{len(extra)} labelled utterances have no prediction (e.g. {list(extra[:3])})"
        )


def _dims_of(df: pd.DataFrame, suffix: str, source: pd.DataFrame) -> np.ndarray | None:
    """(N, 3) dimensional values of ``source`` (predictions or labels) from the joined ``df``."""
    dims = list(DIMENSIONS)
    present = [c for c in dims if c in source.columns]
    if not present:
        return None
    if len(present) != len(dims):
        raise ValueError(f"dimensional columns must be all of {dims} or none, got {present}")
    names = [f"{c}_{suffix}" if f"{c}_{suffix}" in df.columns else c for c in dims]
    return df[names].to_numpy(dtype=np.float64)


def _truth_rows(latent_truth: pd.DataFrame, file_ids: pd.Series, k: int) -> np.ndarray:
    """``p_true`` of ``file_ids``, in that order (``k`` classes)."""
    _require_columns(latent_truth, "latent_truth", ("file_id", "p_true"))
    lt = latent_truth.set_index("file_id")["p_true"]
    absent = pd.Index(file_ids).difference(lt.index)
    if len(absent):
        raise ValueError(f"latent_truth lacks {len(absent)} utterances, e.g. {list(absent[:3])}")
    return stack_lists(lt.loc[file_ids].to_numpy(), "latent_truth.p_true", k)


# ================================================================================ files


def _read_parquet(path: PathLike, what: str) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise EvaluationError(f"{what} not found: {p}")
    try:
        return pd.read_parquet(p)
    except Exception as err:  # pyarrow raises several types for a broken file
        raise EvaluationError(f"{what} {p} is not a readable parquet file ({err})") from None


def read_labels(path: PathLike) -> pd.DataFrame:
    """The label stage's table, with the columns the join needs."""
    df = _read_parquet(path, "label table")
    need = ("file_id", "split", "hard_label", "p_primary", "p_merged")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise EvaluationError(f"label table {path} lacks column(s) {missing}")
    return df


def read_label_view(path: PathLike) -> label_view.LabelView:
    """The label table of either corpus with its class set (:mod:`sertools.labels.view`): an
    MSP-Podcast table as :func:`read_labels` reads it, a CREMA-D table under the stages' names."""
    classes = label_view.table_class_set(path)
    if classes is MSP_PODCAST:
        return label_view.LabelView(read_labels(path), classes)
    try:
        return label_view.read(path, require=("file_id", "split", "hard_label", "p_primary"))
    except ValueError as err:
        raise EvaluationError(str(err)) from None


def read_truth(path: PathLike | None) -> pd.DataFrame | None:
    """``file_id, p_true`` of the synthetic corpus's latent truth (None without a path)."""
    if path is None:
        return None
    df = _read_parquet(path, "latent truth")
    if "file_id" not in df.columns or "p_true" not in df.columns:
        raise EvaluationError(f"latent truth {path} needs the columns file_id and p_true")
    return df[["file_id", "p_true"]]


def _read_prediction(path: PathLike, split: str) -> pd.DataFrame:
    try:
        pred = predictions.read(path, f"prediction dump of {split}")
    except predictions.PredictionsError as err:
        raise EvaluationError(str(err)) from None
    if "split" in pred.columns and len(pred) and not (pred["split"] == split).all():
        found = sorted(set(pred["split"].astype(str)))
        raise EvaluationError(f"{path}: expected split {split!r}, the file holds {found}")
    return pred


def seed_files(files: PathLike | Sequence[PathLike], seeds: Sequence[object], split: str) -> list[PathLike]:
    """A split's prediction files from a rule's inputs, checked to hold one file per seed."""
    paths = [files] if isinstance(files, (str, Path)) else list(files)
    if len(paths) != len(seeds):
        raise EvaluationError(
            f"{split}: {len(paths)} prediction file(s) for {len(seeds)} seed(s) {list(seeds)}"
        )
    return paths


def load_split(
    pred_paths: Sequence[PathLike],
    labels: pd.DataFrame,
    split: str,
    truth: pd.DataFrame | None = None,
    classes: ClassSet = MSP_PODCAST,
    **columns: Unpack[JoinColumns],
) -> tuple[list[EvalData], int]:
    """One :class:`EvalData` per seed for ``split``, aligned on ``file_id``.

    Returns the sets and the number of labelled utterances of the split that
    have no prediction (utterances the manifest dropped, e.g. missing audio).
    Every seed must predict the same utterances. ``columns``: the label-table
    columns of :meth:`EvalData.from_frames` (``hard_column``,
    ``entropy_column``, ``reference_column``).
    """
    if isinstance(pred_paths, (str, Path)) or not len(pred_paths):
        raise EvaluationError(f"{split}: need a non-empty list of prediction files (one per seed)")
    lab = labels[labels["split"] == split]
    sets: list[EvalData] = []
    for path in pred_paths:
        pred = _read_prediction(path, split)
        try:
            d = EvalData.from_frames(pred, lab, truth, allow_extra_labels=True, classes=classes, **columns)
        except ValueError as err:
            raise EvaluationError(f"{path} ({split}): {err}") from None
        if sets and not d.same_utterances(sets[0]):
            raise EvaluationError(
                f"{path}: predicts other utterances than {pred_paths[0]} "
                f"({d.n} vs {sets[0].n}); every seed must cover the same utterances"
            )
        sets.append(d)
    return sets, len(lab) - sets[0].n

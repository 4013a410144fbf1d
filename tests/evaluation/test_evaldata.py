"""Tests for sertools.evaluation.evaldata: the join of predictions, labels and latent truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dumps import N, write_dump
from evalsets import assert_metrics_close, dist, make_data

from sertools.classes import DIMENSIONS, K
from sertools.evaluation import evaldata
from sertools.evaluation.evaldata import EvalData, EvaluationError
from sertools.evaluation.metricset import compute_all


def _frames(data: EvalData) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ids = [f"MSP-PODCAST_{i:04d}.wav" for i in range(data.n)]
    preds = pd.DataFrame(
        {
            "file_id": ids,
            "probs": list(data.probs.astype(np.float32)),
            "pred": data.pred,
            **{d: data.dims_pred[:, j] for j, d in enumerate(DIMENSIONS)},
        }
    )
    labels = pd.DataFrame(
        {
            "file_id": ids,
            "hard_label": pd.array([None if h < 0 else int(h) for h in data.hard], dtype="Int64"),
            "p_primary": list(data.p_primary),
            "p_merged": list(data.p_merged),
            "entropy_primary": data.entropy,
            **{d: data.dims_true[:, j] for j, d in enumerate(DIMENSIONS)},
            "p_release_MH": list(data.p_ref),
            # another scheme: X relabelled as class 8, every other label shifted by one
            "hard_other": np.where(data.hard < 0, 8, (data.hard + 1) % K),
            "entropy_other": np.linspace(0, 1, data.n),
        }
    )
    truth = pd.DataFrame({"file_id": ids, "p_true": list(data.p_true)})
    return preds, labels, truth


def test_from_frames_joins_and_orders_by_file_id() -> None:
    data = make_data(60, seed=1)
    preds, labels, truth = _frames(data)
    shuffled = preds.sample(frac=1.0, random_state=0)
    built = EvalData.from_frames(
        shuffled,
        labels.iloc[::-1],
        truth.sample(frac=1.0, random_state=1),
        reference_column="p_release_MH",
    )
    assert list(built.file_ids) == sorted(preds["file_id"])
    assert_metrics_close(compute_all(built), compute_all(data), tol=1e-6)
    assert (built.hard == -1).sum() == (data.hard == -1).sum()
    # without a reference column: no p_ref and no paper divergences
    plain = EvalData.from_frames(preds, labels, truth)
    assert plain.p_ref is None and "jsd_paper" not in compute_all(plain)


def test_from_frames_reads_the_named_hard_labels_and_entropy() -> None:
    data = make_data(40, seed=3)
    preds, labels, _ = _frames(data)
    other = EvalData.from_frames(preds, labels, hard_column="hard_other", entropy_column="entropy_other")
    np.testing.assert_array_equal(other.hard, labels["hard_other"].to_numpy())
    np.testing.assert_allclose(other.entropy, labels["entropy_other"].to_numpy())
    with pytest.raises(ValueError, match="lacks column"):
        EvalData.from_frames(preds, labels, hard_column="hard_guarded_release_MH")
    with pytest.raises(ValueError, match="lacks column"):
        EvalData.from_frames(preds, labels, reference_column="p_release_XX")


def test_with_hard_swaps_only_the_hard_labels() -> None:
    data = make_data(50, seed=4)
    new = np.where(data.hard < 0, 0, data.hard)
    swapped = data.with_hard(new)
    np.testing.assert_array_equal(swapped.hard, new)
    assert swapped.probs is data.probs and swapped.p_ref is data.p_ref  # shared, not re-validated
    np.testing.assert_array_equal(data.hard >= 0, make_data(50, seed=4).hard >= 0)  # original unchanged
    a, b = compute_all(data), compute_all(swapped)
    assert a["jsd_primary"] == b["jsd_primary"] and a["kld_paper"] == b["kld_paper"]
    assert b["n_hard"] == data.n > a["n_hard"]
    with pytest.raises(ValueError, match="rows"):
        data.with_hard(new[:-1])
    with pytest.raises(ValueError, match="hard values"):
        data.with_hard(np.full(data.n, 9))


def test_label_column_and_hard_labels() -> None:
    labels = pd.DataFrame(
        {"file_id": ["a", "b", "c"], "hard_label": pd.array([1, None, 3], dtype="Int64"), "x": [1, -1, 2]}
    )
    col = evaldata.label_column(labels, np.array(["c", "a"]), "hard_label")
    np.testing.assert_array_equal(evaldata.hard_labels(col), [3, 1])
    np.testing.assert_array_equal(evaldata.hard_labels(labels["hard_label"]), [1, -1, 3])
    np.testing.assert_array_equal(evaldata.hard_labels(labels["x"]), [1, -1, 2])
    with pytest.raises(ValueError, match="lack 1 utterances"):
        evaldata.label_column(labels, np.array(["d"]), "x")


def test_from_frames_reports_coverage_mismatch_and_bad_columns() -> None:
    preds, labels, truth = _frames(make_data(30, seed=1))
    with pytest.raises(ValueError, match="do not cover the same utterances"):
        EvalData.from_frames(preds.iloc[:-2], labels)
    EvalData.from_frames(preds.iloc[:-2], labels, allow_extra_labels=True)
    with pytest.raises(ValueError, match="do not cover the same utterances"):
        EvalData.from_frames(preds, labels.iloc[1:], allow_extra_labels=True)
    with pytest.raises(ValueError, match="lacks column"):
        EvalData.from_frames(preds.drop(columns="probs"), labels)
    with pytest.raises(ValueError, match="duplicated file_id"):
        EvalData.from_frames(pd.concat([preds, preds.iloc[:1]]), labels)
    with pytest.raises(ValueError, match="latent_truth lacks"):
        EvalData.from_frames(preds, labels, truth.iloc[1:])
    with pytest.raises(ValueError, match="all of"):
        EvalData.from_frames(preds.drop(columns="arousal"), labels)
    bad = preds.copy()
    bad["probs"] = [np.ones(8) / 8] * len(bad)
    with pytest.raises(ValueError, match="list of 9 numbers"):
        EvalData.from_frames(bad, labels)


def test_evaldata_validation_messages() -> None:
    p = np.array([dist(0.5, 0.5)])
    with pytest.raises(ValueError, match="do not sum to 1"):
        EvalData(probs=np.array([dist(0.5, 0.6)]), pred=[0], hard=[0], p_primary=p, p_merged=p)
    with pytest.raises(ValueError, match="pred values"):
        EvalData(probs=p, pred=[9], hard=[0], p_primary=p, p_merged=p)
    with pytest.raises(ValueError, match="hard values"):
        EvalData(probs=p, pred=[0], hard=[-2], p_primary=p, p_merged=p)
    with pytest.raises(ValueError, match="shape"):
        EvalData(probs=p[:, :8], pred=[0], hard=[0], p_primary=p, p_merged=p)
    with pytest.raises(ValueError, match="rows but probs"):
        EvalData(probs=p, pred=[0, 0], hard=[0], p_primary=p, p_merged=p)
    with pytest.raises(ValueError, match="dims_pred"):
        EvalData(probs=p, pred=[0], hard=[0], p_primary=p, p_merged=p, dims_pred=np.ones((1, 2)))
    with pytest.raises(ValueError, match="entropy must have shape"):
        EvalData(probs=p, pred=[0], hard=[0], p_primary=p, p_merged=p, entropy=np.zeros(2))


def test_take_and_subset() -> None:
    data = make_data(20, seed=2)
    twice = data.take(np.array([3, 3]))
    np.testing.assert_array_equal(twice.probs, data.probs[[3, 3]])
    sub = data.subset(data.hard >= 0)
    assert sub.n == (data.hard >= 0).sum() and np.all(sub.hard >= 0)
    with pytest.raises(ValueError, match="boolean"):
        data.subset(np.arange(data.n))


def test_load_split_aligns_seeds_and_counts_unpredicted(corpus: dict, tmp_path: Path) -> None:
    labels = evaldata.read_labels(corpus["labels"])
    truth = evaldata.read_truth(corpus["truth"])
    sets, unpredicted = evaldata.load_split(corpus["paths"]["noisy"]["Test1"], labels, "Test1", truth)
    assert len(sets) == 2 and unpredicted == 0
    assert all(np.array_equal(d.file_ids, sets[0].file_ids) for d in sets)
    assert sets[0].p_true is not None and sets[0].n == N
    lab = corpus["frame"]
    short = tmp_path / "short.parquet"
    write_dump(short, lab[lab["split"] == "Test1"].iloc[:10], "Test1", np.full((10, K), 1 / K), 0.1, 0)
    sets, unpredicted = evaldata.load_split([short], labels, "Test1")
    assert sets[0].n == 10 and unpredicted == N - 10
    with pytest.raises(EvaluationError, match="non-empty list"):
        evaldata.load_split(str(short), labels, "Test1")


def test_file_errors(corpus: dict, tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="label table not found"):
        evaldata.read_labels(tmp_path / "nope.parquet")
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(EvaluationError, match="not a readable parquet"):
        evaldata.read_labels(tmp_path / "broken.parquet")
    pd.DataFrame({"file_id": ["a"]}).to_parquet(tmp_path / "lab.parquet")
    with pytest.raises(EvaluationError, match="lacks column"):
        evaldata.read_labels(tmp_path / "lab.parquet")
    with pytest.raises(EvaluationError, match="needs the columns"):
        evaldata.read_truth(tmp_path / "lab.parquet")
    assert evaldata.read_truth(None) is None


def test_seed_files() -> None:
    assert evaldata.seed_files("a.parquet", [0], "Test1") == ["a.parquet"]
    assert evaldata.seed_files(("a", "b"), [0, 1], "Test1") == ["a", "b"]
    with pytest.raises(EvaluationError, match=r"Test1: 1 prediction file\(s\) for 2 seed"):
        evaldata.seed_files(["a"], [0, 1], "Test1")

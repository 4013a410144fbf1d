"""Tests for sertools.evaluation.reference: the oracle_truth and prior reference rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dumps import EVAL_CFG, release_columns

from sertools.classes import CODES, DIMENSIONS, NO_AGREEMENT, K
from sertools.evaluation import metrics, predictions, reference
from sertools.evaluation.evaldata import EvaluationError
from sertools.labels import table as label_table

SPLITS = ("Train", "Development", "Test1", "Test2")
EVAL_SPLITS = ["Development", "Test1", "Test2"]
SIZES = {"Train": 40, "Development": 12, "Test1": 15, "Test2": 9}


def _labels(seed: int = 0) -> pd.DataFrame:
    """A label table with the columns a reference reads (and the metrics stage needs)."""
    rng = np.random.default_rng(seed)
    frames = []
    for split in SPLITS:
        n = SIZES[split]
        votes = rng.multinomial(6, rng.dirichlet(np.ones(K)), n).astype(float)
        votes[votes.sum(axis=1) == 0, 0] = 1
        p = votes / votes.sum(axis=1, keepdims=True)
        top = votes.max(axis=1)
        unique = (votes == top[:, None]).sum(axis=1) == 1
        hard = pd.array(np.where(unique, votes.argmax(axis=1), 0), dtype="Int64")
        hard[~unique] = pd.NA
        consensus = [CODES[h] if u else NO_AGREEMENT for h, u in zip(votes.argmax(1), unique, strict=True)]
        merged = 0.8 * p + 0.2 / K
        frames.append(
            pd.DataFrame(
                {
                    # file ids out of order: the dumps are sorted by file_id
                    "file_id": [f"{split}_{i:03d}.wav" for i in rng.permutation(n)],
                    "split": split,
                    "hard_label": hard,
                    **{d: rng.uniform(1, 7, n) for d in DIMENSIONS},
                    "p_primary": list(p),
                    "p_merged": list(merged),
                    **release_columns(votes, consensus, merged, seed + SPLITS.index(split)),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _truth(labels: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(labels)
    return pd.DataFrame(
        {
            "file_id": labels["file_id"],
            "p_true": list(rng.dirichlet(np.ones(K), n)),
            **{f"{d}_true": rng.uniform(1, 7, n) for d in DIMENSIONS},
        }
    )


@pytest.fixture
def files(tmp_path: Path) -> dict:
    labels = _labels()
    truth = _truth(labels)
    lab_path, truth_path = tmp_path / "labels.parquet", tmp_path / "latent_truth.parquet"
    labels.to_parquet(lab_path, index=False)
    truth.to_parquet(truth_path, index=False)
    return {"labels": lab_path, "truth": truth_path, "frame": labels, "truth_frame": truth, "root": tmp_path}


def _outputs(root: Path, ref: str) -> list[Path]:
    return [root / ref / "seed0" / f"{s}.parquet" for s in EVAL_SPLITS]


def _run(files: dict, ref: str, **inputs) -> list[Path]:
    outs = _outputs(files["root"], ref)
    given = {"labels": files["labels"], "truth": files["truth"], **inputs}
    written = reference.run(given, outs, reference=ref, splits=EVAL_SPLITS)
    if "manifest" not in inputs:  # every labelled utterance of each split
        assert written == {s: SIZES[s] for s in EVAL_SPLITS}
    return outs


def test_oracle_is_the_latent_truth(files: dict) -> None:
    outs = _run(files, reference.ORACLE)
    truth = files["truth_frame"].set_index("file_id")
    for split, path in zip(EVAL_SPLITS, outs, strict=True):
        pred = predictions.read(path)
        labelled = files["frame"][files["frame"]["split"] == split]
        assert len(pred) == len(labelled) == SIZES[split]
        assert list(pred["file_id"]) == sorted(labelled["file_id"])
        assert (pred["split"] == split).all()
        expected = np.stack(truth.loc[pred["file_id"], "p_true"].to_numpy())
        np.testing.assert_allclose(np.stack(pred["probs"].to_numpy()), expected, atol=1e-6)
        assert (pred["pred"].to_numpy() == expected.argmax(axis=1)).all()
        for d in DIMENSIONS:
            np.testing.assert_allclose(pred[d], truth.loc[pred["file_id"], f"{d}_true"], rtol=1e-6)


def test_prior_is_the_constant_train_mean(files: dict) -> None:
    outs = _run(files, reference.PRIOR, truth=None)  # the prior never reads the truth
    lab = files["frame"]
    train = lab[lab["split"] == "Train"]
    prior = np.stack(train["p_primary"].to_numpy()).mean(axis=0)
    for split, path in zip(EVAL_SPLITS, outs, strict=True):
        pred = predictions.read(path)
        assert len(pred) == SIZES[split]
        probs = np.stack(pred["probs"].to_numpy())
        np.testing.assert_allclose(probs, np.tile(prior, (len(pred), 1)), atol=1e-6)
        assert (pred["pred"] == prior.argmax()).all()
        for d in DIMENSIONS:
            np.testing.assert_allclose(pred[d], train[d].mean(), rtol=1e-6)


def test_dumps_are_deterministic(files: dict, tmp_path: Path) -> None:
    for ref in reference.REFERENCES:
        a = _run(files, ref)
        first = [p.read_bytes() for p in a]
        b = _run(files, ref)
        assert [p.read_bytes() for p in b] == first, ref


def test_the_manifest_restricts_the_rows_to_what_the_models_see(files: dict) -> None:
    """Utterances the manifest dropped get no reference prediction, and the prior is taken over
    the Train utterances it kept."""
    lab = files["frame"]
    dropped = set(lab[lab["split"] == "Test1"]["file_id"][:4]) | set(
        lab[lab["split"] == "Train"]["file_id"][:30]
    )
    kept = lab[~lab["file_id"].isin(dropped)][["file_id", "split"]]
    manifest_path = files["root"] / "manifest.parquet"
    kept.to_parquet(manifest_path, index=False)
    outs = _run(files, reference.PRIOR, manifest=manifest_path)
    pred = predictions.read(outs[EVAL_SPLITS.index("Test1")])
    assert len(pred) == SIZES["Test1"] - 4 and not set(pred["file_id"]) & dropped
    train = lab[(lab["split"] == "Train") & ~lab["file_id"].isin(dropped)]
    prior = np.stack(train["p_primary"].to_numpy()).mean(axis=0)
    np.testing.assert_allclose(np.stack(pred["probs"].to_numpy())[0], prior, atol=1e-6)


def test_metrics_of_the_references(files: dict) -> None:
    """Scored like a model: the oracle is at distance 0 from the truth, the prior is not."""
    cfg = {**EVAL_CFG, "splits": EVAL_SPLITS, "baseline_variant": "x"}
    docs = {}
    for ref in reference.REFERENCES:
        outs = _run(files, ref)
        paths = {s: [p] for s, p in zip(EVAL_SPLITS, outs, strict=True)}
        docs[ref] = metrics.variant_metrics(
            paths,
            files["labels"],
            cfg,
            files["truth"],
            variant=ref,
            variant_cfg={"targets": "consensus", "hard_labels": "consensus", "model": reference.MODEL},
        )
    for split in EVAL_SPLITS:
        oracle = docs[reference.ORACLE]["splits"][split]
        prior = docs[reference.PRIOR]["splits"][split]
        assert oracle["n_seeds"] == 1 and oracle["metrics"]["jsd_true"]["mean"] == pytest.approx(0, abs=1e-6)
        assert oracle["metrics"]["kld_true"]["mean"] == pytest.approx(0, abs=1e-5)
        assert prior["metrics"]["jsd_true"]["mean"] > 0.05
    assert docs[reference.PRIOR]["model"] == reference.MODEL


def test_errors(files: dict, tmp_path: Path) -> None:
    root = files["root"]
    with pytest.raises(EvaluationError, match="unknown reference 'median'"):
        reference.run(
            {"labels": files["labels"]}, _outputs(root, "median"), reference="median", splits=EVAL_SPLITS
        )
    with pytest.raises(EvaluationError, match="needs the latent truth"):
        reference.run(
            {"labels": files["labels"]}, _outputs(root, "o"), reference=reference.ORACLE, splits=EVAL_SPLITS
        )
    with pytest.raises(EvaluationError, match="output file"):
        reference.run(files, _outputs(root, "p")[:2], reference=reference.PRIOR, splits=EVAL_SPLITS)
    # the truth lacks some labelled utterances
    short = files["truth_frame"][~files["truth_frame"]["file_id"].str.startswith("Test2_00")]
    short_path = tmp_path / "short_truth.parquet"
    short.to_parquet(short_path, index=False)
    with pytest.raises(EvaluationError, match=r"latent truth lacks \d+ labelled Test2 utterance"):
        reference.run(
            {"labels": files["labels"], "truth": short_path},
            _outputs(root, "o"),
            reference=reference.ORACLE,
            splits=EVAL_SPLITS,
        )
    with pytest.raises(EvaluationError, match="lacks column"):
        reference.oracle_table(files["frame"], files["truth_frame"].drop(columns="valence_true"), "Test1")
    # no Train split: no prior
    no_train = files["frame"][files["frame"]["split"] != "Train"]
    no_train_path = tmp_path / "no_train.parquet"
    no_train.to_parquet(no_train_path, index=False)
    with pytest.raises(EvaluationError, match="no Train utterances"):
        reference.run(
            {"labels": no_train_path}, _outputs(root, "p"), reference=reference.PRIOR, splits=EVAL_SPLITS
        )
    with pytest.raises(label_table.LabelTableError, match="p_primary"):
        broken = tmp_path / "broken.parquet"
        files["frame"].drop(columns="p_primary").to_parquet(broken, index=False)
        reference.run({"labels": broken}, _outputs(root, "p"), reference=reference.PRIOR, splits=EVAL_SPLITS)


def test_which_references_a_corpus_allows() -> None:
    assert reference.available(True) == [reference.ORACLE, reference.PRIOR]
    assert reference.available(False) == [reference.PRIOR]  # a real corpus has no latent truth
    from sertools.report import table_rows

    assert table_rows.REFERENCE_MODEL == reference.MODEL


def test_no_torch_behind_the_reference_stage() -> None:
    """A reference costs a few table reads: its rule's code never loads torch or a model."""
    from sertools import architecture, deps

    names = {p.relative_to(deps.ROOT).as_posix() for p in deps.files(architecture.STAGES["reference"])}
    assert "evaluation/reference.py" in names
    assert not {n for n in names if n.startswith(("model/", "training/", "features/"))}

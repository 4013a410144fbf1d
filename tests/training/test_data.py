"""Training data: targets per variant, reproducible crops, and data training refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tinyrun import SEED, make_cfg, make_corpus

from sertools import config
from sertools import config as config_mod
from sertools.data import dataset as data
from sertools.data import join as data_join
from sertools.data import targets as data_targets
from sertools.data.errors import DataError
from sertools.training.data import load_training_data
from sertools.training.runtime.errors import TrainingError
from sertools.training.runtime.job import Job, make_job

#: a variant section as the stages receive it (the schema's defaults filled in)
VARIANT_DEFAULTS = config_mod.resolve({"variants": {"hard_ce": {"targets": "consensus", "loss": "ce"}}})[
    "variants"
]["hard_ce"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def _job(corpus: tuple[Path, Path], variant: str, **train: object) -> Job:
    cfg = make_cfg(**train)
    return make_job(
        cfg["model"], config.variant_train(cfg, variant), cfg["variants"][variant], variant, SEED, *corpus
    )


def test_targets_per_variant(corpus: tuple[Path, Path]) -> None:
    table, report = data_join.load_table(*corpus)
    assert report["labels_without_audio"] == {} and table["file_id"].is_monotonic_increasing
    train = table[table["split"] == "Train"].reset_index(drop=True)
    is_x = (train["consensus"] == "X").to_numpy()
    assert is_x.any()
    hard = data_targets.build_targets(train, {**VARIANT_DEFAULTS, "targets": "consensus", "loss": "ce"})
    assert hard.is_index and len(hard.rows) == (~is_x).sum()
    assert np.array_equal(hard.cat, train["hard_label"].to_numpy()[hard.rows].astype(int))
    onehot = data_targets.build_targets(train, {**VARIANT_DEFAULTS, "targets": "consensus", "loss": "kl"})
    assert (
        not onehot.is_index
        and np.array_equal(onehot.cat.argmax(1), hard.cat)
        and np.all(onehot.cat.max(1) == 1)
    )
    dist = data_targets.build_targets(train, {**VARIANT_DEFAULTS, "targets": "primary", "loss": "kl"})
    assert len(dist.rows) == (~is_x).sum()
    with_x = data_targets.build_targets(
        train, {**VARIANT_DEFAULTS, "targets": "merged", "loss": "jsd", "include_no_agreement": True}
    )
    assert len(with_x.rows) == len(train)
    assert np.allclose(with_x.cat.sum(1), 1) and np.array_equal(with_x.hard < 0, is_x)
    assert np.allclose(with_x.dims[:, 0], (train["arousal"].to_numpy() - 1) / 6)
    with pytest.raises(DataError, match="needs consensus targets"):
        data_targets.build_targets(train, {**VARIANT_DEFAULTS, "targets": "primary", "loss": "ce"})


def test_crops_are_reproducible_and_collate_pads() -> None:
    starts = [data.crop_start(1, 2, 3, 1000, 300) for _ in range(3)]
    assert len(set(starts)) == 1 and 0 <= starts[0] <= 700
    assert (
        data.crop_start(1, 3, 3, 1000, 300) != starts[0] or data.crop_start(1, 4, 3, 1000, 300) != starts[0]
    )
    assert data.crop_start(1, 2, 3, 200, 300) == 0
    batch = data.collate([(5, np.ones(3, np.float32)), (2, np.ones(6, np.float32))], min_length=8)
    assert batch.wave.shape == (2, 8) and batch.lengths.tolist() == [3, 6] and batch.index.tolist() == [5, 2]
    assert float(batch.wave[0, 3:].abs().sum()) == 0.0


def test_training_data_of_a_variant(corpus: tuple[Path, Path]) -> None:
    d = load_training_data(*corpus, _job(corpus, "dist_primary_kl_curriculum"), torch.device("cpu"))
    assert len(d.train_set) == len(d.train_rows) == len(d.train_targets.rows) < len(d.train_table)
    assert len(d.dev_set) == len(d.dev_table) and d.sample_rate == 16000 and d.num_workers == 0
    crop = round(0.6 * d.sample_rate)
    assert d.train_lengths.max() <= crop and np.array_equal(d.dev_lengths, d.dev_table["frames"].to_numpy())
    assert np.array_equal(d.difficulty, d.train_rows["entropy_primary"].to_numpy())  # the curriculum's order
    plain = load_training_data(*corpus, _job(corpus, "dist_primary_kl"), torch.device("cpu"))
    assert not plain.difficulty.any()
    with pytest.raises(DataError, match="Train"):
        d.check_min_length(10**6)


def test_data_training_refuses(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    labels = pd.read_parquet(corpus[0])
    dev = labels["split"] == "Development"
    labels.loc[dev, "consensus"] = "X"
    labels.loc[dev, "hard_label"] = pd.NA
    labels.to_parquet(tmp_path / "labels.parquet", index=False)
    no_class = (tmp_path / "labels.parquet", corpus[1])
    with pytest.raises(TrainingError, match="macro-F1 is the selection or NewBob metric"):
        load_training_data(
            *no_class, _job(no_class, "hard_ce", selection_metric="one_minus_macro_f1"), torch.device("cpu")
        )
    with pytest.raises(TrainingError, match="val_loss is undefined"):
        load_training_data(*no_class, _job(no_class, "hard_ce"), torch.device("cpu"))

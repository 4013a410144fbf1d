"""The epoch: curriculum pools, NewBob waiting for the full pool, non-finite batches, validation metrics."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from tinyrun import SEED, THREADS, make_cfg, make_corpus

from sertools.training import loop, optimisation, train
from sertools.training.runtime import checkpoint
from sertools.training.runtime.errors import TrainingError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def test_curriculum_waits_before_newbob(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    cfg = make_cfg(max_epochs=3, newbob_threshold=1.0)  # threshold 1: NewBob anneals on every counted epoch
    summary = train.from_config(*corpus, tmp_path / "cur", cfg, "dist_primary_kl_curriculum", SEED, THREADS)
    log = pd.read_csv(tmp_path / "cur" / "train_log.csv")
    # a = 0.4, T = 3: full from epoch index ceil(1.2) = 2, i.e. the third epoch
    assert log["is_full"].tolist() == [False, False, True]
    assert (
        log["pool_size"].iloc[0] < log["pool_size"].iloc[1] < log["pool_size"].iloc[2] == summary["n_train"]
    )
    # nothing annealed while waiting; the first full epoch never anneals
    assert log["lr_heads"].nunique() == 1
    last = checkpoint.read_meta(tmp_path / "cur" / "resume" / "last.safetensors")
    assert len(last["recoverables"]["newbob.heads"]["metric_values"]) == 1


def test_nonfinite_batches_are_skipped_then_fatal(
    corpus: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = optimisation.Objective.__call__
    calls = {"n": 0}

    def one_nan(self: optimisation.Objective, *args: Any, **kwargs: Any) -> torch.Tensor:
        calls["n"] += 1
        loss = real(self, *args, **kwargs)
        return loss * float("nan") if calls["n"] == 2 else loss

    monkeypatch.setattr(optimisation.Objective, "__call__", one_nan)
    cfg = make_cfg(max_epochs=1, batch_size=1, grad_accum=1)  # >= 10 batches: 1 NaN is within 10 %
    train.from_config(*corpus, tmp_path / "one", cfg, "hard_ce", SEED, THREADS)
    log = pd.read_csv(tmp_path / "one" / "train_log.csv")
    assert log["nonfinite_batches"].tolist() == [1]
    n = int(log["batches"].iloc[0])
    assert n >= 10

    monkeypatch.setattr(
        optimisation.Objective, "__call__", lambda self, *a, **k: real(self, *a, **k) * float("nan")
    )
    first_fatal = n // 10 + 1  # the first count above 10 %
    with pytest.raises(
        TrainingError,
        match=rf"epoch 1: {first_fatal} of {n} batches were non-finite \(latest: batch {first_fatal}, loss\)",
    ):
        train.from_config(*corpus, tmp_path / "all", cfg, "hard_ce", SEED, THREADS)


def test_nonfinite_count_tolerates_up_to_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    count = loop.NonFiniteCount(epoch=4, n_batches=20)
    with caplog.at_level(logging.WARNING, logger="sertools.training"):
        count.add("loss", 3)
        count.add("gradient norm", 7)  # 2 of 20 = the limit, not above it
    assert count.count == 2 and "epoch 5 batch 8/20: non-finite gradient norm" in caplog.text
    with pytest.raises(TrainingError, match=r"epoch 5: 3 of 20 batches .* \(latest: batch 10, loss\)"):
        count.add("loss", 9)


def test_macro_f1_uses_hard_labelled_utterances_only() -> None:
    hard = np.array([0, 0, 1, -1, 2])
    pred = np.array([0, 1, 1, 2, 2])
    # per class over the 9: class 0 F1 2/3, class 1 F1 2/3, class 2 F1 1 (the X row is left out), 6 zeros
    assert loop.macro_f1(hard, pred) == pytest.approx((2 / 3 + 2 / 3 + 1) / 9)
    assert np.isnan(loop.macro_f1(np.array([-1, -1]), np.array([0, 1])))

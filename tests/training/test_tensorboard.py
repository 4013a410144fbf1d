"""train.tensorboard: every column of train_log.csv per epoch as TensorBoard scalars, resumable, not hashed."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tinyrun import SEED, THREADS, VARIANT, make_cfg, make_corpus

from sertools import config
from sertools.training import train
from sertools.training.runtime import tensorboard
from sertools.training.runtime.errors import TrainingError
from sertools.training.runtime.job import make_job
from sertools.training.state import LogRow


def events(run: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] of a run's TensorBoard directory, as TensorBoard itself reads it."""
    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def assert_log_matches_csv(run: Path) -> None:
    csv = pd.read_csv(run / "train_log.csv")
    got = events(run)
    assert [s for s, _ in got["train/loss"]] == csv["epoch"].tolist()  # each epoch once, in order
    for column, tag in (
        ("train_loss", "train/loss"),
        ("val_loss", "val/loss"),
        ("val_macro_f1", "val/macro_f1"),
        ("val_kld", "val/kld"),
        ("lr_backbone", "lr/backbone"),
        ("lr_heads", "lr/heads"),
        ("padded_fraction", "epoch/padded_fraction"),
        ("pool_size", "epoch/pool_size"),
    ):
        assert [v for _, v in got[tag]] == pytest.approx(csv[column].tolist(), rel=1e-6), tag
    assert "epoch/trainable_layers" not in got  # None without gradual unfreezing


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_corpus(tmp_path_factory.mktemp("tb_corpus"), n=30)


def fit(corpus: tuple[Path, Path], out: Path, **kw: object) -> dict:
    cfg = make_cfg(max_epochs=2, tensorboard=kw.pop("tensorboard", True))
    return train.from_config(*corpus, out, cfg, VARIANT, SEED, THREADS, **kw)


def test_every_epoch_is_logged_and_a_resumed_run_logs_each_epoch_once(
    corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    assert fit(corpus, out, stop_after_epochs=1)["interrupted"]
    assert [s for s, _ in events(out)["train/loss"]] == [1]
    fit(corpus, out)  # resumes: the log is rewritten from the run state, then epoch 2 is added
    assert len(list((out / "tensorboard").glob(tensorboard.EVENT_GLOB))) == 1
    assert_log_matches_csv(out)


def test_switching_it_on_afterwards_writes_the_log_without_training(
    corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    first = fit(corpus, out, tensorboard=False)
    assert not (out / "tensorboard").exists()
    again = fit(corpus, out)
    assert again["config_hash"] == first["config_hash"] and again["resumed_from_epoch"] == 2
    assert_log_matches_csv(out)


def test_the_key_is_not_hashed_and_is_documented(corpus: tuple[Path, Path]) -> None:
    on, off = make_cfg(tensorboard=True), make_cfg()
    jobs = [
        make_job(c["model"], config.variant_train(c, VARIANT), c["variants"][VARIANT], VARIANT, SEED, *corpus)
        for c in (on, off)
    ]
    assert jobs[0].config_hash == jobs[1].config_hash
    assert jobs[0].train["tensorboard"] is True and off["train"]["tensorboard"] is False
    assert "tensorboard" in config.load_schema()["properties"]["train"]["properties"]


def test_scalars_of_a_row() -> None:
    row = LogRow(3, 10, True, 0.5, 0.4, 0.3, 0.2, 0.1, 1e-3, 2e-3, None, 0.25, 4, 0, 0, 1.5)
    got = tensorboard.scalars(row)
    assert got["train/loss"] == 0.5 and got["lr/heads"] == 2e-3 and got["epoch/is_full"] == 1.0
    assert "epoch" not in got and "epoch/trainable_layers" not in got and got["epoch/seconds"] == 1.5


def test_without_tensorboard_the_run_stops_before_training(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    with pytest.raises(TrainingError, match=r"sertools\[tensorboard\]"):
        tensorboard.open_log(True, tmp_path / "tb", [])
    assert tensorboard.open_log(False, tmp_path / "tb", []) is None

"""The run state: best-model tracking, early stopping, NewBob, its resume round trip, and the log row."""

from __future__ import annotations

import ast
import dataclasses
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from sertools.deps import ROOT
from sertools.training.optimisation import PARAM_GROUPS
from sertools.training.runtime import outputs
from sertools.training.runtime.errors import TrainingError
from sertools.training.state import LogRow, RunState

TRAIN = {
    "selection_metric": "val_loss",
    "newbob_metric": "val_loss",
    "early_stopping_patience": 2,
    "max_epochs": 10,
    "lr_backbone": 1e-4,
    "lr_heads": 1e-3,
    "newbob_factor": 0.5,
    "newbob_threshold": 0.0025,
    "newbob_patience": 0,
    "early_stopping_min_delta": 0.0,
    "selection_mode": "min",
}


def _state(**train: Any) -> RunState:
    torch.manual_seed(0)
    return RunState.start({**TRAIN, **train}, torch.nn.Linear(2, 2))


def _val(loss: float) -> dict[str, float]:
    return {"val_loss": loss, "val_macro_f1": 0.5, "val_jsd": 0.1, "one_minus_macro_f1": 0.5}


def _row(epoch: int, **values: Any) -> LogRow:
    """A log row of made-up values."""
    row = {f.name: 0 for f in dataclasses.fields(LogRow)} | {"epoch": epoch, "trainable_layers": None}
    return LogRow(**(row | values))


def test_best_epoch_weights_are_a_copy_taken_when_the_metric_improves() -> None:
    s = _state()
    assert s.update(_val(2.0), is_full=True).improved
    weights = {k: v.clone() for k, v in s.model.state_dict().items()}
    with torch.no_grad():
        s.model.weight.add_(1.0)
    assert not s.update(_val(2.5), is_full=True).improved
    assert (s.best_epoch, s.best_metric, s.bad_epochs) == (1, 2.0, 1)
    assert all(torch.equal(s.best_weights[k], weights[k]) for k in weights)
    assert s.update(_val(1.0), is_full=True).improved and s.bad_epochs == 0 and s.best_epoch == 3
    assert torch.equal(s.best_weights["weight"], s.model.weight.detach())


def test_early_stopping_and_newbob_wait_for_the_full_pool() -> None:
    s = _state()
    s.update(_val(1.0), is_full=False)
    for loss in (2.0, 3.0):  # worse, but the curriculum pool is not full yet
        out = s.update(_val(loss), is_full=False)
        assert out.annealed == () and not s.finished
    assert s.bad_epochs == 0 and s.newbob["heads"].metric_values == []
    assert s.update(_val(4.0), is_full=True).annealed == ()  # NewBob's first call never anneals
    out = s.update(_val(5.0), is_full=True)
    assert out.annealed == ("backbone 0.0001 -> 5e-05", "heads 0.001 -> 0.0005")
    assert s.learning_rates() == {"backbone": 5e-05, "heads": 5e-04}
    assert s.finished and s.stopped_early and s.bad_epochs == 2 and s.epochs_done == 5


def test_the_last_epoch_finishes_the_run() -> None:
    s = _state(max_epochs=2)
    s.update(_val(2.0), is_full=True)
    assert not s.finished
    s.update(_val(1.0), is_full=True)
    assert s.finished and not s.stopped_early


def test_a_non_finite_validation_metric_stops_the_run() -> None:
    s = _state()
    with pytest.raises(TrainingError, match="epoch 1: validation metric val_loss is nan; the run diverged"):
        s.update(_val(math.nan), is_full=True)
    assert s.epochs_done == 0


def test_round_trip_stores_the_best_weights_only_when_they_are_not_the_current_ones() -> None:
    s = _state()
    s.update(_val(1.0), is_full=True)
    tensors, meta = s.save_state()
    assert tensors == {} and meta["best_is_current"]  # the model entry holds them
    with torch.no_grad():
        s.model.weight.add_(1.0)
    s.update(_val(2.0), is_full=True)
    s.log_rows.append(_row(2, is_full=True, val_loss=2.0))
    tensors, meta = s.save_state()
    assert tensors.keys() == {"weight", "bias"} and not meta["best_is_current"]

    back = _state()
    back.load_state(tensors, meta)
    assert (back.epochs_done, back.best_epoch, back.best_metric, back.bad_epochs) == (2, 1, 1.0, 1)
    assert back.log_rows == [_row(2, is_full=True, val_loss=2.0)] and not back.finished
    assert all(torch.equal(back.best_weights[k], s.best_weights[k]) for k in tensors)

    current = _state()
    current.update(_val(3.0), is_full=True)
    tensors, meta = current.save_state()
    again = _state()
    with torch.no_grad():
        again.model.weight.mul_(0.0)
    again.load_state(tensors, meta)  # best weights read from the (restored) model
    assert torch.equal(again.best_weights["weight"], again.model.weight.detach())
    with pytest.raises(KeyError, match="best weights missing"):
        again.load_state({}, {**meta, "best_is_current": False})


def test_min_delta_counts_small_gains_as_no_improvement_but_still_keeps_the_best() -> None:
    """Patience 2, min_delta 0.01: 1.0, then 0.995 and 0.9901 are new bests but less than 0.01 below 1.0."""
    s = _state(early_stopping_min_delta=0.01)
    for loss in (1.0, 0.995, 0.9901):
        outcome = s.update(_val(loss), is_full=True)
    assert outcome.improved and s.best_epoch == 3 and s.best_metric == pytest.approx(0.9901)
    assert s.bad_epochs == 2 and s.stopped_early
    s = _state(early_stopping_min_delta=0.01)
    for loss in (1.0, 0.995, 0.985):  # 0.015 below the reference 1.0: the counter resets
        s.update(_val(loss), is_full=True)
    assert s.bad_epochs == 0 and not s.finished and s.stopping_reference == pytest.approx(0.985)


def test_selection_mode_max_keeps_the_highest_value_and_early_stopping_still_wants_a_decrease() -> None:
    s = _state(selection_mode="max", early_stopping_patience=3)
    assert s.update(_val(1.0), is_full=True).improved
    assert not s.update(_val(0.5), is_full=True).improved  # lower: better for early stopping only
    assert s.bad_epochs == 0
    assert s.update(_val(2.0), is_full=True).improved
    assert (s.best_epoch, s.best_metric, s.bad_epochs) == (3, 2.0, 1)
    default = _state()
    default.update(_val(1.0), is_full=True)
    default.update(_val(2.0), is_full=True)
    assert (default.best_epoch, default.best_metric) == (1, 1.0)


def test_the_log_header_is_the_log_rows_fields_in_order(tmp_path: Path) -> None:
    names = [f.name for f in dataclasses.fields(LogRow)]
    outputs.write_log(tmp_path / "empty.csv", LogRow, [])  # before the first epoch: the header alone
    assert (tmp_path / "empty.csv").read_text().strip() == ",".join(names)
    rows = [_row(1, val_loss=0.5, trainable_layers=2), _row(2, is_full=True, seconds=1.25)]
    outputs.write_log(tmp_path / "log.csv", LogRow, rows)
    log = pd.read_csv(tmp_path / "log.csv")
    assert list(log.columns) == names
    assert log["epoch"].tolist() == [1, 2] and log["val_loss"].tolist() == [0.5, 0.0]
    assert log["trainable_layers"].iloc[0] == 2 and pd.isna(log["trainable_layers"].iloc[1])
    # each parameter group's learning rate has its column (named after the group's train key)
    assert set(PARAM_GROUPS.values()) <= set(names)


def test_no_other_module_lists_the_log_columns() -> None:
    """The columns are named once, by LogRow's fields: no literal anywhere in the package re-lists them."""
    names = {f.name for f in dataclasses.fields(LogRow)}
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
            if not isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict) or items is None:
                continue
            listed = {e.value for e in items if isinstance(e, ast.Constant) and e.value in names}
            if len(listed) >= 5:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"log columns listed outside LogRow: {found}"

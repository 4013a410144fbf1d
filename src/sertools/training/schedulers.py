"""Learning-rate scheduling: SpeechBrain's NewBob, reimplemented.

The semantics follow ``speechbrain.nnet.schedulers.NewBobScheduler`` exactly
(docs/training.md, "Learning rates: NewBob"), including its less obvious parts:

* the improvement is relative to the **last** metric, not the best so far;
* the first call never anneals (there is no previous metric);
* ``current_patient`` is not reset on good epochs, so with ``patient = p`` the
  value drops on the (p+1)-th insufficient epoch since the last anneal, whether
  or not those epochs were consecutive.

The metric must be lower-is-better and positive (a loss, ``1 - F1``).
One instance drives one optimizer; the run state
(:class:`sertools.training.state.RunState`) keeps one per parameter group
(backbone, heads), and the loop applies each with :func:`set_lr`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class _HasParamGroups(Protocol):
    param_groups: list[dict[str, Any]]


class NewBob:
    """Anneal a value by ``annealing_factor`` when the metric stops improving.

    >>> s = NewBob(1.0, annealing_factor=0.5)
    >>> s(10.0), s(2.0), s(2.5)
    ((1.0, 1.0), (1.0, 1.0), (1.0, 0.5))
    """

    def __init__(
        self,
        initial_value: float,
        annealing_factor: float = 0.9,
        improvement_threshold: float = 0.0025,
        patient: int = 0,
    ) -> None:
        if not initial_value > 0:
            raise ValueError(f"NewBob: initial_value must be > 0, got {initial_value!r}")
        if not 0 < annealing_factor <= 1:
            raise ValueError(f"NewBob: annealing_factor must be in (0, 1], got {annealing_factor!r}")
        if patient < 0:
            raise ValueError(f"NewBob: patient must be >= 0, got {patient!r}")
        self.value = float(initial_value)
        self.annealing_factor = float(annealing_factor)
        self.improvement_threshold = float(improvement_threshold)
        self.patient = int(patient)
        self.current_patient = int(patient)
        self.metric_values: list[float] = []

    def __call__(self, metric_value: float) -> tuple[float, float]:
        """Record one epoch's metric; return ``(old_value, new_value)``."""
        metric_value = float(metric_value)
        if not math.isfinite(metric_value):
            raise ValueError(f"NewBob: metric must be finite, got {metric_value!r}")
        old = new = self.value
        if self.metric_values:
            prev = self.metric_values[-1]
            improvement = 0.0 if prev == 0 else (prev - metric_value) / prev
            if improvement < self.improvement_threshold:
                if self.current_patient == 0:
                    new = self.value * self.annealing_factor
                    self.current_patient = self.patient
                else:
                    self.current_patient -= 1
        self.metric_values.append(metric_value)
        self.value = new
        return old, new

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (value, metric history, patience counter, hyperparameters)."""
        return {
            "value": self.value,
            "metric_values": list(self.metric_values),
            "current_patient": self.current_patient,
            "annealing_factor": self.annealing_factor,
            "improvement_threshold": self.improvement_threshold,
            "patient": self.patient,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict`."""
        try:
            self.value = float(state["value"])
            self.metric_values = [float(m) for m in state["metric_values"]]
            self.current_patient = int(state["current_patient"])
            self.annealing_factor = float(state.get("annealing_factor", self.annealing_factor))
            self.improvement_threshold = float(state.get("improvement_threshold", self.improvement_threshold))
            self.patient = int(state.get("patient", self.patient))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"NewBob.load_state_dict: malformed state ({e!r})") from None

    def __repr__(self) -> str:
        return (
            f"NewBob(value={self.value:g}, factor={self.annealing_factor:g}, "
            f"threshold={self.improvement_threshold:g}, patient={self.patient}, "
            f"current_patient={self.current_patient}, n_metrics={len(self.metric_values)})"
        )


def set_lr(optimizer: _HasParamGroups | Iterable[dict[str, Any]], lr: float) -> None:
    """Set ``lr`` on every parameter group of ``optimizer`` (or on an iterable of groups)."""
    groups = optimizer.param_groups if hasattr(optimizer, "param_groups") else optimizer
    for group in groups:
        group["lr"] = float(lr)

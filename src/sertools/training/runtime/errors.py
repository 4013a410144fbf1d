"""The error training raises when it cannot go on."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """Training cannot go on (no data, diverging losses, ...)."""

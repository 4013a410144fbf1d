"""The data stage's error."""

from __future__ import annotations


class DataError(ValueError):
    """Label table and manifest disagree, targets cannot be built, or audio is not as promised.

    (A table that breaks its own schema raises the error of its module:
    :class:`sertools.labels.table.LabelTableError`, :class:`sertools.data.manifest_table.ManifestError`.)
    """

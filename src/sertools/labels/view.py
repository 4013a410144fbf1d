"""The label table as the stages after labels see it, whatever its corpus, with its class set.

The label table records its corpus: a CREMA-D table names itself in its parquet
metadata (``sertools.label_table: crema_d``, :mod:`sertools.labels.crema_d_table`),
an MSP-Podcast (or synthetic) table names no kind (:mod:`sertools.labels.table`).
:func:`table_class_set` reads that record and gives the table's
:class:`sertools.classes.ClassSet`; :func:`read` reads either table, validated by
its own module, as one :class:`LabelView`: the frame and its class set.

The stages after labels use MSP-Podcast's column names. A CREMA-D table is
shown under them by one mapping, :data:`CREMA_D_COLUMNS`: its vote counts
``votes`` as ``votes_primary``, its vote distribution ``p_votes`` as
``p_primary`` and its normalised vote entropy ``entropy`` as
``entropy_primary`` (each clip's votes are one label per rater, as MSP-Podcast's
primary votes are). Columns it has not (``p_merged``, arousal/valence/dominance,
the release's columns) are absent, so a variant asking for them stops with the
missing column's name. A CREMA-D view adds :data:`INTENDED_COLUMN`, the class
index of the actor's intended emotion. docs/corpus.md ("How the class set travels") gives the
design.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from sertools.classes import CREMA_D, MSP_PODCAST, ClassSet
from sertools.corpus.crema_d import AUDIO_SUFFIX
from sertools.labels import crema_d_table
from sertools.labels import table as msp_table

#: a CREMA-D label table's column -> the name the stages after labels read it by
CREMA_D_COLUMNS: dict[str, str] = {
    "votes": "votes_primary",
    "p_votes": "p_primary",
    "entropy": "entropy_primary",
}
#: the column of a CREMA-D view holding the class index of the actor's intended emotion (every clip has
#: one), the hard labels that evaluation scores against beside the perceived consensus
INTENDED_COLUMN = "hard_intended"
#: the label table kind (parquet metadata ``sertools.label_table``) -> its class set; no kind: MSP-Podcast
KINDS: dict[bytes, ClassSet] = {crema_d_table.KIND: CREMA_D}


@dataclass(frozen=True, eq=False)
class LabelView:
    """A label table under the stages' column names (``table``) and the class set of its vectors."""

    table: pd.DataFrame
    classes: ClassSet
    #: what follows a ``file_id`` in its audio file's name: "" for MSP-Podcast, whose ``file_id`` is
    #: the file name, ``.wav`` for CREMA-D, whose ``file_id`` is the clip name
    audio_suffix: str = ""


def table_class_set(path: str | Path) -> ClassSet:
    """The class set a label table records (its parquet metadata); MSP-Podcast's when it names no kind.

    A missing or unreadable file is the reader's to report: it is taken as MSP-Podcast's here,
    and :func:`read` then stops with that reader's message.
    """
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # pyarrow raises several types for a missing or broken file
        return MSP_PODCAST
    kind = meta.get(crema_d_table.KIND_KEY)
    if kind is None:
        return MSP_PODCAST
    if kind not in KINDS:
        raise msp_table.LabelTableError(f"{path}: unknown label table kind {kind.decode()!r}")
    return KINDS[kind]


def read(path: str | Path, *, require: Sequence[str] | None = None) -> LabelView:
    """The label table at ``path`` (either corpus), validated, with its class set.

    ``require``: columns (under the stages' names) that must be present; for a
    CREMA-D table they are looked up after the renaming of :data:`CREMA_D_COLUMNS`.
    """
    classes = table_class_set(path)
    if classes is MSP_PODCAST:
        return LabelView(msp_table.read(path, require=require), classes)
    df = _with_intended(crema_d_table.read(path).rename(columns=CREMA_D_COLUMNS))
    missing = [c for c in (require or ()) if c not in df.columns]
    if missing:
        raise crema_d_table.CremaDTableError(
            f"{path}: the CREMA-D label table has no column(s) {missing} (columns: {', '.join(df.columns)})"
        )
    return LabelView(df, classes, AUDIO_SUFFIX)


def read_columns(path: str | Path, columns: Sequence[str]) -> LabelView:
    """Only ``columns`` (under the stages' names) of the label table at ``path``, with its class set."""
    classes = table_class_set(path)
    if classes is MSP_PODCAST:
        return LabelView(msp_table.read(path, columns=list(columns)), classes)
    back = {v: k for k, v in CREMA_D_COLUMNS.items()}
    own = [back.get(c, c) for c in columns]
    df = crema_d_table.read(path, columns=own).rename(columns=CREMA_D_COLUMNS)
    return LabelView(df, classes, AUDIO_SUFFIX)


def _with_intended(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with :data:`INTENDED_COLUMN`: the class index of ``intended`` (a CREMA-D class code)."""
    index = pd.Index(CREMA_D.codes).get_indexer(pd.Index(df["intended"]))
    return df.assign(**{INTENDED_COLUMN: index.astype("int64")})

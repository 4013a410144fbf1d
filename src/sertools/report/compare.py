"""Compare two result tables row by row: does each difference lie within the CIs?

``sertools compare A B`` reads two ``main.csv`` files (or two of the other tables
in the same long form: ``entropy_strata.csv``, ``ccc.csv``) and, for every row
present in both (same ``variant``, ``model``, ``split``, ``metric``: every column
that is not a value or a count), reports both means, their CIs, the difference
``B - A`` and whether it lies within the CIs. A typical use: ``A`` is the
README's run, ``B`` one's own run of the same command on another machine.

"Within the CIs" means *each mean lies inside the other's confidence
interval*: ``A.ci_low <= B.mean <= A.ci_high`` and ``B.ci_low <= A.mean <=
B.ci_high``. It is symmetric in A and B, and neither table's interval rules
out the other's value, so a reader who takes either table's intervals at face
value draws the same conclusions from the other. Mere overlap of the two
intervals would be too lax: it lets the means differ by the sum of both
half-widths, about twice the uncertainty either table states. It is no
significance test: both runs score the same test utterances, and the CIs
(percentile bootstrap over those utterances, docs/metrics.md) say how much a
number would move with another sample of utterances; a difference inside
them is smaller than the uncertainty the table already admits.

A row is also *outside* when its metric is undefined (an empty field) in one
file only, when one of the two CIs is missing, or when ``n_seeds`` or
``n_utterances`` differ (the two numbers are then not of the same thing).
Two equal means are *identical* whatever the CIs. Rows found in one file only
are listed but do not count.

:func:`run` returns the Markdown report and the exit status: 0 when every
compared metric is within the CIs, 1 otherwise; bad input raises
:class:`CompareError` (the command line's exit status 2).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "COUNT_FIELDS",
    "DEFINITION",
    "REQUIRED",
    "VALUE_FIELDS",
    "CompareError",
    "Compared",
    "Table",
    "compare",
    "markdown",
    "read_table",
    "run",
]

#: the value columns of a long-form table (what is compared, not what identifies a row)
VALUE_FIELDS: tuple[str, ...] = ("mean", "sd_seeds", "ci_low", "ci_high")
#: counts that must agree for two rows to be comparable
COUNT_FIELDS: tuple[str, ...] = ("n_seeds", "n_utterances")
#: the columns a table needs to be compared
REQUIRED: tuple[str, ...] = ("mean", "ci_low", "ci_high")

DEFINITION = (
    "Within the CIs: each mean lies inside the other's confidence interval "
    "(A.ci_low <= B.mean <= A.ci_high and B.ci_low <= A.mean <= B.ci_high)."
)

Row = Mapping[str, str]
Key = tuple[str, ...]


class CompareError(ValueError):
    """An input file is missing, not a long-form results table, or unlike the other."""


@dataclass(frozen=True)
class Table:
    path: Path
    columns: tuple[str, ...]
    rows: dict[Key, Row]

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in VALUE_FIELDS + COUNT_FIELDS)


@dataclass(frozen=True)
class Compared:
    """One metric of one row in both files."""

    key: Key
    a: Row
    b: Row
    status: str  # "identical", "within" or "outside"
    note: str = ""

    @property
    def diff(self) -> float | None:
        a, b = _float(self.a["mean"]), _float(self.b["mean"])
        return None if a is None or b is None else b - a


def _float(text: str) -> float | None:
    """A field as a number; an empty field (NaN as the tables write it) is None."""
    if not text.strip():
        return None
    value = float(text)
    return None if math.isnan(value) else value


def read_table(path: str | Path) -> Table:
    """A long-form table keyed by its identifying columns; :class:`CompareError` names the file."""
    path = Path(path)
    if not path.is_file():
        raise CompareError(f"{path}: no such file")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, restval="")  # a short line: its missing fields are empty
        columns = tuple(reader.fieldnames or ())
        if not columns:
            raise CompareError(f"{path}: empty file, not a results table")
        lacking = [c for c in REQUIRED if c not in columns]
        if lacking:
            raise CompareError(f"{path}: not a results table like main.csv: no column {', '.join(lacking)}")
        table = Table(path, columns, {})
        for row in reader:
            key = tuple(row[c] for c in table.key_columns)
            if key in table.rows:
                raise CompareError(f"{path}: line {reader.line_num}: row {'/'.join(key)} appears twice")
            for field in (*VALUE_FIELDS, *COUNT_FIELDS):
                if field in row:
                    try:
                        _float(row[field] or "")
                    except ValueError:
                        raise CompareError(
                            f"{path}: line {reader.line_num}: {field} {row[field]!r} is not a number"
                        ) from None
            table.rows[key] = row
    if not table.rows:
        raise CompareError(f"{path}: no rows")
    return table


def _judge(a: Row, b: Row) -> tuple[str, str]:
    """(status, note) of one metric in both files."""
    counts = [f"{c} {a[c]} vs {b[c]}" for c in COUNT_FIELDS if c in a and a[c] != b[c]]
    ma, mb = _float(a["mean"]), _float(b["mean"])
    if ma is None or mb is None:
        if ma is None and mb is None:
            return ("outside", "; ".join(counts)) if counts else ("identical", "undefined in both")
        return "outside", "; ".join([f"undefined in {'A' if ma is None else 'B'}", *counts])
    if counts:
        return "outside", "; ".join(counts)
    if ma == mb:
        return "identical", ""
    ci_a = (_float(a["ci_low"]), _float(a["ci_high"]))
    ci_b = (_float(b["ci_low"]), _float(b["ci_high"]))
    (la, ha), (lb, hb) = ci_a, ci_b
    if la is None or ha is None or lb is None or hb is None:
        missing = [name for name, ci in (("A", ci_a), ("B", ci_b)) if None in ci]
        return "outside", f"no CI in {' and '.join(missing)}"
    b_in_a, a_in_b = la <= mb <= ha, lb <= ma <= hb
    if b_in_a and a_in_b:
        return "within", ""
    if not b_in_a and not a_in_b:
        return "outside", "each outside the other's CI"
    return "outside", "B outside A's CI" if not b_in_a else "A outside B's CI"


def compare(a: Table, b: Table) -> tuple[list[Compared], list[Key], list[Key]]:
    """The rows present in both (in A's order), and the keys found only in A and only in B."""
    if a.columns != b.columns:
        raise CompareError(
            f"{b.path}: columns differ from {a.path}: {','.join(b.columns)} vs {','.join(a.columns)}"
        )
    common = [k for k in a.rows if k in b.rows]
    if not common:
        raise CompareError(
            f"{a.path} and {b.path} have no row in common (rows are matched on {', '.join(a.key_columns)})"
        )
    results = [Compared(k, a.rows[k], b.rows[k], *_judge(a.rows[k], b.rows[k])) for k in common]
    return results, [k for k in a.rows if k not in b.rows], [k for k in b.rows if k not in a.rows]


def _ci(row: Row) -> str:
    lo, hi = row["ci_low"], row["ci_high"]
    return f"[{lo}, {hi}]" if lo or hi else ""


_SHOWN = {"identical": "identical", "within": "yes", "outside": "**no**"}


def markdown(
    a: Table, b: Table, results: Sequence[Compared], only_a: Sequence[Key], only_b: Sequence[Key]
) -> str:
    """The report: the two files, the definition, one table row per metric, the summary."""
    keys = a.key_columns
    header = [*keys, "A", "A CI", "B", "B CI", "B - A", "within CIs", "note"]
    lines = [
        f"# sertools compare: A = `{a.path}`, B = `{b.path}`",
        "",
        DEFINITION + " Equal means are identical whatever the CIs; differing n_seeds or "
        "n_utterances, a metric undefined in one file or a missing CI count as outside.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for r in results:
        diff = "" if r.diff is None else f"{r.diff:+.6f}"
        cells = [*r.key, r.a["mean"], _ci(r.a), r.b["mean"], _ci(r.b), diff, _SHOWN[r.status], r.note]
        lines.append("| " + " | ".join(cells) + " |")
    n = {s: sum(r.status == s for r in results) for s in _SHOWN}
    lines += [
        "",
        f"{len(results)} metrics compared, {n['outside']} outside the CIs "
        f"({n['identical']} identical, {n['within']} different but within the CIs).",
    ]
    for name, only in (("A", only_a), ("B", only_b)):
        if only:
            shown = ", ".join("/".join(k) for k in only)
            lines.append(f"{len(only)} rows only in {name} (not compared): {shown}.")
    return "\n".join(lines) + "\n"


def run(a_path: str | Path, b_path: str | Path, out: str | Path | None = None) -> tuple[str, int]:
    """The report comparing ``a_path`` with ``b_path`` (also written to ``out``) and the exit status.

    The status is 0 when every metric in both files is within the CIs, 1 when
    any is outside; :class:`CompareError` on bad input.
    """
    a, b = read_table(a_path), read_table(b_path)
    results, only_a, only_b = compare(a, b)
    text = markdown(a, b, results, only_a, only_b)
    if out is not None:
        Path(out).write_text(text, encoding="utf-8")
    return text, int(any(r.status == "outside" for r in results))

"""`sertools compare A B` (sertools.report.compare) on small main.csv files written by the
tables' own row builder and CSV writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from sertools.cli import main
from sertools.report import compare, render, table_rows

#: (variant, split, metric) -> mean; the CI is [mean - 0.05, mean + 0.04]
BASE = {
    ("hard_ce", "Test1", "macro_f1"): 0.30,
    ("hard_ce", "Test1", "jsd_primary"): 0.20,
    ("hard_ce", "Test2", "macro_f1"): 0.25,
    ("dist_kl", "Test1", "macro_f1"): 0.32,
    ("dist_kl", "Test1", "jsd_primary"): 0.18,
    ("dist_kl", "Test2", "macro_f1"): 0.27,
}


def _entry(mean: float | None, ci: tuple[float, float] | None = None, n: int = 40) -> dict:
    if mean is None:
        return {"mean": None, "sd_seeds": None, "ci_low": None, "ci_high": None, "per_seed": [None], "n": n}
    lo, hi = ci if ci is not None else (mean - 0.05, mean + 0.04)
    return {"mean": mean, "sd_seeds": 0.01, "ci_low": lo, "ci_high": hi, "per_seed": [mean, mean], "n": n}


def write_main(
    path: Path,
    means: dict[tuple[str, str, str], float | None] = BASE,
    cis: dict[tuple[str, str, str], tuple[float, float]] | None = None,
    n_utterances: int = 40,
) -> Path:
    """A main.csv as the tables stage writes it (table_rows.main_rows, render.csv_text)."""
    docs: dict[str, dict] = {}
    for (variant, split, metric), mean in means.items():
        doc = docs.setdefault(variant, {"model": "wavlm-base", "splits": {}})
        block = doc["splits"].setdefault(
            split, {"n_seeds": 2, "n_utterances": {"all": n_utterances, "hard": 30}, "metrics": {}}
        )
        ci = (cis or {}).get((variant, split, metric))
        block["metrics"][metric] = _entry(mean, ci, n_utterances)
    rows = table_rows.main_rows(docs, list(docs))
    path.write_text(render.csv_text(table_rows.MAIN_COLUMNS, rows))
    return path


def _statuses(a: Path, b: Path) -> dict[tuple[str, ...], tuple[str, str]]:
    results, _, _ = compare.compare(compare.read_table(a), compare.read_table(b))
    return {r.key: (r.status, r.note) for r in results}


def test_the_same_table_is_identical_everywhere(tmp_path: Path) -> None:
    a = write_main(tmp_path / "a.csv")
    text, status = compare.run(a, a)
    assert status == 0
    assert "6 metrics compared, 0 outside the CIs (6 identical, 0 different but within the CIs)." in text
    assert compare.DEFINITION in text
    assert "| hard_ce | wavlm-base | Test1 | macro_f1 | 0.300000 | [0.250000, 0.340000] | 0.300000 |" in text


def test_small_differences_are_within_large_ones_outside(tmp_path: Path) -> None:
    a = write_main(tmp_path / "a.csv")
    moved = dict(BASE)
    moved[("hard_ce", "Test1", "macro_f1")] = 0.31  # inside both CIs
    moved[("dist_kl", "Test2", "macro_f1")] = 0.35  # above A's CI [0.22, 0.31]
    b = write_main(tmp_path / "b.csv", moved)
    got = _statuses(a, b)
    assert got[("hard_ce", "wavlm-base", "Test1", "macro_f1")] == ("within", "")
    assert got[("dist_kl", "wavlm-base", "Test2", "macro_f1")] == ("outside", "each outside the other's CI")
    assert sum(s == "identical" for s, _ in got.values()) == 4
    text, status = compare.run(a, b, tmp_path / "report.md")
    assert status == 1
    assert "| 0.300000 | [0.250000, 0.340000] | 0.310000 | [0.260000, 0.350000] | +0.010000 | yes |" in text
    assert "| +0.080000 | **no** | each outside the other's CI |" in text
    assert "6 metrics compared, 1 outside the CIs (4 identical, 1 different but within the CIs)." in text
    assert (tmp_path / "report.md").read_text() == text


def test_overlapping_cis_are_not_enough(tmp_path: Path) -> None:
    """A's CI [0.25, 0.34] and B's [0.30, 0.40] overlap, but B's mean 0.36 is outside A's CI."""
    key = ("hard_ce", "Test1", "macro_f1")
    a = write_main(tmp_path / "a.csv")
    b = write_main(tmp_path / "b.csv", {**BASE, key: 0.36}, {key: (0.30, 0.40)})
    assert _statuses(a, b)[("hard_ce", "wavlm-base", "Test1", "macro_f1")] == ("outside", "B outside A's CI")
    # the verdict does not depend on which file is A
    assert _statuses(b, a)[("hard_ce", "wavlm-base", "Test1", "macro_f1")] == ("outside", "A outside B's CI")


def test_undefined_metrics_and_different_counts(tmp_path: Path) -> None:
    k1, k2 = ("hard_ce", "Test1", "macro_f1"), ("hard_ce", "Test2", "macro_f1")
    a = write_main(tmp_path / "a.csv", {**BASE, k2: None})
    b = write_main(tmp_path / "b.csv", {**BASE, k1: None, k2: None})
    got = _statuses(a, b)
    assert got[("hard_ce", "wavlm-base", "Test1", "macro_f1")] == ("outside", "undefined in B")
    assert got[("hard_ce", "wavlm-base", "Test2", "macro_f1")] == ("identical", "undefined in both")
    c = write_main(tmp_path / "c.csv", n_utterances=38)
    got = _statuses(tmp_path / "c.csv", write_main(tmp_path / "d.csv"))
    assert set(got.values()) == {("outside", "n_utterances 38 vs 40")}
    assert compare.run(c, tmp_path / "d.csv")[1] == 1


def test_rows_in_one_file_only_are_listed_not_counted(tmp_path: Path) -> None:
    a = write_main(tmp_path / "a.csv")
    b = write_main(tmp_path / "b.csv", {k: v for k, v in BASE.items() if k[0] == "hard_ce"})
    text, status = compare.run(a, b)
    assert status == 0
    assert "3 metrics compared, 0 outside the CIs" in text
    assert "3 rows only in A (not compared): dist_kl/wavlm-base/Test1/macro_f1, " in text
    assert "only in B" not in text


def test_cli_prints_the_report_and_exits_1_when_outside(tmp_path: Path, capsys) -> None:
    a = write_main(tmp_path / "a.csv")
    assert main(["compare", str(a), str(a)]) == 0
    assert "0 outside the CIs" in capsys.readouterr().out
    b = write_main(tmp_path / "b.csv", {**BASE, ("hard_ce", "Test1", "jsd_primary"): 0.5})
    out = tmp_path / "r.md"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 1
    assert capsys.readouterr().out == out.read_text()


def _bad(tmp_path: Path) -> dict[str, tuple[Path, Path, str]]:
    """name -> (A, B, text the one-line error contains)."""
    a = write_main(tmp_path / "a.csv")
    fewer = tmp_path / "fewer.csv"
    fewer.write_text("\n".join(line.rsplit(",", 1)[0] for line in a.read_text().splitlines()) + "\n")
    other = write_main(tmp_path / "other.csv", {("prior", "Test1", "ece"): 0.1})
    dup = tmp_path / "dup.csv"
    dup.write_text(a.read_text() + a.read_text().splitlines()[1] + "\n")
    word = tmp_path / "word.csv"
    word.write_text(a.read_text().replace("0.300000", "high", 1))
    notable = tmp_path / "labels.csv"
    notable.write_text("split,statistic,value\nTest1,kappa,0.2\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    return {
        "missing": (a, tmp_path / "nope.csv", f"{tmp_path / 'nope.csv'}: no such file"),
        "columns": (a, fewer, f"{fewer}: columns differ from {a}"),
        "no common row": (a, other, f"{a} and {other} have no row in common"),
        "duplicate": (dup, a, f"{dup}: line 8: row hard_ce/wavlm-base/Test1/macro_f1 appears twice"),
        "not a number": (a, word, f"{word}: line 2: mean 'high' is not a number"),
        "not a table": (notable, a, f"{notable}: not a results table like main.csv: no column mean"),
        "empty": (a, empty, f"{empty}: empty file"),
    }


def test_bad_input_is_one_line_naming_the_file_and_exit_2(tmp_path: Path, capsys) -> None:
    for name, (a, b, message) in _bad(tmp_path).items():
        with pytest.raises(compare.CompareError) as info:
            compare.run(a, b)
        assert message in str(info.value), name
        assert main(["compare", str(a), str(b)]) == 2, name
        captured = capsys.readouterr()
        assert captured.out == "", name
        assert captured.err.count("\n") == 1 and captured.err.startswith("sertools compare: error: "), name
        assert message in captured.err, name

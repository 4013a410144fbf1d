"""Tests for sertools.report.render: number formatting, CSV, Markdown and LaTeX tables."""

from __future__ import annotations

from sertools.report.render import WideTable, best_flags, csv_text, fmt_float, fmt_int, interval, tex_escape


def test_number_formatting() -> None:
    assert fmt_float(0.1234567) == "0.123457"
    assert fmt_float(-0.0000001) == "0.000000"  # never "-0.000000"
    assert fmt_float(None) == fmt_float(float("nan")) == fmt_float(True) == ""
    assert fmt_float(2, 2) == "2.00"
    assert fmt_int(None) == "" and fmt_int(3.0) == "3"
    assert interval("0.5", "0.4", "0.6") == "0.500 [0.400, 0.600]"
    assert interval("0.5", "", "") == "0.500" and interval("", "1", "2") == "–"


def test_csv_and_tex_escape() -> None:
    assert csv_text(["a", "b"], [{"a": "x,y", "b": "1"}]) == 'a,b\n"x,y",1\n'
    assert tex_escape("a_b & 50% Δ") == r"a\_b \& 50\% $\Delta$"


def test_best_flags_per_column() -> None:
    flags = best_flags([["0.1", "0.5"], ["0.2", ""], ["0.2", "0.4"]], [True, False])
    assert flags == [[False, False], [True, False], [True, True]]
    assert best_flags([["0.1"]], [True]) == [[False]]  # one value: nothing to compare


def test_wide_table_markdown_and_latex() -> None:
    wide = WideTable(["Variant"], [("Test1", ["F1", "JSD"])], [(["a_b"], ["0.1", "–"])], [[True, True]])
    md = wide.markdown("Caption.")
    assert md == "| Variant | Test1 F1 | Test1 JSD |\n|---|---|---|\n| a_b | **0.1** | – |\n\nCaption.\n"
    tex = wide.latex("Cap", "tab:x")
    assert "\\multicolumn{2}{c}{Test1}" in tex and "\\cmidrule(lr){2-3}" in tex
    assert "a\\_b & \\textbf{0.1} & -- \\\\" in tex
    plain = WideTable(["S"], [("", ["x"])], [(["r"], ["1"])])
    assert plain.markdown().splitlines()[0] == "| S | x |"
    assert "multicolumn" not in plain.latex("c", "tab:y")

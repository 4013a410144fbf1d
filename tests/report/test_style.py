"""Tests for sertools.report.style: palette, variant styles and deterministic saving."""

from __future__ import annotations

from pathlib import Path

from fakedocs import METRICS

from sertools.report import plots, style


def test_output_bytes_are_deterministic(tmp_path: Path) -> None:
    a = plots.plot_metric_by_stratum(METRICS, "jsd_primary", tmp_path / "a" / "fig.png")
    b = plots.plot_metric_by_stratum(METRICS, "jsd_primary", tmp_path / "b" / "fig")
    for pa, pb in zip(a, b, strict=True):
        assert pa.name == pb.name
        assert pa.read_bytes() == pb.read_bytes()
    assert b"CreationDate" not in a[1].read_bytes()


def test_variant_styles_are_distinct_and_stable() -> None:
    names = [f"v{i}" for i in range(9)]
    st = style.variant_styles(names)
    assert st == style.variant_styles(names)
    assert len({(s["color"], s["marker"]) for s in st.values()}) == len(names)
    assert st["v0"]["color"] == style.OKABE_ITO[0]


def test_small_helpers() -> None:
    assert style.short_stratum("[0.333, 0.667)") == "[0.33, 0.67)"
    assert style.short_stratum("all") == "all"
    assert list(style.offsets(1)) == [0.0]
    assert list(style.offsets(3, 0.4)) == [-0.2, 0.0, 0.2]

"""The look of every figure, and how figures are saved.

Figures are built on :class:`matplotlib.figure.Figure` (Agg canvas) inside
:func:`matplotlib.rc_context` with :data:`RC`, so nothing global changes.
:func:`save_figure` writes ``<stem>.png`` (150 dpi) and ``<stem>.pdf``
atomically; the bytes are deterministic: no date in either file and no
software stamp in the PNG.

Colours are the Okabe-Ito colour-blind-safe palette; variants also differ by
marker, so the figures survive greyscale printing. Humans are black, the
latent truth grey.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

from sertools.io import atomic_path

__all__ = [
    "HUMAN_COLOUR",
    "OKABE_ITO",
    "RC",
    "TRUTH_COLOUR",
    "PlotError",
    "legend_below",
    "new_figure",
    "offsets",
    "save_figure",
    "short_stratum",
    "variant_styles",
    "yerr",
]

PathLike = str | Path

# Embedding a font in a PDF subsets it with fontTools, which logs every table it
# touches at INFO (about 100 lines per PDF) into the stage's log.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

# Okabe & Ito (2008), ordered so the first colours are the most distinct on white;
# yellow comes last (weak contrast for thin lines).
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
)
HUMAN_COLOUR = "#000000"
TRUTH_COLOUR = "#8C8C8C"
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
RC: dict[RcKeyType, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "pdf.fonttype": 42,  # embed TrueType: text stays selectable and editable
    "svg.hashsalt": "sertools",
    "savefig.dpi": 150,
}


class PlotError(ValueError):
    """The data handed to a plotting function cannot be drawn."""


def save_figure(fig: Figure, out: PathLike, dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` (atomically, no dates) and return the paths.

    ``out`` may be the stem or a path ending in ``.png``/``.pdf``.
    """
    stem = Path(out)
    if stem.suffix.lower() in (".png", ".pdf"):
        stem = stem.with_suffix("")
    paths = []
    for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "ModDate": None})):
        dest = stem.with_name(f"{stem.name}.{ext}")
        with atomic_path(dest) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi, metadata=meta)
        paths.append(dest)
    return paths


def variant_styles(variants: Sequence[str]) -> dict[str, dict[str, str]]:
    """Colour and marker per variant, in the given order (stable across figures)."""
    return {
        v: {"color": OKABE_ITO[i % len(OKABE_ITO)], "marker": _MARKERS[i % len(_MARKERS)]}
        for i, v in enumerate(variants)
    }


def new_figure(w: float, h: float) -> Figure:
    """A figure of ``w`` x ``h`` inches with constrained layout (not registered with pyplot)."""
    return Figure(figsize=(w, h), layout="constrained")


def short_stratum(name: str) -> str:
    """``[0.333, 0.667)`` -> ``[0.33, 0.67)`` for tick labels."""
    try:
        lo, hi = name[1:-1].split(",")
        return f"{name[0]}{float(lo):.2f}, {float(hi):.2f}{name[-1]}"
    except ValueError:
        return name


def yerr(means: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Asymmetric error bars; 0 where the CI is missing."""
    err = np.vstack([means - lo, hi - means])
    return np.where(np.isfinite(err), np.clip(err, 0, None), 0.0)


def offsets(n: int, width: float = 0.7) -> np.ndarray:
    """x offsets of ``n`` series side by side within ``width``."""
    if n == 1:
        return np.zeros(1)
    return np.linspace(-width / 2, width / 2, n)


def legend_below(fig: Figure, handles: Sequence[Any], labels: Sequence[str], ncol: int | None = None) -> None:
    """One legend for the figure, under the axes, without a frame."""
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=ncol or min(len(labels), 4),
        frameon=False,
    )

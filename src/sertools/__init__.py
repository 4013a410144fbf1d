"""sertools: speech emotion recognition from annotator vote distributions.

The package is import-light: ``import sertools`` pulls in neither torch nor
pandas, so Snakefiles and the CLI start fast. :func:`load_model` (a trained
model, exported by ``sertools export``, on any audio; docs/inference.md) is
imported, with torch, on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_model"]


def __getattr__(name: str) -> Any:
    if name == "load_model":
        from sertools.inference.infer import load_model

        return load_model
    raise AttributeError(f"module 'sertools' has no attribute {name!r}")

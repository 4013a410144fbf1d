"""Check that the installed stack loads, before any workflow starts.

``make venv`` runs ``python -m sertools.envcheck`` right after installing from
``uv.lock``. A broken environment (for example a torchaudio wheel built against
another torch release, whose extension fails with an undefined symbol) then
stops the install with one line naming the package, instead of letting the
corpus, label and manifest stages succeed and every training job die later.

Each check imports one package and touches the part the workflow uses
(torchaudio's compiled extension and resampler, ``transformers.WavLMModel``,
libsndfile behind soundfile, openSMILE's engine and its eGeMAPS configuration,
the SLURM executor plugin).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def _torch() -> str:
    import torch

    torch.zeros(2, 2) @ torch.ones(2, 2)
    return torch.__version__


def _torchaudio() -> str:
    import torch
    import torchaudio
    import torchaudio.functional as F
    from torchaudio import _extension

    if not _extension._IS_TORCHAUDIO_EXT_AVAILABLE:
        raise ImportError("its compiled extension (libtorchaudio) did not load")
    base = torch.__version__.split("+")[0]
    own = torchaudio.__version__.split("+")[0]
    if base != own:
        raise ImportError(f"torchaudio {own} is installed beside torch {base}; they must be the same release")
    F.resample(torch.zeros(1, 160), 16000, 8000)
    return torchaudio.__version__


def _transformers() -> str:
    import transformers
    from transformers import WavLMConfig, WavLMModel  # noqa: F401

    return transformers.__version__


def _soundfile() -> str:
    import soundfile

    return f"{soundfile.__version__} (libsndfile {soundfile.__libsndfile_version__})"


def _opensmile() -> str:
    import numpy as np
    import opensmile

    # builds the eGeMAPSv02 configuration shipped in the wheel and runs libSMILEapi once
    smile = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals
    )
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(8000, dtype=np.float32) / 16000)
    shape = smile.process_signal(tone.astype(np.float32), 16000).shape
    if shape != (1, 88):
        raise ImportError(f"eGeMAPSv02 functionals came out with shape {shape}, expected (1, 88)")
    return opensmile.__version__


def _plain(module: str) -> Callable[[], str]:
    def check() -> str:
        mod = importlib.import_module(module)
        return str(getattr(mod, "__version__", "ok"))

    return check


#: (package as installed, check). Order: the fragile compiled stack first.
CHECKS: list[tuple[str, Callable[[], str]]] = [
    ("torch", _torch),
    ("torchaudio", _torchaudio),
    ("transformers", _transformers),
    ("soundfile", _soundfile),
    ("opensmile", _opensmile),
    ("safetensors", _plain("safetensors.torch")),
    ("numpy", _plain("numpy")),
    ("pandas", _plain("pandas")),
    ("pyarrow", _plain("pyarrow")),
    ("scipy", _plain("scipy.stats")),
    ("matplotlib", _plain("matplotlib.pyplot")),
    ("snakemake", _plain("snakemake.api")),
    ("snakemake-executor-plugin-slurm", _plain("snakemake_executor_plugin_slurm")),
]


def failures() -> list[str]:
    """One line per package that does not load: ``<package>: <error>``."""
    out = []
    for package, check in CHECKS:
        try:
            check()
        except Exception as exc:  # any failure to load is the message we want
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            out.append(f"{package}: {type(exc).__name__}: {first}")
    return out


def main() -> int:
    bad = failures()
    for line in bad:
        print(f"sertools environment check failed: {line}", file=sys.stderr)
    if bad:
        print("Reinstall from the lock (make venv), or see README.md, 'Development'.", file=sys.stderr)
        return 1
    print(f"sertools environment check: {len(CHECKS)} packages load (python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

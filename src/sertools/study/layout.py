"""Where the study's files live under ``results/study/`` (one definition for the rules and stages).

Patterns keep Snakemake's wildcards (``{setting}``, ``{seed}``) when called
with their defaults, and give concrete paths when called with values::

    results/study/corpus/                      the corpus with audio (default raters)
    results/study/manifest/manifest.parquet    its audio manifest
    results/study/features/<upstream>/<split>.safetensors
    results/study/settings/<setting>/corpus/   the setting's votes (labels only)
    results/study/settings/<setting>/labels/labels.parquet
    results/study/settings/<setting>/train/<variant>/seed<seed>/...
    results/study/settings/<setting>/predictions/<variant>/seed<seed>/<split>.parquet
    results/study/settings/<setting>/evaluation/...   scores, summary
    results/study/tables/, results/study/figures/      the study's report
"""

from __future__ import annotations

from collections.abc import Sequence

from sertools.evaluation.reference import REFERENCES
from sertools.training.runtime.outputs import outputs_in

__all__ = [
    "CORPUS",
    "FEATURES",
    "FIGURES",
    "MANIFEST",
    "ROOT",
    "TABLES",
    "evaluation_outputs",
    "fit_outputs",
    "prediction",
    "setting_dir",
]

ROOT = "results/study"
CORPUS = f"{ROOT}/corpus"
MANIFEST = f"{ROOT}/manifest"
FEATURES = f"{ROOT}/features"
TABLES = f"{ROOT}/tables"
FIGURES = f"{ROOT}/figures"


def setting_dir(setting: str = "{setting}") -> str:
    return f"{ROOT}/settings/{setting}"


def prediction(variant: str, split: str, setting: str = "{setting}", seed: object = "{seed}") -> str:
    return f"{setting_dir(setting)}/predictions/{variant}/seed{seed}/{split}.parquet"


def fit_outputs(
    variants: Sequence[str], splits: Sequence[str], setting: str = "{setting}", seed: object = "{seed}"
) -> dict[str, str]:
    """The outputs of one (setting, seed) fit job: every variant's run files and prediction dumps.

    Keys: ``<variant>.<run output>`` (``best``, ``log_csv``, ``run``) and
    ``<variant>.pred.<split>``.
    """
    out: dict[str, str] = {}
    for v in variants:
        run_dir = f"{setting_dir(setting)}/train/{v}/seed{seed}"
        out.update({f"{v}.{key}": str(path) for key, path in outputs_in(run_dir).items()})
        out.update({f"{v}.pred.{s}": prediction(v, s, setting, seed) for s in splits})
    return out


def evaluation_outputs(splits: Sequence[str], setting: str = "{setting}") -> dict[str, str]:
    """The outputs of one setting's evaluation job.

    ``reference.<row>.<split>`` (the reference rows' dumps, stored as seed 0),
    ``scores`` (every row's scores and Other-class shares and each variant
    minus the baseline, seeds resampled: :mod:`sertools.study.scores`) and
    ``summary`` (the setting's votes against the truth and the raters'
    mixture).
    """
    d = f"{setting_dir(setting)}/evaluation"
    out = {f"reference.{r}.{s}": prediction(r, s, setting, 0) for r in REFERENCES for s in splits}
    out["scores"] = f"{d}/scores.json"
    out["summary"] = f"{d}/summary.json"
    return out

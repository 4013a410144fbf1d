# Helpers shared by the rule files - config validation, paths, input functions.
# This is the only Python in the rule files; all stage logic lives in src/sertools.

import importlib
import os
import re
from pathlib import Path

from sertools import architecture as sertools_architecture
from sertools import classes as sertools_classes
from sertools import check as sertools_check
from sertools import config as sertools_config
from sertools import deps as sertools_deps
from sertools import splits as sertools_splits
from sertools.corpus.synthetic import writers as synth_files
from sertools.evaluation import reference as sertools_reference
from sertools.features import store as sertools_store
from sertools.report import figures as sertools_figures
from sertools.report import shown as sertools_shown
from sertools.report import tables as sertools_tables

# Validate before anything runs: unknown keys and wrong types stop here with a
# message naming the key; every absent key gets its schema default. Keys are
# sorted so that reordering a config file never looks like a params change.
try:
    _resolved = sertools_config.canonical(sertools_config.resolve(config))
except sertools_config.ConfigError as _e:
    raise ValueError(str(_e)) from None
config.clear()
config.update(_resolved)
# The preflight checks that need neither a GPU nor the weights' hash (sertools.check): a bad
# corpus or backbone path stops here, before any job is submitted (`sertools check` runs them all).
try:
    sertools_check.require(config)
except sertools_check.PreflightError as _e:
    raise ValueError(str(_e)) from None

SYNTH_DIR = "resources/synthetic"
FEATURES_DIR = "results/features"
# the paper's published Table 2 (reference data shipped with the repository), relative to
# the working directory: an absolute path would make a moved checkout look like new input
PUBLISHED_TABLE2 = os.path.relpath(
    Path(workflow.basedir) / "docs" / "paper_release" / "table2.csv", Path.cwd()
)
# One software environment for all rules (`--sdm conda`) - the same packages as
# pyproject.toml, plus this repository installed with pip.
CONDA_ENV = "../../environment.yml"


CREMA_D = config["corpus"]["source"] == "crema_d"


def corpus_dir():
    """Directory of the corpus: MSP-Podcast layout (synthetic or real) or a CREMA-D download."""
    if config["corpus"]["source"] == "synthetic":
        return SYNTH_DIR
    if CREMA_D:
        return config["corpus"][
            "root"
        ]  # sertools.check.require has looked at its files
    from sertools.corpus.msp import LABEL_DIRS, find_entry

    root = Path(config["corpus"]["root"])
    # Labels/, labels/ (1.9) or label/ (1.6), in any case
    if find_entry(root, LABEL_DIRS, directory=True) is None:
        raise ValueError(
            f"corpus.root {str(root)!r} does not look like an MSP-Podcast release (no Labels/ directory)"
        )
    return str(root)


def corpus_label_files(wildcards):
    """The consensus and detailed label files the label stage reads (labels.detailed_source picks the latter)."""
    source = config["labels"]["detailed_source"]
    if config["corpus"]["source"] == "synthetic":
        detailed = (
            synth_files.LABELS_TXT if source == "labels_txt" else synth_files.DETAILED
        )
        return {
            "consensus": f"{SYNTH_DIR}/{synth_files.CONSENSUS}",
            "detailed": f"{SYNTH_DIR}/{detailed}",
        }
    if CREMA_D:
        from sertools.corpus.crema_d import crema_d_files

        return {k: str(v) for k, v in crema_d_files(corpus_dir()).items()}
    from sertools.corpus.msp import label_files

    return {k: str(v) for k, v in label_files(corpus_dir(), source).items()}


def corpus_audio_dir():
    if CREMA_D:
        from sertools.corpus.crema_d import AUDIO_DIR

        return f"{corpus_dir()}/{AUDIO_DIR}"
    return f"{corpus_dir()}/{synth_files.AUDIO_DIR}"


# the label stage's CREMA-D settings (none for MSP-Podcast, whose params stay as they were)
LABELS_CORPUS_PARAMS = {"crema_d_settings": config["crema_d"]} if CREMA_D else {}


def code_version(rule):
    """The fingerprint of the library code that decides a rule's output, as a positional param.

    Snakemake does not follow imports: sertools.deps hashes the syntax trees of the
    stage module behind the rule and of every sertools module it imports (training
    hashes the same), so a change to what that code does reruns the rule and
    everything after it, while docstrings, comments, formatting and a moved checkout
    rerun nothing. Positional, so that `**snakemake.params` in a script leaves it out.
    """
    fingerprint = sertools_deps.code_fingerprint(sertools_architecture.STAGES[rule])
    return f"sertools-code:{fingerprint}"


VARIANTS = list(config["variants"])
SEEDS = list(config["seeds"])
EVAL_SPLITS = list(config["evaluation"]["splits"])


# ---- fine-tuned and frozen-upstream variants (model.mode, per variant)
VARIANT_MODELS = {v: sertools_config.variant_model(config, v) for v in VARIANTS}
FROZEN = [v for v in VARIANTS if VARIANT_MODELS[v]["mode"] == "frozen"]
FINETUNED = [v for v in VARIANTS if v not in FROZEN]
UPSTREAMS = sertools_config.frozen_upstreams(config)
GPU_UPSTREAMS = (
    "wavlm",
)  # upstreams whose features job asks for a GPU (rule features_gpu)
TRAIN_SPLITS = [sertools_splits.TRAIN, sertools_splits.DEVELOPMENT]
FEATURE_SPLITS = sertools_splits.ordered({*TRAIN_SPLITS, *EVAL_SPLITS})
# what decides the audio rows of the manifest (the features rule's params: the
# manifest itself is read as ancient, see features.smk)
# (synthetic.raters change only the votes, never the audio: not part of it)
AUDIO_IDENTITY = {
    "corpus": config["corpus"],
    "synthetic": (
        {k: v for k, v in config["synthetic"].items() if k != "raters"}
        if config["corpus"]["source"] == "synthetic"
        else None
    ),
    "manifest": config["manifest"],
}


def variant_pattern(names):
    """A wildcard constraint matching exactly these variants (nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def variant_features(wildcards, splits):
    """The cached features a frozen variant reads, one named input per split."""
    upstream = VARIANT_MODELS[wildcards.variant]["upstream"]
    return sertools_store.input_paths(f"{FEATURES_DIR}/{upstream}", splits)


def variant_model_params(wildcards):
    """The model section with this variant's overrides."""
    return VARIANT_MODELS[wildcards.variant]


def features_model_params(wildcards):
    """The model keys that decide wavlm features (None for egemaps): the features stage's
    MODEL_KEYS, named by sertools.config so that loading the workflow imports no torch.
    """
    if wildcards.upstream != "wavlm":
        return None
    return {k: config["model"][k] for k in sertools_config.WAVLM_FEATURE_KEYS}


def variant_train_params(wildcards):
    """The train section with this variant's overrides (only it reruns on a change)."""
    return sertools_config.variant_train(config, wildcards.variant)


def variant_params(wildcards):
    return config["variants"][wildcards.variant]


def predict_params(wildcards):
    train = sertools_config.variant_train(config, wildcards.variant)
    return {k: train[k] for k in sertools_config.PREDICT_TRAIN_KEYS}


# ---- evaluation
BASELINE = config["evaluation"]["baseline_variant"]
COMPARED = [v for v in VARIANTS if v != BASELINE]

# ---- reference rows (sertools.evaluation.reference): predictions made without a model,
# scored like one and shown below the models in every results table, never compared
# (no significance) and never the baseline. The oracle needs the latent truth, so a real
# corpus has the prior alone. Deterministic: stored as seed 0 whatever the config's seeds.
REFERENCES = sertools_reference.available(config["corpus"]["source"] == "synthetic")
REFERENCE_SEEDS = [sertools_reference.SEED]
if set(REFERENCES) & set(VARIANTS):
    raise ValueError(
        f"variant name(s) {sorted(set(REFERENCES) & set(VARIANTS))} are taken by the reference rows; "
        "rename the variant(s)"
    )


def variant_seeds(variant):
    """The seeds of a variant's prediction dumps (a reference has one, seed 0)."""
    return REFERENCE_SEEDS if variant in REFERENCES else SEEDS


def reference_inputs(wildcards):
    """The latent truth, for the oracle only (the prior reads the labels alone)."""
    return truth_inputs() if wildcards.reference == sertools_reference.ORACLE else {}


def metrics_variant_cfg(wildcards):
    """A variant's own scheme, targets and model label for its metrics; a reference has the
    consensus scheme, hard targets and the model label "reference"."""
    v = wildcards.variant
    if v in REFERENCES:
        return {
            "targets": "consensus",
            "hard_labels": "consensus",
            "model": sertools_reference.MODEL,
            "dim_scale": "1_7",
        }
    return {
        **{k: config["variants"][v][k] for k in ("targets", "hard_labels")},
        "model": sertools_config.model_label(VARIANT_MODELS[v]),
        "dim_scale": VARIANT_MODELS[v]["dim_scale"],
    }


def evaluation_params(rule):
    """Only the evaluation keys a stage reads (its module's CONFIG_KEYS), so other changes do not rerun it."""
    keys = importlib.import_module(sertools_architecture.STAGES[rule]).CONFIG_KEYS
    return {k: config["evaluation"][k] for k in keys}


def truth_inputs():
    if config["corpus"]["source"] == "synthetic":
        return {"truth": f"{SYNTH_DIR}/{synth_files.LATENT_TRUTH}"}
    return {}


def prediction_paths(variant):
    return {
        split: expand(
            "results/predictions/{variant}/seed{seed}/{split}.parquet",
            variant=variant,
            seed=variant_seeds(variant),
            split=split,
        )
        for split in EVAL_SPLITS
    }


def metrics_inputs(wildcards):
    return {**prediction_paths(wildcards.variant), **truth_inputs()}


def significance_inputs(wildcards):
    base = {f"baseline_{s}": p for s, p in prediction_paths(BASELINE).items()}
    return {**prediction_paths(wildcards.variant), **base, **truth_inputs()}


_report = report  # a line may not start with `report`: the Snakefile grammar takes it as the directive


def _caption(name):
    return f"workflow/report/{name}.rst"  # resolved from the Snakefile directory


# The corpus's class set decides which tables and figures have something to show
# (sertools.report.shown: no Other-class analysis without Other, no CCC without A/V/D, ...).
CLASS_SET = sertools_classes.class_set(config["corpus"]["source"])
TABLE_OUTPUTS = [
    _report(str(p), caption=_caption(f"table_{p.stem}"), category="Tables")
    for p in sertools_tables.table_files("results/tables", ("csv",), CLASS_SET)
] + [
    str(p)
    for p in sertools_tables.table_files("results/tables", ("md", "tex"), CLASS_SET)
]
# the paper's Table 2 beside this run: for a corpus of the paper's classes
PAPER_COMPARISON = sertools_shown.shown({"paper_classes"}, CLASS_SET)

# report category of each shared figure, by the first part of its stem
_FIGURE_CATEGORIES = {
    "strata": "Entropy strata",
    "other": "Other class",
    "entropy": "Corpus",
    "examples": "Examples",
}
_SHARED_FIGURES = sertools_figures.figure_stems([], classes=CLASS_SET)
FIGURE_OUTPUTS = (
    [
        _report(
            f"results/figures/{stem}.png",
            caption=_caption(f"fig_{stem.split('_')[0]}"),
            category=_FIGURE_CATEGORIES[stem.split("_")[0]],
        )
        for stem in _SHARED_FIGURES
    ]
    + [
        _report(
            f"results/figures/{kind}_{v}.png",
            caption=_caption(f"fig_{kind}"),
            category="Per variant",
            subcategory=v,
        )
        for v in VARIANTS
        for kind in sertools_figures.VARIANT_FIGURES
    ]
    + [f"results/figures/{stem}.pdf" for stem in _SHARED_FIGURES]
    + [
        f"results/figures/{k}_{v}.pdf"
        for v in VARIANTS
        for k in sertools_figures.VARIANT_FIGURES
    ]
)


def get_final_output():
    return [
        "results/labels/labels.parquet",
        "results/labels/summary.json",
        "results/manifest/manifest.parquet",
        *TABLE_OUTPUTS,
        *FIGURE_OUTPUTS,
        *(
            [
                "results/tables/paper_comparison.csv",
                "results/tables/paper_comparison.md",
            ]
            if PAPER_COMPARISON
            else []
        ),
    ]

# Helpers of the rater simulation study (study.smk): its settings, outputs and input
# functions. The settings are defined once, in sertools.study.grid.

from sertools.study import families as study_families
from sertools.study import grid as study_grid
from sertools.study import layout as study_layout
from sertools.study import report as study_report

STUDY_SETTINGS = study_grid.settings(config)
STUDY_UPSTREAM = study_grid.upstream(config) if STUDY_SETTINGS else None
STUDY_RESAMPLES = (
    study_families.resamples(
        [s.describe() for s in STUDY_SETTINGS.values()],
        config["variants"],
        BASELINE,
        config["evaluation"],
    )
    if STUDY_SETTINGS
    else None
)
STUDY_OUTPUTS = (
    [f"{study_layout.ROOT}/{name}" for name in study_report.output_files()]
    if STUDY_SETTINGS
    else []
)
STUDY_CORPUS_FILES = {
    "consensus": synth_files.CONSENSUS,
    "detailed": synth_files.DETAILED,
    "truth": synth_files.LATENT_TRUTH,
    "mixture": synth_files.RATER_MIXTURE,
}


def study_variant_sections(wildcards):
    """Per variant: its model, train and own sections (what a fit job trains)."""
    return {
        v: {
            "model": VARIANT_MODELS[v],
            "train": sertools_config.variant_train(config, v),
            "variant": config["variants"][v],
        }
        for v in VARIANTS
    }


def study_fit_inputs(wildcards):
    return {
        "labels": f"{study_layout.setting_dir(wildcards.setting)}/labels/labels.parquet",
        "manifest": f"{study_layout.MANIFEST}/manifest.parquet",
        **sertools_store.input_paths(
            f"{study_layout.FEATURES}/{STUDY_UPSTREAM}",
            FEATURE_SPLITS,
        ),
    }


def study_evaluate_inputs(wildcards):
    seeds = STUDY_SETTINGS[wildcards.setting].seeds
    return {
        f"{v}.{split}": [
            study_layout.prediction(v, split, wildcards.setting, s) for s in seeds
        ]
        for v in VARIANTS
        for split in EVAL_SPLITS
    }


def study_report_inputs(wildcards):
    return {
        f"{kind}.{name}": path
        for name in STUDY_SETTINGS
        for kind, path in study_layout.evaluation_outputs(EVAL_SPLITS, name).items()
        if not kind.startswith("reference.")
    }

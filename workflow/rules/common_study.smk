# Helpers of the rater simulation study (study.smk): its settings, outputs and input
# functions. The settings are defined once, in sertools.study.grid.

from sertools.corpus.synthetic import generate as synth_generate
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
    [
        f"{study_layout.ROOT}/{name}"
        for name in study_report.output_files(
            sertools_classes.class_set(config["synthetic"]["classes"])
        )
    ]
    if STUDY_SETTINGS
    else []
)
# The study's corpus is synthetic.classes' layout: MSP-Podcast's label files, or a CREMA-D
# download read by the CREMA-D label stage (sertools.corpus.synthetic.crema_d_layout).
STUDY_CLASSES = config["synthetic"]["classes"]
STUDY_CREMA_D = STUDY_CLASSES == "crema_d"
_STUDY_FILES = synth_generate.output_files(STUDY_CLASSES)
STUDY_AUDIO_DIR = _STUDY_FILES["audio"]
STUDY_CORPUS_FILES = {
    k: _STUDY_FILES[k]
    for k in (
        ("votes", "sentences", "demographics")
        if STUDY_CREMA_D
        else ("consensus", "detailed")
    )
    + ("truth", "mixture")
}
# what the label stage reads of a corpus (the truth and the mixture are not label files)
STUDY_LABEL_FILES = [k for k in STUDY_CORPUS_FILES if k not in ("truth", "mixture")]
# the label stage's CREMA-D settings for a CREMA-D-layout corpus (none for MSP-Podcast's)
STUDY_LABELS_PARAMS = {"crema_d_settings": config["crema_d"]} if STUDY_CREMA_D else {}


def study_label_inputs(directory, audio=False):
    """The label files of the corpus in ``directory`` (and, for CREMA-D, its audio folder)."""
    out = {k: f"{directory}/{STUDY_CORPUS_FILES[k]}" for k in STUDY_LABEL_FILES}
    if audio and STUDY_CREMA_D:
        out["audio"] = f"{directory}/{STUDY_AUDIO_DIR}"
    return out


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

"""sertools: speech emotion recognition from annotator vote distributions.

Run `snakemake --cores 8 --resources gpu=1` (see README.md); the configuration
is config/config.yaml, validated against workflow/schemas/config.schema.yaml.
"""

from snakemake.utils import min_version

min_version("9.0")


# The embedded default. A run given --configfile (e.g. config/paper.yaml) uses that file
# alone: merging it into the demo's would add the demo's variants to its grid.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/common_study.smk"


wildcard_constraints:
    variant="|".join(VARIANTS + REFERENCES),
    seed=r"\d+",
    setting=variant_pattern(STUDY_SETTINGS),


include: "workflow/rules/corpus.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/manifest.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/study.smk"


# With a `study` section (config/study_raters.yaml) the default target is the study.
rule all:
    default_target: True
    input:
        STUDY_OUTPUTS if STUDY_SETTINGS else get_final_output(),


# The frozen-upstream rows alone (model.mode: frozen): features once, then a head per
# variant and seed, its predictions and metrics - before any fine-tuning:
#   snakemake --configfile config/paper.yaml --cores 8 frozen
rule frozen:
    input:
        expand("results/metrics/{variant}.json", variant=FROZEN),


# The rater simulation study alone (docs/study.md): make study, or
#   snakemake --configfile config/study_raters.yaml --cores 2 study
rule study:
    input:
        STUDY_OUTPUTS,

"""sertools: speech emotion recognition from annotator vote distributions.

Run `snakemake --cores 8 --resources gpu=1` (see README.md); the configuration
is config/config.yaml, validated against workflow/schemas/config.schema.yaml.
"""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


wildcard_constraints:
    variant="|".join(VARIANTS),
    seed=r"\d+",


include: "workflow/rules/corpus.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/manifest.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    default_target: True
    input:
        get_final_output(),

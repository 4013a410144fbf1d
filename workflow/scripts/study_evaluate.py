"""Snakemake adapter: one setting of the study evaluated (metrics, comparisons, summary)."""

from sertools.runlog import script_logging
from sertools.study import evaluate

with script_logging(snakemake.log[0]):
    evaluate.run(snakemake.input, snakemake.output, **snakemake.params)

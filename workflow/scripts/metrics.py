"""Snakemake adapter: the ``metrics`` rule (sertools.evaluation.metrics.run)."""

from sertools.evaluation import metrics
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    metrics.run(snakemake.input, snakemake.output, variant=snakemake.wildcards.variant, **snakemake.params)

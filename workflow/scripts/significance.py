"""Snakemake adapter: the ``significance`` rule (sertools.evaluation.significance.run)."""

from sertools.evaluation import significance
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    significance.run(
        snakemake.input, snakemake.output, variant=snakemake.wildcards.variant, **snakemake.params
    )

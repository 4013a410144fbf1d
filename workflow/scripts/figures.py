"""Snakemake adapter: the ``figures`` rule (sertools.report.figures.run)."""

from sertools.report import figures
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    figures.run(snakemake.input, snakemake.output, workers=snakemake.threads, **snakemake.params)

"""Snakemake adapter: the study's tables and figures."""

from sertools.runlog import script_logging
from sertools.study import report

with script_logging(snakemake.log[0]):
    report.run(snakemake.input, snakemake.output, **snakemake.params)

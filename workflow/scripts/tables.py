"""Snakemake adapter: the ``tables`` rule (sertools.report.tables.run)."""

from sertools.report import tables
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    tables.run(snakemake.input, snakemake.output, **snakemake.params)

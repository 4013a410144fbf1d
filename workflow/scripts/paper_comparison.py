"""Snakemake adapter: the ``paper_comparison`` rule (sertools.report.paper_comparison.run)."""

from sertools.report import paper_comparison
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    paper_comparison.run(snakemake.input, snakemake.output, **snakemake.params)

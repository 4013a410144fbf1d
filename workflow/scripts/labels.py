"""Snakemake adapter: build the label table."""

from sertools.labels import distributions as labels
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    labels.run(
        snakemake.params.corpus,
        snakemake.output.table,
        snakemake.output.summary,
        snakemake.params.labels,
    )

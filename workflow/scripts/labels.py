"""Snakemake adapter: build the label table of the configured corpus (sertools.labels.stage)."""

from sertools.labels import stage
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    stage.run(snakemake.input, snakemake.output, **dict(snakemake.params.items()))

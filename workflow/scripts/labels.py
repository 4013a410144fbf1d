"""Snakemake adapter: build the label table."""

from sertools.labels import build
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    build.run(
        snakemake.input,
        snakemake.output,
        labels=snakemake.params.labels,
        evaluation_splits=snakemake.params.evaluation_splits,
    )

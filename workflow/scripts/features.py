"""Snakemake adapter: one upstream's features of one split."""

from sertools.features import extract
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    extract.run(
        snakemake.input,
        snakemake.output,
        upstream=snakemake.wildcards.upstream,
        split=snakemake.wildcards.split,
        settings=snakemake.params.settings,
        model=snakemake.params.model,
        threads=snakemake.threads,
    )

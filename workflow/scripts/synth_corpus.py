"""Snakemake adapter: write the synthetic corpus."""

from sertools.corpus.synthetic import generate
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    generate.run(
        snakemake.input,
        snakemake.output,
        synthetic=snakemake.params.synthetic,
        threads=snakemake.threads,
    )

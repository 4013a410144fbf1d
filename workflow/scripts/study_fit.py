"""Snakemake adapter: one (setting, seed) of the study, every variant trained and predicted."""

from sertools.runlog import script_logging
from sertools.study import fit

with script_logging(snakemake.log[0]):
    fit.run(
        snakemake.input,
        snakemake.output,
        variants=snakemake.params.variants,
        splits=snakemake.params.splits,
        seed=int(snakemake.wildcards.seed),
        threads=snakemake.threads,
    )

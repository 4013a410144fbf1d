"""Snakemake adapter: train one (variant, seed)."""

from sertools.runlog import script_logging
from sertools.training import train

with script_logging(snakemake.log[0]):
    train.run(
        snakemake.input,
        snakemake.output,
        model=snakemake.params.model,
        train=snakemake.params.train,
        variant=snakemake.params.variant,
        variant_name=snakemake.wildcards.variant,
        seed=int(snakemake.wildcards.seed),
        threads=snakemake.threads,
    )

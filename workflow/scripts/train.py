"""Snakemake adapter: train one (variant, seed)."""

from sertools.runlog import script_logging
from sertools.training import loop as training

with script_logging(snakemake.log[0]):
    variant = snakemake.wildcards.variant
    cfg = {
        "model": snakemake.params.model,
        "train": snakemake.params.train,
        "variants": {variant: snakemake.params.variant},
    }
    training.train(
        snakemake.input.labels,
        snakemake.input.manifest,
        snakemake.params.out_dir,
        cfg,
        variant,
        int(snakemake.wildcards.seed),
        threads=snakemake.threads,
    )

"""Snakemake adapter: prediction dumps of one trained (variant, seed)."""

from sertools.evaluation import predict
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    predict.predict(
        snakemake.input.best,
        snakemake.input.labels,
        snakemake.input.manifest,
        snakemake.params.splits,
        list(snakemake.output),
        {"train": snakemake.params.train, "variants": {}},
    )

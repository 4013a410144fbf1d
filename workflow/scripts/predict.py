"""Snakemake adapter: prediction dumps of one trained (variant, seed)."""

from sertools.evaluation import predict
from sertools.runlog import script_logging

# threads are not passed on: with train.num_threads null, prediction keeps torch's
# default thread count, as it always has (the count changes the last bit of some outputs)
with script_logging(snakemake.log[0]):
    predict.run(
        snakemake.input,
        list(snakemake.output),
        splits=snakemake.params.splits,
        train=snakemake.params.train,
    )

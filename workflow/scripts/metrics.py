"""Snakemake adapter: metrics with bootstrap CIs for one variant (all seeds, all splits)."""

from sertools.evaluation import metrics as evaluate
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    evaluate.run_variant_metrics(
        {s: snakemake.input[s] for s in snakemake.params.evaluation["splits"]},
        snakemake.input.labels,
        snakemake.params.evaluation,
        snakemake.output[0],
        truth_path=snakemake.input.get("truth"),
        variant=snakemake.wildcards.variant,
    )

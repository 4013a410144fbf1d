"""Snakemake adapter: paired bootstrap of one variant against the baseline."""

from sertools.evaluation import metrics as evaluate
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    splits = snakemake.params.evaluation["splits"]
    evaluate.run_significance(
        {s: snakemake.input[s] for s in splits},
        {s: snakemake.input[f"baseline_{s}"] for s in splits},
        snakemake.input.labels,
        snakemake.params.evaluation,
        snakemake.output[0],
        truth_path=snakemake.input.get("truth"),
        variant=snakemake.wildcards.variant,
        baseline=snakemake.params.baseline,
    )

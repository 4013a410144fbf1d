"""Snakemake adapter: build the label table (CREMA-D's own when the rule has its settings)."""

from sertools.labels import build, crema_d
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    settings = dict(snakemake.params.items()).get("crema_d")  # a named list's `in` looks at values
    if settings is not None:
        crema_d.run(
            snakemake.input,
            snakemake.output,
            crema_d=settings,
            entropy_histogram_bins=snakemake.params.labels["entropy_histogram_bins"],
        )
    else:
        build.run(
            snakemake.input,
            snakemake.output,
            labels=snakemake.params.labels,
            evaluation_splits=snakemake.params.evaluation_splits,
        )

"""Snakemake adapter: the ``reference`` rule (sertools.evaluation.reference.run)."""

from sertools.evaluation import reference
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    reference.run(
        snakemake.input,
        list(snakemake.output),
        reference=snakemake.wildcards.reference,
        splits=snakemake.params.splits,
    )

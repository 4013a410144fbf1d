"""Snakemake adapter: the paper's tables (CSV, Markdown, LaTeX)."""

from sertools.report import tables
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    p = snakemake.params
    tables.run_tables(
        dict(zip(p.variants, snakemake.input.metrics, strict=True)),
        dict(zip(p.compared, snakemake.input.significance, strict=True)),
        snakemake.input.label_summary,
        p.evaluation,
        p.out_dir,
    )

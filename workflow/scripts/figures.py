"""Snakemake adapter: every figure (PNG and PDF)."""

from sertools.report import figures as plots
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    p = snakemake.params
    logs = iter(snakemake.input.train_logs)  # expand() order: variant-major, then seed
    train_logs = {v: {s: next(logs) for s in p.seeds} for v in p.variants}
    plots.run_figures(
        dict(zip(p.variants, snakemake.input.metrics, strict=True)),
        snakemake.input.label_summary,
        p.evaluation,
        p.out_dir,
        train_logs=train_logs,
    )

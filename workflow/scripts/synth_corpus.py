"""Snakemake adapter: write the synthetic corpus."""

from sertools.corpus.synthetic import generate as synth
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params.synthetic
    summary = synth.generate(
        snakemake.params.out_dir,
        utterances=p["utterances"],
        seed=p["seed"],
        min_duration_s=p["min_duration_s"],
        max_duration_s=p["max_duration_s"],
    )
    log.info("synthetic corpus: %s", summary)

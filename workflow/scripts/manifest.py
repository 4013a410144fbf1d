"""Snakemake adapter: build the audio manifest."""

from sertools.data import manifest as audio
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    audio.run(
        snakemake.params.corpus,
        snakemake.input.labels,
        snakemake.output.manifest,
        snakemake.output.summary,
        snakemake.params.manifest,  # converted audio goes to audio_cache/ beside the manifest
    )

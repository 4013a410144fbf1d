"""Snakemake adapter: build the audio manifest (converted audio goes to audio_cache/ beside it)."""

from sertools.data import manifest
from sertools.runlog import script_logging

with script_logging(snakemake.log[0]):
    manifest.run(snakemake.input, snakemake.output, manifest=snakemake.params.manifest)

# The embedded default corpus: synthetic, in the exact MSP-Podcast 2.0 layout,
# with each utterance's latent true distribution in latent_truth.parquet.


rule synth_corpus:
    output:
        consensus=f"{SYNTH_DIR}/{synth_files.CONSENSUS}",
        detailed=f"{SYNTH_DIR}/{synth_files.DETAILED}",
        labels_txt=f"{SYNTH_DIR}/{synth_files.LABELS_TXT}",
        truth=f"{SYNTH_DIR}/{synth_files.LATENT_TRUTH}",
        audio=directory(f"{SYNTH_DIR}/{synth_files.AUDIO_DIR}"),
    log:
        "logs/synth_corpus.log",
    benchmark:
        "results/benchmarks/synth_corpus.tsv"
    conda:
        CONDA_ENV
    threads: 2  # processes rendering the audio (the same bytes for any number)
    params:
        code_version("synth_corpus"),
        synthetic=config["synthetic"],
    script:
        "../scripts/synth_corpus.py"

# Audio manifest: probe every labelled utterance; convert non-16 kHz-mono audio
# once into results/manifest/audio_cache/ (kept across reruns; not an output).


rule manifest:
    input:
        labels="results/labels/labels.parquet",
        audio=corpus_audio_dir(),
    output:
        manifest="results/manifest/manifest.parquet",
        summary="results/manifest/summary.json",
    log:
        "logs/manifest.log",
    benchmark:
        "results/benchmarks/manifest.tsv"
    conda:
        CONDA_ENV
    params:
        code_version("manifest"),
        manifest=config["manifest"],
    script:
        "../scripts/manifest.py"

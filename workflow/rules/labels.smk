# Raw label files -> per-utterance vote distributions (+ summary with accounting).


rule labels:
    input:
        unpack(corpus_label_files),
    output:
        table="results/labels/labels.parquet",
        summary="results/labels/summary.json",
    log:
        "logs/labels.log",
    benchmark:
        "results/benchmarks/labels.tsv"
    conda:
        CONDA_ENV
    params:
        code_version("labels"),
        **LABELS_CORPUS_PARAMS,
        labels=config["labels"],
        evaluation_splits=config["evaluation"]["splits"],
    script:
        "../scripts/labels.py"

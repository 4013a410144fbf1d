# Raw label files -> per-utterance vote distributions (+ summary with accounting).


rule labels:
    input:
        unpack(corpus_label_files),
        code=lib("labels", "corpus", "reliability"),
    output:
        table="results/labels/labels.parquet",
        summary="results/labels/summary.json",
    log:
        "logs/labels.log",
    benchmark:
        "results/benchmarks/labels.tsv"
    params:
        labels=config["labels"],
        corpus=corpus_dir(),
    script:
        "../scripts/labels.py"

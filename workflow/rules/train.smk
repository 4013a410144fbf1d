# One training job per (variant, seed); each asks for one GPU. A job killed at
# any moment resumes from results/train/{variant}/seed{seed}/resume/ (not an
# output, so Snakemake keeps it) when it is rerun.


rule train:
    input:
        labels="results/labels/labels.parquet",
        manifest="results/manifest/manifest.parquet",
        code=lib("train"),
    output:
        best="results/train/{variant}/seed{seed}/best.safetensors",
        log_csv="results/train/{variant}/seed{seed}/train_log.csv",
        run="results/train/{variant}/seed{seed}/run.json",
    log:
        "logs/train/{variant}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{variant}/seed{seed}.tsv"
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=1,
    params:
        model=config["model"],
        train=variant_train_params,
        variant=variant_params,
    script:
        "../scripts/train.py"

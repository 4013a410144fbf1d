# One training job per (variant, seed). A fine-tuning job asks for one GPU; a
# frozen-upstream variant (model.mode: frozen) trains only a head on cached
# features (rule train_head), on the CPU. A job killed at any moment resumes from
# results/train/{variant}/seed{seed}/resume/ (not an output, so Snakemake keeps
# it) when it is rerun.


rule train:
    input:
        labels="results/labels/labels.parquet",
        manifest="results/manifest/manifest.parquet",
    output:
        best="results/train/{variant}/seed{seed}/best.safetensors",
        log_csv="results/train/{variant}/seed{seed}/train_log.csv",
        run="results/train/{variant}/seed{seed}/run.json",
    log:
        "logs/train/{variant}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{variant}/seed{seed}.tsv"
    wildcard_constraints:
        variant=variant_pattern(FINETUNED),
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=1,
    params:
        code_version("train"),
        model=variant_model_params,
        train=variant_train_params,
        variant=variant_params,
    script:
        "../scripts/train.py"


use rule train as train_head with:
    input:
        unpack(lambda wc: variant_features(wc, TRAIN_SPLITS)),
        labels="results/labels/labels.parquet",
        manifest="results/manifest/manifest.parquet",
    wildcard_constraints:
        variant=variant_pattern(FROZEN),
    threads: 1
    resources:
        gpu=0,

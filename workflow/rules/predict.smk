# Prediction dumps of the best checkpoint for every evaluation split.


rule predict:
    input:
        best="results/train/{variant}/seed{seed}/best.safetensors",
        labels="results/labels/labels.parquet",
        manifest="results/manifest/manifest.parquet",
        code=lib("predict"),
    output:
        expand(
            "results/predictions/{{variant}}/seed{{seed}}/{split}.parquet",
            split=EVAL_SPLITS,
        ),
    log:
        "logs/predict/{variant}/seed{seed}.log",
    benchmark:
        "results/benchmarks/predict/{variant}/seed{seed}.tsv"
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=1,
    params:
        splits=EVAL_SPLITS,
        train=predict_params,
    script:
        "../scripts/predict.py"

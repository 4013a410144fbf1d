# Prediction dumps of the best checkpoint for every evaluation split (frozen
# variants: rule predict_head, on cached features, CPU only).


rule predict:
    input:
        best="results/train/{variant}/seed{seed}/best.safetensors",
        labels="results/labels/labels.parquet",
        manifest="results/manifest/manifest.parquet",
    output:
        expand(
            "results/predictions/{{variant}}/seed{{seed}}/{split}.parquet",
            split=EVAL_SPLITS,
        ),
    log:
        "logs/predict/{variant}/seed{seed}.log",
    benchmark:
        "results/benchmarks/predict/{variant}/seed{seed}.tsv"
    wildcard_constraints:
        variant=variant_pattern(FINETUNED),
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=1,
    params:
        code_version("predict"),
        splits=EVAL_SPLITS,
        train=predict_params,
    script:
        "../scripts/predict.py"


use rule predict as predict_head with:
    input:
        unpack(lambda wc: variant_features(wc, EVAL_SPLITS)),
        best="results/train/{variant}/seed{seed}/best.safetensors",
        labels="results/labels/labels.parquet",
        manifest="results/manifest/manifest.parquet",
    wildcard_constraints:
        variant=variant_pattern(FROZEN),
    threads: 1
    resources:
        gpu=0,

# Frozen-upstream features: one job per (upstream, split), computed once and read
# by every frozen variant and seed. The manifest is `ancient`: a label setting
# rewrites it without changing its audio rows, and must not recompute features;
# what does change the audio (corpus, synthetic and manifest settings) is in
# params, and training refuses features that no longer match the manifest.


rule features:
    input:
        manifest=ancient("results/manifest/manifest.parquet"),
        code=lib("features"),
    output:
        features="results/features/{upstream}/{split}.safetensors",
        summary="results/features/{upstream}/{split}.json",
    wildcard_constraints:
        upstream="|".join(UPSTREAMS) or "(?!)",
        split="|".join(FEATURE_SPLITS),
    log:
        "logs/features/{upstream}/{split}.log",
    benchmark:
        "results/benchmarks/features/{upstream}/{split}.tsv"
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=lambda wc: 1 if wc.upstream == "wavlm" else 0,
    params:
        settings=lambda wc: config["features"][wc.upstream],
        model=features_model_params,
        audio=AUDIO_IDENTITY,
    script:
        "../scripts/features.py"

# Frozen-upstream features: one job per (upstream, split), computed once and read
# by every frozen variant and seed; wavlm runs on a GPU (rule features_gpu, its own
# rule so that a cluster profile can send it to a GPU partition), egemaps on the CPU. The manifest is `ancient`: a label setting
# rewrites it without changing its audio rows, and must not recompute features;
# what does change the audio (corpus, synthetic and manifest settings) is in
# params, and training refuses features that no longer match the manifest.


rule features:
    input:
        manifest=ancient("results/manifest/manifest.parquet"),
    output:
        features="results/features/{upstream}/{split}.safetensors",
        summary="results/features/{upstream}/{split}.json",
    log:
        "logs/features/{upstream}/{split}.log",
    benchmark:
        "results/benchmarks/features/{upstream}/{split}.tsv"
    wildcard_constraints:
        upstream=variant_pattern([u for u in UPSTREAMS if u not in GPU_UPSTREAMS]),
        split="|".join(FEATURE_SPLITS),
    conda:
        CONDA_ENV
    threads: 2
    resources:
        gpu=0,
    params:
        code_version("features"),
        settings=lambda wc: config["features"][wc.upstream],
        model=features_model_params,
        audio=AUDIO_IDENTITY,
    script:
        "../scripts/features.py"


use rule features as features_gpu with:
    wildcard_constraints:
        upstream=variant_pattern([u for u in UPSTREAMS if u in GPU_UPSTREAMS]),
        split="|".join(FEATURE_SPLITS),
    resources:
        gpu=1,

# Metrics with bootstrap CIs per variant (all seeds and splits together), paired
# significance of every variant against the baseline, tables and figures.
# The reference rows (oracle_truth: the latent truth as the prediction, synthetic
# corpus only; prior: the Train class prior as a constant prediction) get prediction
# dumps, metrics and table rows like a variant, never significance nor figures.


# One deterministic run: stored as seed 0, whatever the config's seeds.
rule reference:
    input:
        unpack(reference_inputs),
        labels="results/labels/labels.parquet",
        manifest="results/manifest/manifest.parquet",
    output:
        expand(
            "results/predictions/{{reference}}/seed{seed}/{split}.parquet",
            seed=REFERENCE_SEEDS,
            split=EVAL_SPLITS,
        ),
    log:
        "logs/reference/{reference}.log",
    benchmark:
        "results/benchmarks/reference/{reference}.tsv"
    wildcard_constraints:
        reference=variant_pattern(REFERENCES),
    conda:
        CONDA_ENV
    params:
        code_version("reference"),
        splits=EVAL_SPLITS,
    script:
        "../scripts/reference.py"


rule metrics:
    input:
        unpack(metrics_inputs),
        labels="results/labels/labels.parquet",
    output:
        metrics="results/metrics/{variant}.json",
    log:
        "logs/metrics/{variant}.log",
    benchmark:
        "results/benchmarks/metrics/{variant}.tsv"
    conda:
        CONDA_ENV
    params:
        code_version("metrics"),
        evaluation=evaluation_params("metrics"),
        seeds=lambda wc: variant_seeds(wc.variant),
        variant_cfg=metrics_variant_cfg,
    script:
        "../scripts/metrics.py"


rule significance:
    input:
        unpack(significance_inputs),
        labels="results/labels/labels.parquet",
    output:
        significance="results/metrics/significance/{variant}.json",
    log:
        "logs/significance/{variant}.log",
    benchmark:
        "results/benchmarks/significance/{variant}.tsv"
    wildcard_constraints:
        variant=variant_pattern(VARIANTS),  # never a reference
    conda:
        CONDA_ENV
    params:
        code_version("significance"),
        evaluation=evaluation_params("significance"),
        baseline=config["evaluation"]["baseline_variant"],
        seeds=SEEDS,
    script:
        "../scripts/significance.py"


rule tables:
    input:
        metrics=expand("results/metrics/{variant}.json", variant=VARIANTS),
        significance=expand(
            "results/metrics/significance/{variant}.json", variant=COMPARED
        ),
        references=expand("results/metrics/{variant}.json", variant=REFERENCES),
        label_summary="results/labels/summary.json",
    output:
        TABLE_OUTPUTS,
    log:
        "logs/tables.log",
    conda:
        CONDA_ENV
    params:
        code_version("tables"),
        evaluation=evaluation_params("tables"),
        variants=VARIANTS,
        compared=COMPARED,
        references=REFERENCES,
        out_dir=subpath(output[0], parent=True),
    script:
        "../scripts/tables.py"


rule figures:
    input:
        metrics=expand("results/metrics/{variant}.json", variant=VARIANTS),
        label_summary="results/labels/summary.json",
        train_logs=expand(
            "results/train/{variant}/seed{seed}/train_log.csv",
            variant=VARIANTS,
            seed=SEEDS,
        ),
    output:
        FIGURE_OUTPUTS,
    log:
        "logs/figures.log",
    benchmark:
        "results/benchmarks/figures.tsv"
    conda:
        CONDA_ENV
    threads: 2
    params:
        code_version("figures"),
        evaluation=evaluation_params("figures"),
        variants=VARIANTS,
        seeds=SEEDS,
        out_dir=subpath(output[0], parent=True),
    script:
        "../scripts/figures.py"


# The paper's published Table 2 next to this run (docs/paper_release/); headed as
# not comparable unless the corpus is MSP-Podcast.
rule paper_comparison:
    input:
        published=PUBLISHED_TABLE2,
        metrics=expand("results/metrics/{variant}.json", variant=VARIANTS),
    output:
        csv=report(
            "results/tables/paper_comparison.csv",
            caption="../report/table_paper_comparison.rst",
            category="Tables",
        ),
        md="results/tables/paper_comparison.md",
    log:
        "logs/paper_comparison.log",
    conda:
        CONDA_ENV
    params:
        code_version("paper_comparison"),
        variants={
            v: {
                "paper_row": c["paper_row"],
                "model": sertools_config.model_label(VARIANT_MODELS[v]),
            }
            for v, c in config["variants"].items()
        },
        comparable=config["corpus"]["source"] == "msp_podcast",
    script:
        "../scripts/paper_comparison.py"

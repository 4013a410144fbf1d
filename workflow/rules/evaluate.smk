# Metrics with bootstrap CIs per variant (all seeds and splits together), paired
# significance of every variant against the baseline, tables and figures.


rule metrics:
    input:
        unpack(metrics_inputs),
        labels="results/labels/labels.parquet",
        code=lib("metrics"),
    output:
        metrics="results/metrics/{variant}.json",
    log:
        "logs/metrics/{variant}.log",
    benchmark:
        "results/benchmarks/metrics/{variant}.tsv"
    conda:
        CONDA_ENV
    params:
        evaluation=evaluation_params("metrics"),
        seeds=SEEDS,
        variant_cfg=lambda wc: {
            **{
                k: config["variants"][wc.variant][k]
                for k in ("targets", "hard_labels")
            },
            "model": sertools_config.model_label(VARIANT_MODELS[wc.variant]),
        },
    script:
        "../scripts/metrics.py"


rule significance:
    input:
        unpack(significance_inputs),
        labels="results/labels/labels.parquet",
        code=lib("significance"),
    output:
        significance="results/metrics/significance/{variant}.json",
    log:
        "logs/significance/{variant}.log",
    benchmark:
        "results/benchmarks/significance/{variant}.tsv"
    conda:
        CONDA_ENV
    params:
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
        label_summary="results/labels/summary.json",
        code=lib("tables"),
    output:
        TABLE_OUTPUTS,
    log:
        "logs/tables.log",
    conda:
        CONDA_ENV
    params:
        evaluation=evaluation_params("tables"),
        variants=VARIANTS,
        compared=COMPARED,
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
        code=lib("figures"),
    output:
        FIGURE_OUTPUTS,
    log:
        "logs/figures.log",
    benchmark:
        "results/benchmarks/figures.tsv"
    conda:
        CONDA_ENV
    params:
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
        code=lib("paper_comparison"),
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

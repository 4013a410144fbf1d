# The rater simulation study (config key `study`; `make study` runs config/study_raters.yaml;
# docs/study.md). One synthetic corpus with audio, its manifest and its frozen features,
# computed once; per setting (sertools.study.grid) the votes re-drawn by other raters,
# their label table, one fit job per (setting, seed) training every variant, and one
# evaluation job; then the study's tables and figures under results/study/.


# the corpus with audio (default raters): audio and latent truth are shared by every setting
use rule synth_corpus as study_corpus with:
    output:
        **{k: f"{study_layout.CORPUS}/{v}" for k, v in STUDY_CORPUS_FILES.items()},
        audio=directory(f"{study_layout.CORPUS}/{STUDY_AUDIO_DIR}"),
    log:
        "logs/study/corpus.log",
    benchmark:
        "results/study/benchmarks/corpus.tsv"


# a setting's votes: the same generator without audio, with the setting's raters
use rule synth_corpus as study_votes with:
    output:
        **{
            k: f"{study_layout.setting_dir()}/corpus/{v}"
            for k, v in STUDY_CORPUS_FILES.items()
        },
    log:
        "logs/study/votes/{setting}.log",
    benchmark:
        "results/study/benchmarks/votes/{setting}.tsv"
    threads: 1  # no audio to render
    params:
        code_version("study_votes"),
        synthetic=lambda wc: {
            **config["synthetic"],
            "raters": STUDY_SETTINGS[wc.setting].raters,
        },


use rule labels as study_corpus_labels with:
    input:
        **study_label_inputs(study_layout.CORPUS, audio=True),
    output:
        table=f"{study_layout.CORPUS}/labels/labels.parquet",
        summary=f"{study_layout.CORPUS}/labels/summary.json",
    log:
        "logs/study/corpus_labels.log",
    benchmark:
        "results/study/benchmarks/corpus_labels.tsv"
    params:
        code_version("labels"),
        **STUDY_LABELS_PARAMS,
        labels=config["labels"],
        evaluation_splits=config["evaluation"]["splits"],


use rule labels as study_labels with:
    input:
        **study_label_inputs(f"{study_layout.setting_dir()}/corpus"),
    output:
        table=f"{study_layout.setting_dir()}/labels/labels.parquet",
        summary=f"{study_layout.setting_dir()}/labels/summary.json",
    log:
        "logs/study/labels/{setting}.log",
    benchmark:
        "results/study/benchmarks/labels/{setting}.tsv"
    params:
        code_version("labels"),
        **STUDY_LABELS_PARAMS,
        labels=config["labels"],
        evaluation_splits=config["evaluation"]["splits"],


use rule manifest as study_manifest with:
    input:
        labels=f"{study_layout.CORPUS}/labels/labels.parquet",
        audio=f"{study_layout.CORPUS}/{STUDY_AUDIO_DIR}",
    output:
        manifest=f"{study_layout.MANIFEST}/manifest.parquet",
        summary=f"{study_layout.MANIFEST}/summary.json",
    log:
        "logs/study/manifest.log",
    benchmark:
        "results/study/benchmarks/manifest.tsv"


use rule features as study_features with:
    input:
        manifest=ancient(f"{study_layout.MANIFEST}/manifest.parquet"),
    output:
        features=f"{study_layout.FEATURES}/{{upstream}}/{{split}}.safetensors",
        summary=f"{study_layout.FEATURES}/{{upstream}}/{{split}}.json",
    log:
        "logs/study/features/{upstream}/{split}.log",
    benchmark:
        "results/study/benchmarks/features/{upstream}/{split}.tsv"


rule study_fit:
    input:
        unpack(study_fit_inputs),
    output:
        **study_layout.fit_outputs(VARIANTS, EVAL_SPLITS),
    log:
        "logs/study/fit/{setting}/seed{seed}.log",
    benchmark:
        "results/study/benchmarks/fit/{setting}/seed{seed}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    params:
        code_version("study_fit"),
        variants=study_variant_sections,
        splits=EVAL_SPLITS,
    script:
        "../scripts/study_fit.py"


rule study_evaluate:
    input:
        unpack(study_evaluate_inputs),
        labels=f"{study_layout.setting_dir()}/labels/labels.parquet",
        label_summary=f"{study_layout.setting_dir()}/labels/summary.json",
        truth=f"{study_layout.CORPUS}/{STUDY_CORPUS_FILES['truth']}",
        mixture=f"{study_layout.setting_dir()}/corpus/{STUDY_CORPUS_FILES['mixture']}",
    output:
        **study_layout.evaluation_outputs(EVAL_SPLITS),
    log:
        "logs/study/evaluate/{setting}.log",
    benchmark:
        "results/study/benchmarks/evaluate/{setting}.tsv"
    conda:
        CONDA_ENV
    params:
        code_version("study_evaluate"),
        setting=lambda wc: STUDY_SETTINGS[wc.setting].describe(),
        seeds=lambda wc: list(STUDY_SETTINGS[wc.setting].seeds),
        evaluation=config["evaluation"],
        variants=lambda wc: {v: config["variants"][v] for v in VARIANTS},
        baseline=BASELINE,
        resamples=STUDY_RESAMPLES,
    script:
        "../scripts/study_evaluate.py"


rule study_report:
    input:
        unpack(study_report_inputs),
    output:
        STUDY_OUTPUTS,
    log:
        "logs/study/report.log",
    conda:
        CONDA_ENV
    params:
        code_version("study_report"),
        settings=[s.describe() for s in STUDY_SETTINGS.values()],
        variants={
            v: {
                "paper_row": c["paper_row"],
                "targets": c["targets"],
                "hard_labels": c.get("hard_labels"),
            }
            for v, c in config["variants"].items()
        },
        baseline=BASELINE,
        evaluation=config["evaluation"],
        resamples=STUDY_RESAMPLES,
        classes=config["synthetic"]["classes"],
        # results/study: the outputs are <root>/tables/... and <root>/figures/...
        root=lambda wildcards, output: output[0].rsplit("/", 2)[0],
    script:
        "../scripts/study_report.py"

"""``sertools`` command line: each workflow stage, standalone, a trained model on any audio, and the run's preflight.

The Snakemake scripts call the same library functions; this module only parses
arguments, loads the (validated) configuration and reports errors in one line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sertools import config as config_mod
from sertools import splits
from sertools.features.store import UPSTREAMS

log = logging.getLogger("sertools")


def _cfg(args: argparse.Namespace) -> dict:
    return config_mod.load(args.config)


def cmd_synth(args: argparse.Namespace) -> None:
    from sertools.corpus.synthetic import generate as synth

    summary = synth.generate(
        args.out_dir,
        utterances=args.utterances,
        seed=args.seed,
        labels_only=args.labels_only,
        min_duration_s=args.min_duration,
        max_duration_s=args.max_duration,
        cue_contrast=args.cue_contrast,
    )
    print(f"wrote a synthetic MSP-Podcast corpus to {args.out_dir}: {summary}")


def cmd_labels(args: argparse.Namespace) -> None:
    from sertools.corpus.msp import label_files
    from sertools.labels import build

    cfg = _cfg(args)  # a bad config is reported before the corpus is looked at
    section = cfg["labels"]
    outputs = {"table": args.out, "summary": args.summary}
    source = args.source or ("crema_d" if cfg["corpus"]["source"] == "crema_d" else "msp_podcast")
    if source == "crema_d":
        _labels_crema_d(args, cfg, outputs)
        return
    s = build.run(
        label_files(args.corpus_dir, section["detailed_source"]),
        outputs,
        labels=section,
        evaluation_splits=cfg["evaluation"]["splits"],
    )
    print(
        f"{args.out}: {s['utterances_kept']}/{s['utterances_read']} utterances, "
        f"{s['annotations_kept']}/{s['annotations_read']} annotations kept; summary in {args.summary}"
    )


def _labels_crema_d(args: argparse.Namespace, cfg: dict, outputs: dict[str, str]) -> None:
    """``sertools labels --source crema_d``: the CREMA-D label table (audio checked when AudioWAV/ is there)."""
    from sertools.corpus.crema_d import crema_d_files
    from sertools.labels import crema_d

    s = crema_d.run(
        crema_d_files(args.corpus_dir),
        outputs,
        crema_d=cfg["crema_d"],
        entropy_histogram_bins=cfg["labels"]["entropy_histogram_bins"],
    )
    stats = s["statistics"][s["modality"]]
    print(
        f"{args.out}: {s['utterances_kept']}/{s['utterances_read']} {s['modality']} clips kept "
        f"({s['ties_kept']} ties as X); Fleiss' kappa {stats['fleiss_kappa']['kappa']:.3f}; "
        f"summary in {args.summary}"
    )


def cmd_manifest(args: argparse.Namespace) -> None:
    from sertools.corpus.msp import AUDIO_DIR
    from sertools.data import manifest

    summary_path = args.summary or str(Path(args.out).with_suffix("")) + "_summary.json"
    s = manifest.run(
        {"labels": args.labels, "audio": Path(args.corpus_dir) / AUDIO_DIR},
        {"manifest": args.out, "summary": summary_path},
        manifest=_cfg(args)["manifest"],
        cache_dir=args.cache_dir,
    )
    print(f"{args.out}: {s['utterances_kept']}/{s['utterances_read']} utterances, {s['hours']:.2f} h")


def cmd_features(args: argparse.Namespace) -> None:
    from sertools.features import extract, store

    cfg = _cfg(args)
    for split in args.splits:
        s = extract.run(
            {"manifest": args.manifest},
            {
                "features": store.split_file(args.out_dir, split),
                "summary": Path(args.out_dir) / f"{split}.json",
            },
            upstream=args.upstream,
            split=split,
            settings=cfg["features"][args.upstream],
            model=cfg["model"],
            threads=args.threads,
        )
        print(
            f"{store.split_file(args.out_dir, split)}: {s['rows_written']}/{s['rows_read']} rows {s['shape']}"
        )


def cmd_train(args: argparse.Namespace) -> None:
    from sertools.training import train as training

    cfg = _cfg(args)
    if args.variant not in cfg["variants"]:
        raise config_mod.ConfigError(
            f"unknown variant {args.variant!r}; configured: {', '.join(cfg['variants'])}"
        )
    res = training.from_config(
        args.labels,
        args.manifest,
        args.out_dir,
        cfg,
        args.variant,
        args.seed,
        threads=args.threads,
        features_dir=args.features_dir,
    )
    print(
        f"{args.out_dir}: best epoch {res.get('best_epoch')} ({res.get('selection_metric')} {res.get('best_metric')})"
    )


def cmd_predict(args: argparse.Namespace) -> None:
    from sertools.evaluation import predict

    outs = [str(Path(args.out_dir) / f"{s}.parquet") for s in args.splits]
    predict.predict(
        args.checkpoint,
        args.labels,
        args.manifest,
        args.splits,
        outs,
        _cfg(args),
        features_dir=args.features_dir,
    )
    print("wrote " + ", ".join(outs))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from sertools.evaluation import metrics, metrics_doc

    cfg = _cfg(args)["evaluation"]
    preds: dict[str, list[str]] = {}
    for d in args.prediction_dirs:
        for s in cfg["splits"]:
            p = Path(d) / f"{s}.parquet"
            if p.exists():
                preds.setdefault(s, []).append(str(p))
    if not preds:
        raise FileNotFoundError(f"no <split>.parquet for splits {cfg['splits']} in {args.prediction_dirs}")
    cfg = {**cfg, "splits": [s for s in cfg["splits"] if s in preds]}
    metrics_doc.write(args.out, metrics.variant_metrics(preds, args.labels, cfg, args.truth))
    print(f"wrote {args.out}")


def cmd_infer(args: argparse.Namespace) -> None:
    from sertools.inference import infer

    side = infer.run(
        args.model,
        args.audio,
        args.out,
        device=args.device,
        batching=args.batching,
        max_chunk_seconds=args.max_chunk_seconds,
        features_dir=args.features_dir,
        progress=not args.no_progress,
    )
    counts = side["counts"]
    dropped = ", ".join(f"{r} {n}" for r, n in counts["dropped"].items()) or "none"
    print(
        f"{args.out}: {counts['kept']} of {counts['read']} inputs (dropped: {dropped}; see {args.out}.json)"
    )


def cmd_export(args: argparse.Namespace) -> None:
    from sertools.inference import export

    res = export.export(
        args.run, args.out_dir, features_dir=args.features_dir, results=args.results, force=args.force
    )
    print(f"{args.out_dir}: {', '.join(sorted(res['files']))}, README.md; metrics: {res['metrics']}")


def cmd_compare(args: argparse.Namespace) -> int:
    from sertools.report import compare

    text, status = compare.run(args.a, args.b, args.out)
    sys.stdout.write(text)
    return status


def cmd_check(args: argparse.Namespace) -> int:
    import os

    import yaml

    from sertools import check

    os.chdir(args.directory)  # relative paths in the config are the workflow's, from its directory
    files = args.configfile or (["config/config.yaml"] if Path("config/config.yaml").is_file() else [])
    user: dict = {}
    for f in files:
        user = config_mod.deep_merge(user, yaml.safe_load(Path(f).read_text()) or {})
    for item in args.config:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--config {item!r}: expected KEY=VALUE (as snakemake --config)")
        user = config_mod.deep_merge(user, {key: yaml.safe_load(value)})  # merged, as snakemake does
    cfg = config_mod.resolve(user)
    findings = check.run_checks(cfg, profile=args.profile, gpu_here=not args.gpu_elsewhere)
    print(check.report(findings))
    bad = check.failures(findings)
    print(f"\n{len(bad)} check(s) failed" if bad else "\nall checks passed")
    return 1 if bad else 0


def _add_data_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The corpus and data stages: synth, labels, manifest, features."""
    s = sub.add_parser("synth", help="write a synthetic corpus in the MSP-Podcast 2.0 layout")
    s.add_argument("out_dir")
    s.add_argument("--utterances", type=int, required=True, help="total utterances over all splits")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--labels-only", action="store_true", help="write label files only (no audio)")
    s.add_argument("--min-duration", type=float, default=1.5, help="seconds (default 1.5)")
    s.add_argument("--max-duration", type=float, default=3.0, help="seconds (default 3.0)")
    s.add_argument(
        "--cue-contrast", type=float, default=1.0, help="class contrast of the acoustic cues (default 1.0)"
    )
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("labels", help="build the per-utterance vote-distribution table")
    s.add_argument("corpus_dir")
    s.add_argument("--out", required=True, help="LABELS.parquet")
    s.add_argument("--summary", required=True, help="SUMMARY.json")
    s.add_argument("--config", help="config YAML (default: the built-in defaults)")
    s.add_argument(
        "--source",
        choices=["msp_podcast", "crema_d"],
        help="the corpus layout (default: crema_d when the config's corpus.source is, else msp_podcast)",
    )
    s.set_defaults(func=cmd_labels)

    s = sub.add_parser("manifest", help="probe, filter and (if needed) convert the audio")
    s.add_argument("corpus_dir")
    s.add_argument("labels", help="LABELS.parquet from `sertools labels`")
    s.add_argument("--out", required=True, help="MANIFEST.parquet")
    s.add_argument("--summary", help="summary JSON (default: next to --out)")
    s.add_argument("--cache-dir", help="where converted audio goes (default: audio_cache/ next to --out)")
    s.add_argument("--config", help="config YAML (default: the built-in defaults)")
    s.set_defaults(func=cmd_manifest)

    s = sub.add_parser("features", help="frozen-upstream features of every manifest utterance, per split")
    s.add_argument("manifest", help="MANIFEST.parquet")
    s.add_argument("--upstream", required=True, choices=list(UPSTREAMS))
    s.add_argument("--splits", nargs="+", default=list(splits.SPLITS))
    s.add_argument("--out-dir", required=True, help="writes OUT_DIR/<split>.safetensors and <split>.json")
    s.add_argument("--threads", type=int, default=None, help="eGeMAPS worker processes / torch threads")
    s.add_argument("--config", help="config YAML (model.backbone, features.*)")
    s.set_defaults(func=cmd_features)


def _add_model_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Training, prediction dumps and their metrics: train, predict, evaluate."""
    s = sub.add_parser("train", help="train one supervision variant with one seed")
    s.add_argument("labels", help="LABELS.parquet")
    s.add_argument("manifest", help="MANIFEST.parquet")
    s.add_argument("--variant", required=True, help="a key of the config's variants")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out-dir", required=True, help="run directory (resumes from OUT_DIR/resume/ if present)")
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--features-dir", help="the upstream's features (frozen-upstream variants)")
    s.add_argument("--config", help="config YAML (default: the built-in defaults)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("predict", help="prediction dumps of a trained checkpoint")
    s.add_argument("checkpoint", help="best.safetensors")
    s.add_argument("labels", help="LABELS.parquet")
    s.add_argument("manifest", help="MANIFEST.parquet")
    s.add_argument("--splits", nargs="+", default=[splits.DEVELOPMENT, *splits.TEST_SPLITS])
    s.add_argument("--out-dir", required=True, help="writes OUT_DIR/<split>.parquet")
    s.add_argument("--features-dir", help="the upstream's features (a frozen-upstream head)")
    s.add_argument("--config", help="config YAML (device, batch limits)")
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("evaluate", help="metrics with bootstrap CIs for one variant (one dir per seed)")
    s.add_argument("labels", help="LABELS.parquet")
    s.add_argument("prediction_dirs", nargs="+", help="directories holding <split>.parquet, one per seed")
    s.add_argument("--out", required=True, help="metrics JSON")
    s.add_argument("--truth", help="latent_truth.parquet (synthetic corpus)")
    s.add_argument("--config", help="config YAML (evaluation settings)")
    s.set_defaults(func=cmd_evaluate)


def _add_use_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """A trained model outside the workflow: infer on any audio, export as a self-contained folder."""
    s = sub.add_parser(
        "infer",
        help="a trained model on any audio: one row per file (CSV or Parquet)",
        description="Predict class probabilities and A/V/D ratings for audio files, folders (searched "
        "recursively) or list files (.txt/.lst: one path a line). Any sample rate and channel count "
        "(channels averaged, resampled to the model's rate); long files in chunks. Unusable files are "
        "listed with their reason in OUT.json and the rest are written (docs/inference.md).",
    )
    s.add_argument(
        "model", help="an exported folder (sertools export), a run directory or its best.safetensors"
    )
    s.add_argument("audio", nargs="+", help="audio files, folders or list files")
    s.add_argument("--out", required=True, help="FILE.csv or FILE.parquet (and FILE.<ext>.json beside it)")
    s.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, ...")
    s.add_argument(
        "--batching",
        choices=["run", "single"],
        default="run",
        help="run: the run's own prediction batches (reproduces its dumps); single: every file alone",
    )
    s.add_argument("--max-chunk-seconds", type=float, default=30.0, help="longer files go in chunks (30)")
    s.add_argument("--features-dir", help="a run's frozen wavlm features folder (a run, not an export)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_infer)

    s = sub.add_parser(
        "export",
        help="a trained run as a self-contained folder (weights, config, preprocessing, model card)",
    )
    s.add_argument("run", help="a run directory (results/train/<variant>/seed<N>) or its best.safetensors")
    s.add_argument("out_dir", help="the folder to write")
    s.add_argument(
        "--features-dir", help="the frozen wavlm features the head trained on (default: the run's)"
    )
    s.add_argument("--results", help="the results folder with metrics/ and tables/ (default: the run's)")
    s.add_argument("--force", action="store_true", help="replace OUT_DIR if it is not empty")
    s.set_defaults(func=cmd_export)


def _add_tool_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Tools around a run: compare two results tables, check a run before it is queued."""
    s = sub.add_parser(
        "compare",
        help="compare two main.csv row by row: is each difference within the CIs?",
        description="Compare two results tables (main.csv) row by row. Within the CIs: each mean "
        "lies inside the other's confidence interval. Exit status 0: every metric within, 1: some "
        "outside, 2: bad input.",
    )
    s.add_argument("a", help="a main.csv (e.g. the README's run)")
    s.add_argument("b", help="another main.csv (e.g. your own run)")
    s.add_argument("--out", help="also write the Markdown report to OUT")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser(
        "check",
        help="preflight: everything a run will need, before anything is queued",
        description="Check the corpus, the backbone, CUDA, the SLURM profile, free disk and the plan "
        "of a run, with the config the workflow would use (the same --configfile / --config). "
        "Exit status 0: every check passed, 1: some failed, 2: bad input.",
    )
    s.add_argument(
        "--configfile",
        action="extend",
        nargs="+",
        help="config file(s), merged in order (default: config/config.yaml)",
    )
    s.add_argument(
        "--config", nargs="*", default=[], metavar="KEY=VALUE", help="top-level overrides, as snakemake"
    )
    s.add_argument("--profile", help="a SLURM profile directory (or its config.yaml) to check and plan with")
    s.add_argument("--directory", "-d", default=".", help="the workflow's working directory (default: here)")
    s.add_argument(
        "--gpu-elsewhere",
        action="store_true",
        help="on a login node without GPUs: a CUDA build that sees no GPU here is a note, not a failure",
    )
    s.set_defaults(func=cmd_check)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sertools", description=__doc__.splitlines()[0])
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", required=True)

    _add_data_commands(sub)
    _add_model_commands(sub)
    _add_use_commands(sub)
    _add_tool_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func: Callable[[argparse.Namespace], int | None] = args.func
    known = _known_errors()
    try:
        status = func(args)  # None: success; `compare` returns 1 when a difference is outside the CIs
    except known as e:
        log.debug("traceback", exc_info=True)  # --log-level DEBUG shows where it came from
        print(f"sertools {args.command}: error: {e}", file=sys.stderr)
        return 2
    return status or 0


def _known_errors() -> tuple[type[BaseException], ...]:
    from sertools.corpus.msp import CorpusFormatError
    from sertools.data.manifest import AudioError
    from sertools.features.store import FeatureError
    from sertools.labels.build import LabelError

    # ValueError covers DataError, CheckpointError-free paths, EvaluationError, bad arguments
    return (
        config_mod.ConfigError,
        CorpusFormatError,
        LabelError,
        AudioError,
        FeatureError,
        FileNotFoundError,
        FileExistsError,
        ValueError,
        RuntimeError,
    )


if __name__ == "__main__":
    sys.exit(main())

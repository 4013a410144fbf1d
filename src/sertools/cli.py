"""``sertools`` command line: each workflow stage, standalone.

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

log = logging.getLogger("sertools")


def _cfg(args: argparse.Namespace) -> dict:
    return config_mod.load(args.config)


def cmd_synth(args: argparse.Namespace) -> None:
    from sertools import synth

    summary = synth.generate(
        args.out_dir,
        utterances=args.utterances,
        seed=args.seed,
        labels_only=args.labels_only,
        min_duration_s=args.min_duration,
        max_duration_s=args.max_duration,
    )
    print(f"wrote a synthetic MSP-Podcast corpus to {args.out_dir}: {summary}")


def cmd_labels(args: argparse.Namespace) -> None:
    from sertools import labels

    s = labels.run(args.corpus_dir, args.out, args.summary, _cfg(args)["labels"])
    print(
        f"{args.out}: {s['utterances_kept']}/{s['utterances_read']} utterances, "
        f"{s['annotations_kept']}/{s['annotations_read']} annotations kept; summary in {args.summary}"
    )


def cmd_manifest(args: argparse.Namespace) -> None:
    from sertools import audio

    summary_path = args.summary or str(Path(args.out).with_suffix("")) + "_summary.json"
    s = audio.run(
        args.corpus_dir, args.labels, args.out, summary_path, _cfg(args)["manifest"], args.cache_dir
    )
    print(f"{args.out}: {s['utterances_kept']}/{s['utterances_read']} utterances, {s['hours']:.2f} h")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sertools", description=__doc__.splitlines()[0])
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write a synthetic corpus in the MSP-Podcast 2.0 layout")
    s.add_argument("out_dir")
    s.add_argument("--utterances", type=int, required=True, help="total utterances over all splits")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--labels-only", action="store_true", help="write label files only (no audio)")
    s.add_argument("--min-duration", type=float, default=1.5, help="seconds (default 1.5)")
    s.add_argument("--max-duration", type=float, default=3.0, help="seconds (default 3.0)")
    s.set_defaults(func=cmd_synth)

    s = sub.add_parser("labels", help="build the per-utterance vote-distribution table")
    s.add_argument("corpus_dir")
    s.add_argument("--out", required=True, help="LABELS.parquet")
    s.add_argument("--summary", required=True, help="SUMMARY.json")
    s.add_argument("--config", help="config YAML (default: the built-in defaults)")
    s.set_defaults(func=cmd_labels)

    s = sub.add_parser("manifest", help="probe, filter and (if needed) convert the audio")
    s.add_argument("corpus_dir")
    s.add_argument("labels", help="LABELS.parquet from `sertools labels`")
    s.add_argument("--out", required=True, help="MANIFEST.parquet")
    s.add_argument("--summary", help="summary JSON (default: next to --out)")
    s.add_argument("--cache-dir", help="where converted audio goes (default: audio_cache/ next to --out)")
    s.add_argument("--config", help="config YAML (default: the built-in defaults)")
    s.set_defaults(func=cmd_manifest)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func: Callable[[argparse.Namespace], None] = args.func
    known = _known_errors()
    try:
        func(args)
    except known as e:
        print(f"sertools {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


def _known_errors() -> tuple[type[BaseException], ...]:
    from sertools.audio import AudioError
    from sertools.corpus import CorpusFormatError
    from sertools.labels import LabelError

    return (config_mod.ConfigError, CorpusFormatError, LabelError, AudioError, FileNotFoundError, ValueError)


if __name__ == "__main__":
    sys.exit(main())

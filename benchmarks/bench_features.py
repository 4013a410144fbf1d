"""Frozen-feature upstreams on the demo corpus: eGeMAPS extraction (1 vs 2 processes), head-only training.

    python benchmarks/bench_features.py [--manifest results/manifest/manifest.parquet] [--workers 2]
        [--labels results/labels/labels.parquet]

The corpus is the demo's: the utterances of ``results/manifest/manifest.parquet``
(with ``results/labels/labels.parquet``) when ``make demo`` has written them,
else the same synthetic corpus built afresh in a temporary directory from
``config/config.yaml``'s ``synthetic`` section (sertools.corpus.synthetic, then
the label and manifest stages, as benchmarks/bench_train.py does).

Sections, each a function of the corpus (:data:`SECTIONS`):

1. ``egemaps_scaling``: sertools.features.egemaps.extract over every utterance,
   in this process (``workers=1``) and with a pool of ``--workers`` worker
   processes, in the same run on the same files (read once beforehand, so both
   find them in the page cache). Each time is the whole call as a stage sees
   it: the openSMILE configuration for one worker, the processes' start-up
   (forked) for the pool. The two arrays must be bitwise equal. Target: a
   speed-up of at least 1.8x on 2 cores.
2. ``head_training``: the demo's frozen rows (``config/config.yaml`` variants
   with ``model.mode: frozen``), each trained once (seed 0, one thread) on
   eGeMAPS features of Train and Development written by the features stage:
   the whole ``sertools.training.train.from_config`` call, so reading the
   feature files, the config hash over them, every epoch, validation and the
   checkpoints are included. Target: at most 10 s per training.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

# Only what every section needs at the top; the stages are imported where they are used.
from sertools.data.audio import read_audio
from sertools.features import egemaps

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "config" / "config.yaml"
DEMO_MANIFEST = ROOT / "results" / "manifest" / "manifest.parquet"
DEMO_LABELS = ROOT / "results" / "labels" / "labels.parquet"


@dataclass(frozen=True)
class Corpus:
    """The demo corpus a section measures: its label table, manifest and where they came from."""

    labels: Path
    manifest: Path
    table: pd.DataFrame  # the manifest's rows; ``path`` made absolute
    origin: str

    @property
    def paths(self) -> list[str]:
        return self.table["path"].tolist()

    @property
    def sample_rate(self) -> int:
        rates = self.table["sample_rate"].unique()
        if len(rates) != 1:
            raise SystemExit(f"{self.manifest}: more than one sample rate ({sorted(rates)})")
        return int(rates[0])

    @property
    def audio_seconds(self) -> float:
        return float(self.table["frames"].sum() / self.sample_rate)


def _read(labels: Path, man: Path, origin: str) -> Corpus:
    table = pd.read_parquet(man)
    table["path"] = [str(p if Path(p).is_absolute() else ROOT / p) for p in table["path"]]
    return Corpus(labels, man, table, origin)


@contextmanager
def demo_corpus(labels: Path, man: Path) -> Iterator[Corpus]:
    """``labels`` and ``man`` (the demo's) if the manifest exists, else the demo's corpus built in a temporary directory."""
    if man.exists():
        yield _read(labels, man, str(man))
        return
    from sertools import config as config_mod
    from sertools.corpus import msp
    from sertools.corpus.synthetic import generate as synth
    from sertools.data import manifest
    from sertools.labels import build

    cfg = config_mod.load(DEMO_CONFIG)
    syn = cfg["synthetic"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        synth.generate(
            root / "corpus",
            syn["utterances"],
            syn["seed"],
            min_duration_s=syn["min_duration_s"],
            max_duration_s=syn["max_duration_s"],
        )
        table, built = root / "labels.parquet", root / "manifest.parquet"
        build.run(
            msp.label_files(root / "corpus", cfg["labels"]["detailed_source"]),
            {"table": table, "summary": table.with_suffix(".json")},
            labels=cfg["labels"],
        )
        manifest.run(
            {"labels": table, "audio": root / "corpus" / "Audios"},
            {"manifest": built, "summary": built.with_suffix(".json")},
            manifest=cfg["manifest"],
        )
        origin = f"synthetic demo corpus built in {time.perf_counter() - t:.1f} s ({man} does not exist)"
        yield _read(table, built, origin)


def egemaps_scaling(corpus: Corpus, args: argparse.Namespace) -> None:
    """eGeMAPS extraction: one process vs a pool of ``args.workers``, same files, same run."""
    paths, sr, n = corpus.paths, corpus.sample_rate, len(corpus.paths)
    for p in paths:  # the page cache holds every file before either timing
        read_audio(p, sr)
    dur = corpus.table["frames"] / sr
    print(
        f"eGeMAPS ({egemaps.FEATURE_SET}, {egemaps.DIM} functionals): {n} clips, "
        f"{corpus.audio_seconds / 60:.1f} min of audio ({dur.min():.2f}-{dur.max():.2f} s, mean {dur.mean():.2f} s)"
    )
    times = {}
    rows = {}
    for workers in (1, args.workers):
        t = time.perf_counter()
        rows[workers] = egemaps.extract(paths, sr, workers=workers)
        times[workers] = time.perf_counter() - t
        per_core = 1000 * times[workers] * workers / n
        print(
            f"  workers={workers}: {times[workers]:6.2f} s, {1000 * times[workers] / n:5.1f} ms/clip wall, "
            f"{per_core:5.1f} ms/clip per core, {corpus.audio_seconds / times[workers]:.0f}x real time"
        )
    same = rows[1].tobytes() == rows[args.workers].tobytes()
    print(f"  rows bitwise equal across worker counts: {same}")
    if not same:
        raise SystemExit("eGeMAPS rows differ between workers=1 and workers>1")
    speedup = times[1] / times[args.workers]
    print(f"  speed-up with {args.workers} workers: {speedup:.2f}x (on {os.cpu_count()} cores)")
    overhead = times[args.workers] - times[1] / args.workers
    print(
        f"  pool time over an even split of the one-process time: {overhead:.2f} s "
        "(starting the workers, openSMILE's configuration, the last chunk)"
    )
    print(
        f"RESULT|eGeMAPS extraction, demo corpus ({n:,} clips, mean {dur.mean():.2f} s), 1 process|"
        f"{1000 * times[1] / n:.1f} ms/clip|-|-"
    )
    print(
        f"RESULT|eGeMAPS extraction, demo corpus ({n:,} clips), {args.workers} worker processes vs 1|"
        f"{speedup:.2f}x|>= 1.8x|{times[1]:.1f} s vs {times[args.workers]:.1f} s"
    )


def head_training(corpus: Corpus, args: argparse.Namespace) -> None:
    from sertools import config
    from sertools.features import extract
    from sertools.training import train

    cfg = config.load(DEMO_CONFIG)
    rows = [v for v in cfg["variants"] if config.variant_model(cfg, v)["mode"] == "frozen"]
    print(f"\nhead-only training of the demo's frozen rows {rows}, seed 0, 1 thread:")
    with tempfile.TemporaryDirectory() as tmp:
        feats = Path(tmp) / "features"
        for split in ("Train", "Development"):
            extract.run(
                {"manifest": corpus.manifest},
                {"features": feats / f"{split}.safetensors", "summary": feats / f"{split}.json"},
                upstream="egemaps",
                split=split,
                settings=cfg["features"]["egemaps"],
                threads=args.workers,
            )
        for name in rows:
            t = time.perf_counter()
            summary = train.from_config(
                corpus.labels, corpus.manifest, Path(tmp) / name, cfg, name, 0, threads=1, features_dir=feats
            )
            seconds = time.perf_counter() - t
            print(
                f"  {name}: {seconds:.1f} s ({summary['epochs_run']} epochs, best {summary['best_epoch']}, "
                f"{summary['n_train']} Train utterances)"
            )
            print(
                f"RESULT|head-only training on cached eGeMAPS features, {name} (demo, {summary['epochs_run']} epochs)|"
                f"{seconds:.1f} s|<= 10 s|-"
            )


#: the sections, in order: each prints its own lines and RESULT rows
SECTIONS: list[Callable[[Corpus, argparse.Namespace], None]] = [
    egemaps_scaling,
    head_training,
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", type=Path, default=DEMO_MANIFEST)
    ap.add_argument("--labels", type=Path, default=DEMO_LABELS, help="the label table beside --manifest")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if args.workers < 2:
        ap.error("--workers must be at least 2 (it is compared with 1)")
    with demo_corpus(args.labels, args.manifest) as corpus:
        print(f"corpus: {corpus.origin}")
        for section in SECTIONS:
            section(corpus, args)


if __name__ == "__main__":
    main()

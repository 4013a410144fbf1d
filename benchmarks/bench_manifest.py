"""Audio manifest stage throughput: header probing, and conversion of non-16 kHz audio.

    python benchmarks/bench_manifest.py [--files 1000] [--convert 100]

Writes ``--files`` 16 kHz mono 16-bit wavs with MSP-Podcast-like durations
(2.75-11 s) and ``--convert`` stereo 44.1 kHz ones, then times the manifest
stage (sertools.data.manifest.build_manifest) on each set. The naive reference for
the first set decodes every file to learn its length, where the stage reads
the header only (and checks the RIFF chunk sizes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from sertools import config as config_mod
from sertools.data import manifest

SR = 16000


def write_set(root: Path, n: int, rate: int, channels: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    (root / "Audios").mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(n):
        frames = int(rng.uniform(2.75, 11.0) * rate)
        x = (0.1 * rng.standard_normal((frames, channels))).astype(np.float32)
        fid = f"MSP-PODCAST_{seed:04d}_{i:04d}.wav"
        sf.write(root / "Audios" / fid, x if channels > 1 else x[:, 0], rate, subtype="PCM_16")
        ids.append(fid)
    return pd.DataFrame({"file_id": ids, "split": "Train"})


def naive_durations(root: Path, labels: pd.DataFrame) -> float:
    total = 0.0
    for fid in labels["file_id"]:
        wave, sr = sf.read(root / "Audios" / fid, dtype="float32")
        total += len(wave) / sr
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--convert", type=int, default=100)
    args = ap.parse_args()
    cfg = {**config_mod.resolve({})["manifest"], "max_duration_s": 30.0}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        labels = write_set(tmp / "a", args.files, SR, 1, 1)
        t = time.perf_counter()
        _man, summary = manifest.build_manifest(
            labels, tmp / "a" / "Audios", manifest=cfg, cache_dir=tmp / "cache_a"
        )
        probe_s = time.perf_counter() - t
        assert summary["utterances_kept"] == args.files
        t = time.perf_counter()
        hours = naive_durations(tmp / "a", labels) / 3600
        naive_s = time.perf_counter() - t
        assert abs(hours - summary["hours"]) < 1e-6
        print(
            f"{args.files} 16 kHz mono wavs ({summary['hours']:.2f} h): manifest {probe_s:.2f} s, decode-all reference {naive_s:.2f} s"
        )
        print(
            f"RESULT|manifest, 16 kHz mono wavs (2.75-11 s), header probe|{args.files / probe_s:.0f} files/s|-|"
            f"decode-every-file reference {args.files / naive_s:.0f} files/s ({naive_s / probe_s:.0f}x slower)"
        )
        labels = write_set(tmp / "b", args.convert, 44100, 2, 2)
        t = time.perf_counter()
        _, summary = manifest.build_manifest(
            labels, tmp / "b" / "Audios", manifest=cfg, cache_dir=tmp / "cache_b"
        )
        conv_s = time.perf_counter() - t
        assert summary["converted_to_cache"] == args.convert
        audio_s = summary["hours"] * 3600
        print(
            f"{args.convert} stereo 44.1 kHz wavs: converted in {conv_s:.2f} s ({audio_s / conv_s:.0f} s of audio per s)"
        )
        print(
            f"RESULT|manifest, stereo 44.1 kHz wavs converted to 16 kHz mono (first run)|{args.convert / conv_s:.1f} files/s|-|-"
        )
        t = time.perf_counter()
        manifest.build_manifest(labels, tmp / "b" / "Audios", manifest=cfg, cache_dir=tmp / "cache_b")
        again = time.perf_counter() - t
        print(f"second run reuses the cache: {again:.2f} s")
        print(
            f"RESULT|manifest rerun with the conversion cache|{args.convert / again:.0f} files/s|-|{conv_s / again:.0f}x faster than converting"
        )


if __name__ == "__main__":
    main()

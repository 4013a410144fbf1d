"""Benchmark of the synthetic corpus generator (sertools.corpus.synthetic).

Prints
  * audio generation throughput: utterances per second of ``generate`` with
    audio (fixed-length utterances, default 400 x 3 s), end to end (labels,
    latent truth, rendering and atomic wav writes), plus render-only throughput;
  * the wall time of the full-scale labels-only run (267,905 utterances,
    about 1.45 M annotation rows); ``--skip-full`` skips it;
  * the peak resident memory of each phase (each runs in its own child process
    so one phase's peak does not hide the other's).

Usage: python benchmarks/bench_synth.py [--utterances 400] [--duration 3.0] [--skip-full]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _phase_audio(n: int, duration: float, seed: int) -> dict:
    import scipy.signal  # noqa: F401  (import cost is not generation cost)

    from sertools.corpus.synthetic import generate, labels, layout, sampling, voice

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = generate.generate(tmp, n, seed, min_duration_s=duration, max_duration_s=duration)
        total = time.perf_counter() - t0

    # Render only (no label tables, no file I/O), same cue vectors.
    lay = layout.make_layout(n, seed, duration, duration)
    voices = voice.voices(lay, labels.latent(lay, seed), seed)
    n_samples = round(duration * 16000)
    t0 = time.perf_counter()
    for i in range(n):
        y = voice.render(
            voices.params(i),
            n_samples,
            16000,
            sampling.rng(seed, sampling.STREAM_AUDIO, i),
        )
    render = time.perf_counter() - t0
    assert y.shape == (n_samples,)
    return {
        "utterances": n,
        "seconds": total,
        "utt_per_s": n / total,
        "render_utt_per_s": n / render,
        "peak_limited_files": summary["peak_limited_files"],
        "peak_rss_mib": _peak_mib(),
    }


def _phase_full(n: int, seed: int) -> dict:
    from sertools.corpus.synthetic import generate

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = generate.generate(tmp, n, seed, labels_only=True)
        elapsed = time.perf_counter() - t0
        sizes = {p.name: p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file()}
    return {
        "utterances": n,
        "seconds": elapsed,
        "annotation_rows": summary["annotation_rows"],
        "x_rate": summary["x_rate"],
        "consensus_counts": summary["consensus_counts"],
        "bytes": sizes,
        "peak_rss_mib": _peak_mib(),
    }


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--utterances", type=int, default=400, help="utterances for the audio benchmark")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per utterance (audio benchmark)")
    ap.add_argument("--full-utterances", type=int, default=267_905, help="size of the labels-only run")
    ap.add_argument("--skip-full", action="store_true", help="skip the full-scale labels-only run")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--phase", choices=["audio", "full"], help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.phase == "audio":
        print(json.dumps(_phase_audio(a.utterances, a.duration, a.seed)))
        return
    if a.phase == "full":
        print(json.dumps(_phase_full(a.full_utterances, a.seed)))
        return

    audio = _child(["--phase", "audio", "--utterances", str(a.utterances), "--duration", str(a.duration)])
    print(f"audio: {audio['utterances']} x {a.duration:g} s utterances in {audio['seconds']:.2f} s")
    print(f"  generate (labels + render + atomic wav writes): {audio['utt_per_s']:.0f} utterances/s")
    print(f"  render only (no I/O):                           {audio['render_utt_per_s']:.0f} utterances/s")
    print(f"  peak-limited files: {audio['peak_limited_files']}; peak RSS {audio['peak_rss_mib']:.0f} MiB")
    print(
        f"RESULT|audio generation, {a.duration:g}-s utterances, end to end|{audio['utt_per_s']:.0f} utt/s|>= 200 utt/s|-"
    )
    print(f"RESULT|audio render only (no I/O)|{audio['render_utt_per_s']:.0f} utt/s|-|-")
    print(f"RESULT|peak RSS, audio run|{audio['peak_rss_mib']:.0f} MiB|-|-")
    if a.skip_full:
        print("full-scale labels-only run: skipped")
        return
    full = _child(["--phase", "full", "--full-utterances", str(a.full_utterances), "--seed", str(a.seed)])
    print(
        f"labels-only, {full['utterances']:,} utterances: {full['seconds']:.2f} s, "
        f"{full['annotation_rows']:,} annotation rows, X rate {full['x_rate']:.3f}, "
        f"peak RSS {full['peak_rss_mib']:.0f} MiB"
    )
    print("  consensus counts: " + ", ".join(f"{k} {v:,}" for k, v in full["consensus_counts"].items()))
    print("  file sizes (MB): " + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in sorted(full["bytes"].items())))
    rows = f"{full['utterances']:,} utt, {full['annotation_rows'] / 1e6:.2f} M rows"
    print(f"RESULT|labels-only full scale ({rows})|{full['seconds']:.1f} s|< 30 s|-")
    print(f"RESULT|peak RSS, labels-only full scale|{full['peak_rss_mib']:.0f} MiB|-|-")
    print(f"RESULT|emergent X (no agreement) rate|{full['x_rate']:.3f}|~0.18 (MSP 2.0)|-")


if __name__ == "__main__":
    main()

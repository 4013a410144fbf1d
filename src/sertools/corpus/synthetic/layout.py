"""Who speaks where: partitions, speakers, podcasts, file names and durations.

Splits follow MSP-Podcast 2.0's proportions (docs/corpus.md, "Partitions"),
every split non-empty. There are about 7*sqrt(N) speakers (3,623 at full scale;
2.0 has 3,641) with 1-4 speakers per podcast; podcasts, and hence speakers, are
disjoint across splits (stricter than the real corpus, where only Test2 is
speaker-disjoint). File names are ``MSP-PODCAST_<podcast>_<turn>.wav`` with
random 4-digit podcast numbers; inside a podcast the speakers' turns interleave
and the turn number grows by 1-3 from one utterance to the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sertools.corpus.synthetic import sampling

MSP2_SPLIT_SIZES: tuple[int, ...] = (169_190, 34_399, 46_294, 14_822)  # in sertools.splits.SPLITS order
MAX_UTTERANCES = 2_000_000  # keeps podcast and turn numbers within 4 digits


def split_sizes(n: int) -> np.ndarray:
    """Utterances per split in MSP 2.0 proportions, each at least 1, summing to n."""
    share = np.asarray(MSP2_SPLIT_SIZES, dtype=float)
    share /= share.sum()
    target = n * share
    sizes = np.maximum(1, np.floor(target)).astype(np.int64)
    while sizes.sum() < n:
        sizes[np.argmax(target - sizes)] += 1
    while sizes.sum() > n:
        room = np.where(sizes > 1, sizes - target, -np.inf)
        sizes[np.argmax(room)] -= 1
    return sizes


@dataclass(frozen=True)
class Layout:
    """Per-utterance structure (sorted by file name) and per-speaker traits."""

    file_id: np.ndarray  # object, wav names
    split: np.ndarray  # int, index into sertools.splits.SPLITS
    speaker: np.ndarray  # int, index into the speaker arrays
    podcast: np.ndarray  # int, index into the podcast arrays
    duration_s: np.ndarray
    spk_id: np.ndarray  # int, public SpkrID per speaker
    spk_female: np.ndarray  # bool per speaker
    spk_podcast: np.ndarray  # podcast index per speaker
    n_podcasts: int


def make_layout(n: int, seed: int, min_dur: float, max_dur: float) -> Layout:
    """The layout of an ``n``-utterance corpus (stream ``STREAM_LAYOUT``)."""
    rng = sampling.rng(seed, sampling.STREAM_LAYOUT)
    split, speaker, spk_podcast, n_pod = _speakers_and_podcasts(split_sizes(n), rng)
    podcast = spk_podcast[speaker]

    # Public numbers: random 4-digit podcast ids, random speaker ids.
    n_spk = len(spk_podcast)
    pod_number = rng.choice(9999, size=n_pod, replace=False) + 1
    spk_id = rng.choice(max(10 * n_spk, 10_000), size=n_spk, replace=False) + 1
    spk_female = rng.random(n_spk) < 0.45

    order = np.lexsort((rng.random(n), pod_number[podcast]))
    split, speaker, podcast = split[order], speaker[order], podcast[order]
    pods = pod_number[podcast]
    turn = _turns(pods, podcast, n_pod, rng)
    file_id = _file_names(pods, turn)
    duration = rng.uniform(min_dur, max_dur, n)
    return Layout(file_id, split, speaker, podcast, duration, spk_id, spk_female, spk_podcast, n_pod)


def _speakers_and_podcasts(
    sizes: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Split and speaker of every utterance, podcast of every speaker, number of podcasts."""
    n = int(sizes.sum())
    per_speaker = max(2.0, math.sqrt(n) / 7.0)
    utt_split, utt_spk, spk_pod = [], [], []
    n_spk = n_pod = 0
    for s, n_s in enumerate(sizes):
        k = int(min(n_s, max(1, round(n_s / per_speaker))))
        counts = 1 + rng.multinomial(n_s - k, sampling.normalise(rng.lognormal(0.0, 0.8, k)))
        pod_sizes = 1 + np.minimum(rng.poisson(0.7, k), 3)
        pod_of_spk = np.searchsorted(np.cumsum(pod_sizes), np.arange(k), side="right")
        utt_split.append(np.full(n_s, s))
        utt_spk.append(n_spk + np.repeat(np.arange(k), counts))
        spk_pod.append(n_pod + pod_of_spk)
        n_spk += k
        n_pod += int(pod_of_spk[-1]) + 1
    return np.concatenate(utt_split), np.concatenate(utt_spk), np.concatenate(spk_pod), n_pod


def _turns(pods: np.ndarray, podcast: np.ndarray, n_pod: int, rng: np.random.Generator) -> np.ndarray:
    """Turn numbers: speakers interleave inside a podcast; numbers increase by 1-3.

    ``pods`` (public podcast number per utterance) must be sorted.
    """
    n = len(pods)
    gaps = rng.integers(1, 4, n)
    starts = rng.integers(0, 5, n_pod)
    rank = _group_rank(pods)
    cum = np.cumsum(gaps)
    first = np.r_[0, np.flatnonzero(pods[1:] != pods[:-1]) + 1]
    base = np.repeat(cum[first] - gaps[first], np.diff(np.r_[first, n]))
    turn = starts[podcast] + cum - base
    too_long = np.zeros(n_pod, dtype=bool)
    np.maximum.at(too_long, podcast, turn > 9999)
    turn = np.where(too_long[podcast], rank + 1, turn)
    if turn.max() > 9999:  # impossible below MAX_UTTERANCES, kept as a guard
        raise ValueError("a podcast received more than 9,999 utterances; lower `utterances`")
    return turn


def _group_rank(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element inside its run; ``groups`` must be sorted."""
    n = len(groups)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


def _file_names(podcast_numbers: np.ndarray, turns: np.ndarray) -> np.ndarray:
    pod = pd.Series(podcast_numbers).astype(str).str.zfill(4)
    turn = pd.Series(turns).astype(str).str.zfill(4)
    return ("MSP-PODCAST_" + pod + "_" + turn + ".wav").to_numpy(dtype=object)

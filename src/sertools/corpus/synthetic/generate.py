"""The ``synth_corpus`` stage: a synthetic MSP-Podcast 2.0 corpus with a known truth.

:func:`generate` writes a corpus in exactly the MSP-Podcast 2.0 layout
(``Audios/``, ``Labels/labels_consensus.csv``, ``Labels/labels_detailed.csv``,
``Labels/labels.txt``; docs/corpus.md) plus files a real release does not
have, all at the corpus root: ``latent_truth.parquet`` (the TRUE class
distribution and A/V/D of every utterance), ``rater_truth.parquet`` (every
simulated worker's reliability, style and biases), ``rater_mixture.parquet``
(the raters' mixture q_bar of every utterance: what an unlimited panel of
these raters would vote, :func:`.labels.rater_mixture`) and ``synth_meta.json``. The corpus is a pure function of
(utterances, seed, durations, sample rate).

The parts, each drawing from its own random stream (:mod:`.sampling`):
:mod:`.layout` (splits, speakers, podcasts, file names, durations),
:mod:`.labels` (latent distributions, raters, votes, consensus),
:mod:`.voice` (acoustic cues and source-filter synthesis) and
:mod:`.writers` (the files).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sertools import __version__
from sertools.classes import MSP_PODCAST, NO_AGREEMENT, class_set
from sertools.corpus.synthetic import crema_d_layout, labels, voice, writers
from sertools.corpus.synthetic.layout import MAX_UTTERANCES, MSP2_SPLIT_SIZES, Layout, make_layout
from sertools.splits import SPLITS

log = logging.getLogger(__name__)

GENERATOR_VERSION = "synth-2"


def output_files(classes: str = "msp_podcast") -> dict[str, str]:
    """Output key -> path inside the corpus of the files :func:`run` writes (``audio`` with audio).

    ``truth`` and ``mixture`` in either layout; ``consensus``, ``detailed``, ``labels_txt`` in
    MSP-Podcast's; ``votes``, ``sentences``, ``demographics`` in CREMA-D's.
    """
    if class_set(classes) == MSP_PODCAST:
        own = {"consensus": writers.CONSENSUS, "detailed": writers.DETAILED, "labels_txt": writers.LABELS_TXT}
        audio = writers.AUDIO_DIR
    else:
        own = {
            "votes": crema_d_layout.VOTES,
            "sentences": crema_d_layout.SENTENCES,
            "demographics": crema_d_layout.DEMOGRAPHICS,
        }
        audio = crema_d_layout.AUDIO_DIR
    return {**own, "truth": writers.LATENT_TRUTH, "mixture": writers.RATER_MIXTURE, "audio": audio}


def run(
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Any],
    *,
    synthetic: Mapping[str, Any],
    threads: int = 1,
) -> dict:
    """The ``synth_corpus`` rule: write the corpus the ``outputs`` name.

    ``outputs`` (a Snakemake named list or a dict) has ``truth`` (the corpus
    directory is its parent), ``consensus``, ``detailed``, optionally ``audio``
    and ``labels_txt``; each must be where the generator writes it. Without
    ``audio`` only the labels and latent values are written (``labels_only``:
    the study's re-drawn votes, rule ``study_votes``). ``synthetic`` is
    the config section (``utterances``, ``seed``, ``min_duration_s``,
    ``max_duration_s``); ``mixture``, if named, is the raters' mixture file. ``inputs`` holds only the library files the rule
    depends on and is not read. ``threads``: processes rendering the audio (the same bytes for any number).
    """
    root = Path(outputs["truth"]).parent
    classes = str(synthetic.get("classes", "msp_podcast"))
    files = output_files(classes)
    required = ("consensus", "detailed") if class_set(classes) == MSP_PODCAST else ("votes", "sentences")
    expected = {"truth": files["truth"], **{k: files[k] for k in required}}
    named = dict(outputs.items())  # a Snakemake named list's `in` looks at values
    for key, rel in files.items():
        if key in named:
            expected[key] = rel
    unknown = sorted(set(named) - set(files))
    if unknown:
        raise ValueError(f"output(s) {unknown} are not files of a synthetic.classes: {classes} corpus")
    for key, rel in expected.items():
        if Path(outputs[key]) != root / rel:
            raise ValueError(
                f"output {key!r} is {str(outputs[key])!r}; the generator writes {str(root / rel)!r}"
            )
    summary = generate(
        root,
        synthetic["utterances"],
        synthetic["seed"],
        labels_only="audio" not in named,
        min_duration_s=synthetic["min_duration_s"],
        max_duration_s=synthetic["max_duration_s"],
        cue_contrast=synthetic["cue_contrast"],
        rater_settings=labels.RaterSettings.from_config(synthetic["raters"]),
        workers=threads,
        classes=classes,
    )
    log.info("synthetic corpus: %s", summary)
    return summary


def generate(
    out_dir: str | Path,
    utterances: int,
    seed: int,
    *,
    labels_only: bool = False,
    min_duration_s: float = 1.5,
    max_duration_s: float = 3.0,
    sample_rate: int = 16000,
    cue_contrast: float = 1.0,
    rater_settings: labels.RaterSettings | None = None,
    workers: int = 1,
    classes: str = "msp_podcast",
) -> dict[str, Any]:
    """Write a synthetic MSP-Podcast 2.0 corpus to ``out_dir``; return a summary.

    The same (utterances, seed, durations, sample_rate) always gives
    byte-identical files. ``labels_only`` skips ``Audios/`` but leaves every
    label and latent value unchanged. ``rater_settings`` (default: today's raters)
    change only the votes: the latent truth and the audio depend on
    (utterances, seed, durations, sample_rate) alone. Existing files of the same names are
    replaced; stray older files in ``out_dir`` are left alone. ``cue_contrast``
    scales every class's acoustic contrast to Neutral (:func:`.voice.cue_table`;
    1 is the default corpus): it changes the audio only, never the latent truth
    or the votes. ``classes`` (``synthetic.classes``): ``msp_podcast`` writes MSP-Podcast 2.0's
    nine classes in its layout; ``crema_d`` draws over CREMA-D's six classes and writes a
    CREMA-D download (:mod:`.crema_d_layout`), with no Other, secondary labels or A/V/D ratings.
    """
    _validate(utterances, seed, min_duration_s, max_duration_s, sample_rate)
    if isinstance(cue_contrast, bool) or not isinstance(cue_contrast, int | float | np.integer | np.floating):
        raise ValueError(f"cue_contrast must be a number, got {cue_contrast!r}")
    cue_contrast = float(cue_contrast)
    voice.cue_table(cue_contrast)  # checks it before anything is written
    tables = labels.class_tables(class_set(classes))
    rater_settings = rater_settings or labels.RaterSettings()
    root = _corpus_dir(out_dir, labels_only)
    utterances, seed = int(utterances), int(seed)
    min_duration_s, max_duration_s = float(min_duration_s), float(max_duration_s)

    layout = make_layout(utterances, seed, min_duration_s, max_duration_s)
    latent = labels.latent(layout, seed, tables)
    raters = labels.raters(labels.expected_annotations(utterances), seed, rater_settings, tables)
    ann = labels.annotate(latent, raters, seed, rater_settings, tables)
    codes, counts = labels.consensus(ann.utt, ann.primary, utterances, tables.classes.codes)
    mixture = labels.rater_mixture(latent, raters, rater_settings, tables)

    audio_layout, audio_dir = layout, writers.AUDIO_DIR
    if tables.full:
        mean = labels.mean_ratings(ann, utterances)
        writers.write_consensus(root, layout, codes, mean)
        writers.write_detailed(root, layout, ann, raters)
        writers.write_labels_txt(root, layout, ann, raters, codes, mean)
        writers.write_latent(root, layout, latent)
        writers.write_raters(root, raters, ann)
        writers.write_mixture(root, layout, mixture)
    else:
        names = crema_d_layout.clip_names(layout, latent.p_true.argmax(axis=1))
        clips = dataclasses.replace(layout, file_id=names)
        crema_d_layout.write_votes(root, names, counts)
        crema_d_layout.write_sentences(root, names)
        crema_d_layout.write_demographics(root, layout, seed)
        writers.write_latent(root, clips, latent, crema_d_layout.actor_ids(layout), with_split=False)
        writers.write_raters(root, raters, ann)
        writers.write_mixture(root, clips, mixture)
        audio_layout, audio_dir = crema_d_layout.audio_layout(layout, names), crema_d_layout.AUDIO_DIR

    limited = 0
    audio_seconds = 0.0
    if not labels_only:
        limited = writers.write_audio(
            root,
            audio_layout,
            voice.voices(layout, latent, seed, cue_contrast=cue_contrast, tables=tables),
            seed,
            sample_rate,
            workers=workers,
            audio_dir_name=audio_dir,
        )
        audio_seconds = float(np.rint(layout.duration_s * sample_rate).sum() / sample_rate)

    summary = _summary(layout, latent, ann, codes, raters, audio_seconds, limited, labels_only, tables)
    parameters = {
        "utterances": utterances,
        "seed": seed,
        "labels_only": bool(labels_only),
        "min_duration_s": min_duration_s,
        "max_duration_s": max_duration_s,
        "sample_rate": sample_rate,
        "cue_contrast": cue_contrast,
        "raters": _rater_parameters(rater_settings),
    }
    if not tables.full:  # an MSP-Podcast-format corpus keeps the file it always had
        parameters["classes"] = classes
    writers.write_meta(root, _meta(parameters, summary, tables))
    return summary


def _rater_parameters(settings: labels.RaterSettings) -> dict[str, Any]:
    """``synth_meta.json``'s record of the raters; ``perception`` only when it is not the default
    ``raters`` (so a corpus with today's raters keeps the file it always had)."""
    out = dataclasses.asdict(settings)
    if out["perception"] == labels.RaterSettings.perception:
        del out["perception"]
    return out


def _validate(utterances: Any, seed: Any, min_duration_s: Any, max_duration_s: Any, sample_rate: Any) -> None:
    def is_int(x: Any) -> bool:
        return isinstance(x, int | np.integer) and not isinstance(x, bool)

    def is_num(x: Any) -> bool:
        return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)

    if not is_int(utterances):
        raise ValueError(f"utterances must be an integer, got {utterances!r}")
    if not 8 <= utterances <= MAX_UTTERANCES:
        raise ValueError(
            f"utterances must be between 8 (so every split is non-empty) and {MAX_UTTERANCES:,}, got {utterances}"
        )
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    for name, v in (("min_duration_s", min_duration_s), ("max_duration_s", max_duration_s)):
        if not is_num(v) or not math.isfinite(v) or not 0.25 <= v <= 60.0:
            raise ValueError(f"{name} must be a number of seconds in [0.25, 60], got {v!r}")
    if min_duration_s > max_duration_s:
        raise ValueError(
            f"min_duration_s ({min_duration_s}) must not exceed max_duration_s ({max_duration_s})"
        )
    if not is_int(sample_rate) or not 8000 <= sample_rate <= 48000:
        raise ValueError(f"sample_rate must be an integer in [8000, 48000] Hz, got {sample_rate!r}")


def _corpus_dir(out_dir: Any, labels_only: Any) -> Path:
    """``out_dir`` as a Path, once it and ``labels_only`` are checked."""
    if not isinstance(labels_only, bool | np.bool_):
        raise ValueError(f"labels_only must be True or False, got {labels_only!r}")
    if not isinstance(out_dir, str | Path) or str(out_dir) == "":
        raise ValueError(f"out_dir must be a non-empty path, got {out_dir!r}")
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise ValueError(f"out_dir {str(root)!r} exists and is not a directory")
    return root


def _meta(parameters: dict[str, Any], summary: dict[str, Any], tables: labels.ClassTables) -> dict[str, Any]:
    """Contents of ``synth_meta.json``: the call, the model's constants, the counts."""
    table = voice.cue_table(parameters["cue_contrast"])[tables.rows]
    names = tables.classes.names
    return {
        "generator": "sertools.synth",
        "generator_version": GENERATOR_VERSION,
        "sertools_version": __version__,
        "parameters": parameters,
        "model": {
            "kind_probs": dict(zip(labels.KINDS, labels.KIND_PROBS, strict=True)),
            "extra_rater_rate": dict(zip(labels.KINDS, labels.EXTRA_RATER_RATE, strict=True)),
            "raters_per_utterance": [labels.MIN_RATERS, labels.MAX_RATERS],
            "dominant_class_totals_msp2": dict(zip(names, tables.totals.astype(int).tolist(), strict=True)),
            "split_sizes_msp2": dict(zip(SPLITS, MSP2_SPLIT_SIZES, strict=True)),
            "cues": {
                names[i]: dict(zip(voice.CUE_NAMES, table[i].tolist(), strict=True)) for i in range(tables.k)
            },
        },
        "counts": summary,
    }


def _summary(
    layout: Layout,
    latent: labels.Latent,
    ann: labels.Annotations,
    codes: np.ndarray,
    raters: labels.Raters,
    audio_seconds: float,
    limited: int,
    labels_only: bool,
    tables: labels.ClassTables,
) -> dict[str, Any]:
    n = len(layout.file_id)
    code_counts = pd.Series(codes).value_counts()
    dominant = np.bincount(latent.p_true.argmax(axis=1), minlength=tables.k)
    return {
        "utterances": n,
        "splits": {s: int((layout.split == i).sum()) for i, s in enumerate(SPLITS)},
        "speakers": len(layout.spk_id),
        "podcasts": layout.n_podcasts,
        "workers_in_pool": len(raters.number),
        "workers_used": len(np.unique(ann.worker)),
        "annotation_rows": len(ann.utt),
        "annotators_per_utterance_mean": round(len(ann.utt) / n, 4),
        "consensus_counts": {c: int(code_counts.get(c, 0)) for c in tables.classes.consensus_codes},
        "x_rate": round(float(code_counts.get(NO_AGREEMENT, 0)) / n, 4),
        "dominant_class_counts": {tables.classes.names[i]: int(dominant[i]) for i in range(tables.k)},
        "kind_counts": {k: int((latent.kind == i).sum()) for i, k in enumerate(labels.KINDS)},
        "audio_files": 0 if labels_only else n,
        "audio_seconds": round(audio_seconds, 3),
        "peak_limited_files": limited,
    }

"""The model card (``README.md`` of an exported folder): what the model is, how it was made, how it scored.

Rendered from what the export collected and nothing else: the bundle's
``model.json`` (architecture, preprocessing, upstream, checkpoint), the run's
``config.yaml``, ``run.json`` and ``env.json``, and the variant's test metrics
from the workflow's own files when they lie next to the run: the metrics
document ``results/metrics/<variant>.json`` (mean over the variant's training
seeds, bootstrap CI, and this seed's own value), else the rows of
``results/tables/main.csv``. When neither is there the card says so; it never
computes a metric itself. The classes and the dimensional ratings it names are the
model's (``model.json``'s ``classes`` and ``dimensions``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sertools.splits import TEST_SPLITS

#: the metrics of the card's table, with their meaning (higher or lower is better)
CARD_METRICS: tuple[tuple[str, str], ...] = (
    ("macro_f1", "macro-F1 ↑"),
    ("accuracy", "accuracy ↑"),
    ("jsd_primary", "JSD to the primary votes ↓"),
    ("kld_primary", "KLD to the primary votes ↓"),
    ("jsd_true", "JSD to the latent truth ↓"),
    ("kld_true", "KLD to the latent truth ↓"),
    ("ccc_arousal", "CCC arousal ↑"),
    ("ccc_valence", "CCC valence ↑"),
    ("ccc_dominance", "CCC dominance ↑"),
)


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.3f}"


def _model_lines(meta: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    arch, up = meta["architecture"], meta.get("upstream") or {}
    model = config.get("model") or {}
    if meta["kind"] == "finetune":
        bb = arch.get("backbone_config") or {}
        what = (
            f"fine-tuned `{arch.get('backbone_source')}` ({bb.get('model_type')}, {bb.get('num_hidden_layers')} "
            f"transformer layers, hidden size {bb.get('hidden_size')}), layer aggregation "
            f"`{arch.get('layer_aggregation')}`, head `{arch.get('head')}`"
        )
    elif up.get("name") == "egemaps":
        what = f"a head on frozen openSMILE {up['feature_set']} functionals (openSMILE {up['opensmile']})"
    else:
        bb = up["architecture"]["backbone_config"]
        what = (
            f"a head on frozen features of `{up['model']['backbone']}` ({bb.get('model_type')}, "
            f"{len(up['layer_names'])} pooled layers of width {arch['dim']}, std pooling "
            f"{up['settings']['std_pooling']})"
        )
    return [
        f"- Model: {what}; dimensional scale `{meta['dim_scale']}`.",
        f"- Group norm: `{arch.get('group_norm', model.get('group_norm', 'n/a'))}`; waveform norm: "
        f"`{arch.get('waveform_norm', 'none')}`.",
    ]


def _use_lines(meta: Mapping[str, Any]) -> list[str]:
    prep, batching = meta["preprocessing"], meta["batching"]
    return [
        "## Input",
        "",
        f"- Audio is read with soundfile (WAV, FLAC, OGG), mixed to one channel ({prep['downmix']}) and "
        f"resampled to {prep['sample_rate']} Hz ({prep['resampler']}).",
        "- Files longer than the chunk limit (`--max-chunk-seconds`, 30 s by default) are predicted in equal "
        "chunks and averaged by length (docs/inference.md).",
        f"- The run's prediction batching: `{batching['eval_batching']}` (batch size {batching['batch_size']}, "
        f"at most {batching['max_eval_batch_seconds']} s of padded audio).",
        "",
        "## Use",
        "",
        "```bash",
        "sertools infer THIS_FOLDER audio/ --out predictions.csv",
        "```",
        "",
        "```python",
        "import sertools",
        "model = sertools.load_model('THIS_FOLDER')",
        "table = model.predict_files(['audio/']).table",
        "```",
        "",
        f"Outputs: `p_<Class>` for {', '.join(meta['classes'])}; `pred`; `entropy`; " + _ratings_output(meta),
    ]


def _ratings_output(meta: Mapping[str, Any]) -> str:
    dimensions = meta["dimensions"]
    if not dimensions:
        return "no arousal, valence or dominance ratings (the model has no dimensional head)."
    variances = meta["architecture"].get("head") == "tc_gru" or meta["kind"] != "finetune"
    return f"{', '.join(dimensions)} (1-7)" + (" and their variances." if variances else ".")


def _training_lines(meta: Mapping[str, Any], config: Mapping[str, Any], run: Mapping[str, Any]) -> list[str]:
    ck, variant = meta["checkpoint"], config.get("variant") or {}
    settings = ", ".join(
        f"{k} `{variant[k]}`"
        for k in ("targets", "loss", "hard_labels", "paper_row", "include_no_agreement")
        if variant.get(k) is not None
    )
    return [
        "## Training",
        "",
        f"- Variant `{ck.get('variant')}`, seed {ck.get('seed')}: {settings or 'settings not recorded'}.",
        f"- Best epoch {ck.get('epoch')} of {run.get('epochs_run', 'n/a')} "
        f"(selection metric `{ck.get('selection_metric')}` = {_fmt(ck.get('metric_value'))}); "
        f"{run.get('n_train', 'n/a')} Train and {run.get('n_dev', 'n/a')} Development utterances.",
        f"- Checkpoint `{ck['path']}` (SHA-256 `{ck['sha256']}`), config hash `{ck.get('config_hash')}`.",
    ]


def _provenance_lines(env: Mapping[str, Any]) -> list[str]:
    if not env:
        return ["## Provenance", "", "The run directory had no env.json."]
    git, packages = env.get("git") or {}, env.get("packages") or {}
    versions = ", ".join(f"{k} {v}" for k, v in packages.items() if k in ("torch", "transformers") and v)
    return [
        "## Provenance",
        "",
        f"- Code: sertools commit `{git.get('commit')}` (uncommitted changes: {git.get('dirty')}).",
        f"- Trained on {env.get('device')} ({env.get('cpu')}, GPU {env.get('gpu_name')}), {versions}, "
        f"at {env.get('utc_time')}.",
        "- The run's own files are in `provenance/` (env.json, run.json, train_log.csv) and `config.yaml`.",
    ]


def metric_rows(doc: Mapping[str, Any] | None, main: Sequence[Mapping[str, str]], seed: Any) -> list[str]:
    """Markdown table lines of the test metrics, from the metrics document or else main.csv's rows."""
    lines = []
    if doc is not None:
        for split in TEST_SPLITS:
            res = (doc.get("splits") or {}).get(split)
            if not res:
                continue
            files = [str(f) for f in res.get("prediction_files", [])]
            # the dumps live in .../seed<N>/<split>.parquet (workflow/rules/predict.smk)
            mine = next(
                (i for i, f in enumerate(files) if f"/seed{seed}/" in "/" + f.replace("\\", "/")), None
            )
            for name, label in CARD_METRICS:
                e = (res.get("metrics") or {}).get(name)
                if e and e.get("mean") is not None:
                    own = (
                        e["per_seed"][mine]
                        if mine is not None and mine < len(e.get("per_seed", []))
                        else None
                    )
                    lines.append(
                        f"| {split} | {label} | {_fmt(e['mean'])} [{_fmt(e.get('ci_low'))}, "
                        f"{_fmt(e.get('ci_high'))}] | {_fmt(own)} | {res.get('n_seeds')} |"
                    )
        return lines
    shown = dict(CARD_METRICS)
    for r in main:
        if r.get("split") in TEST_SPLITS and r.get("metric") in shown:
            lines.append(
                f"| {r['split']} | {shown[r['metric']]} | {_fmt(r['mean'])} [{_fmt(r['ci_low'])}, "
                f"{_fmt(r['ci_high'])}] | n/a | {r.get('n_seeds')} |"
            )
    return lines


def _metrics_lines(rows: list[str], where: str, looked: str) -> list[str]:
    if not rows:
        return [
            "## Test metrics",
            "",
            f"No test metrics: {looked}. Run the workflow's evaluation, then export again.",
        ]
    return [
        "## Test metrics",
        "",
        f"From {where}: the variant's mean over its training seeds with its 95% bootstrap CI, and this "
        "checkpoint's own value where the document names its seed.",
        "",
        "| split | metric | mean [95% CI] | this seed | seeds |",
        "|---|---|---|---|---|",
        *rows,
    ]


def render(
    meta: Mapping[str, Any],
    config: Mapping[str, Any],
    run: Mapping[str, Any],
    env: Mapping[str, Any],
    metrics: tuple[list[str], str, str],
) -> str:
    """The card's Markdown; ``metrics``: (table lines, where they came from, where they were looked for)."""
    ck = meta["checkpoint"]
    lines = [
        f"# Model card: `{ck.get('variant')}`, seed {ck.get('seed')}",
        "",
        "A speech emotion recognition model exported by `sertools export`: class probabilities over "
        f"{len(meta['classes'])} emotions "
        + (
            "and arousal, valence and dominance ratings"
            if meta["dimensions"]
            else "(no arousal, valence or dominance ratings)"
        )
        + " for any audio.",
        "",
        *_model_lines(meta, config),
        "",
        *_use_lines(meta),
        "",
        *_training_lines(meta, config, run),
        "",
        *_metrics_lines(*metrics),
        "",
        *_provenance_lines(env),
        "",
    ]
    return "\n".join(lines)

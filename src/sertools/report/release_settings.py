"""docs/paper_release/settings.md: config/paper.yaml's settings beside the paper release's, row by row.

python -m sertools.report.release_settings            # rewrite docs/paper_release/settings.md
python -m sertools.report.release_settings --check    # exit 1 if it is stale or a difference has no reason

Our side is config/paper.yaml as :func:`sertools.config.resolve` gives it, per Table 2 row (the fine-tuned
variant whose ``paper_row`` it is). The release's side is docs/paper_release/release_settings.yaml, a
transcription of its YAML files and code with the file and commit of every value. The release published
two configs: the initial one (``initial``, the H CB run) and the newest one (``head``, the merged KLD run
with the entropy filter); every other row's config is not in the release, so each row is set beside the
closer of the two (:data:`ROW_CONFIG`). Every difference must carry a reason (:data:`REASONS`), which
says where the release's value is a config value away.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sertools import config as config_mod
from sertools.classes import CLASSES
from sertools.model.release_counts import RELEASE_CLASS_COUNTS

ROOT = Path(__file__).resolve().parents[3]
PAPER_CONFIG = Path("config/paper.yaml")
TRANSCRIPTION = Path("docs/paper_release/release_settings.yaml")
OUTPUT = Path("docs/paper_release/settings.md")

ROWS = ("H CE", "H CB", "P KLD", "ML KLD", "MH KLD", "MH WKLD", "MH +F", "MH +RF", "MH +W", "MH +RW")
#: the released config each Table 2 row is set beside: its own (H CB, MH +F) or the closer one
ROW_CONFIG = {row: ("initial" if row.startswith("H ") else "head") for row in ROWS}
OWN_CONFIG = {"H CB", "MH +F"}
#: the release's short class names, in our names
RELEASE_CLASS = {
    "neu": "Neutral", "hap": "Happy", "ang": "Angry", "sad": "Sad", "fear": "Fear",
    "disgust": "Disgust", "contempt": "Contempt", "surprise": "Surprise", "other": "Other",
}  # fmt: skip
SELECTION = {"macro_f1": "one_minus_macro_f1", "kld": "val_kld"}


@dataclass(frozen=True)
class Side:
    """One Table 2 row's resolved config: its model, train section, variant and the whole config."""

    model: Mapping[str, Any]
    train: Mapping[str, Any]
    variant: Mapping[str, Any]
    cfg: Mapping[str, Any]


@dataclass(frozen=True)
class Setting:
    """One line of the table: our key(s), the transcription's id, and how each side reads."""

    name: str
    ours_key: str
    release_id: str
    ours: Callable[[Side], Any]
    release: Callable[[Any], Any] = lambda v: v
    source: str = "row"  # "row": the row's config; "code": the first code entry (or "code:<file>")
    rows: Callable[[Side], bool] = lambda s: True


def _counts(kind: str) -> Callable[[Side], Any]:
    def ours(s: Side) -> Any:
        if s.train["class_counts"] == "release":
            return _by_name({k: RELEASE_CLASS_COUNTS[kind][c] for k, c in RELEASE_CLASS.items()})
        return "the Train counts of the row's labels"

    return ours


def _by_name(counts: Mapping[str, int]) -> dict[str, int]:
    return {
        RELEASE_CLASS[k]: int(v)
        for k, v in sorted(counts.items(), key=lambda kv: CLASSES.index(RELEASE_CLASS[kv[0]]))
    }


def _newbob(v: Mapping[str, Any]) -> dict[str, Any]:
    groups = [v["lr_annealing"], v["lr_annealing_ssl"]]
    keys = [(g["improvement_threshold"], g["annealing_factor"], g["patient"]) for g in groups]
    if keys[0] != keys[1]:
        return {"heads": keys[0], "backbone": keys[1]}  # shown as they are: ours has one setting for both
    return dict(zip(("threshold", "factor", "patience"), keys[0], strict=True))


def _selection(v: str, mode: str) -> str:
    metric = SELECTION[v]
    lowest = (metric == "one_minus_macro_f1") == (mode == "max")  # highest macro-F1 = lowest 1 - macro-F1
    return f"{'lowest' if lowest else 'highest'} {metric}"


def _augmentation(v: Any) -> str:
    return "none" if not v else "speed, RIR, band-limit, noise, time masks on a schedule"


def _is_kl(s: Side) -> bool:
    return s.variant["loss"] == "kl"


#: the keys of the in-batch entropy curriculum that each of its modes reads
CURRICULUM_KEYS = {
    "threshold": ("mode", "warmup_epochs", "ramp_epochs", "start_threshold", "end_threshold"),
    "quantile": ("mode", "warmup_epochs", "quantile_schedule", "schedule_epochs"),
    "weight": ("mode", "warmup_epochs", "ramp_epochs", "alpha_start", "alpha_end", "min_weight"),
}


def _curriculum(ec: Mapping[str, Any]) -> Any:
    if ec["mode"] == "none":
        return "none"
    kind = (
        "weight"
        if ec["mode"].startswith("weight")
        else "quantile"
        if ec["quantile_schedule"]
        else "threshold"
    )
    return {k: ec[k] for k in CURRICULUM_KEYS[kind]}


def _curriculum_release(v: Mapping[str, Any]) -> Any:
    if not v["enabled"]:
        return "none"
    names = {"start_thr": "start_threshold", "end_thr": "end_threshold"}
    keys = ("mode", "warmup_epochs", "ramp_epochs", "start_thr", "end_thr")
    return {names.get(k, k): v[k] for k in keys}  # the released configs are threshold filters


SETTINGS: tuple[Setting, ...] = (
    Setting("mini-batch", "train.batch_size", "batch_size", lambda s: s.train["batch_size"]),
    Setting("gradient accumulation", "train.grad_accum", "grad_accum_steps", lambda s: s.train["grad_accum"]),
    Setting("epochs at most", "train.max_epochs", "number_of_epochs", lambda s: s.train["max_epochs"]),
    Setting("backbone learning rate", "train.lr_backbone", "ssl_lr", lambda s: s.train["lr_backbone"]),
    Setting("heads learning rate", "train.lr_heads", "head_lr", lambda s: s.train["lr_heads"]),
    Setting(
        "weight decay (AdamW)",
        "train.weight_decay",
        "weight_decay",
        lambda s: s.train["weight_decay"],
        source="code",
    ),
    Setting("gradient clipping", "train.grad_clip", "grad_clip", lambda s: s.train["grad_clip"]),
    Setting(
        "NewBob (both parameter groups)",
        "train.newbob_threshold, newbob_factor, newbob_patience",
        "lr_annealing",
        lambda s: {k: s.train[f"newbob_{k}"] for k in ("threshold", "factor", "patience")},
        _newbob,
    ),
    Setting(
        "early stopping",
        "train.early_stopping_patience, early_stopping_min_delta",
        "early_stopping",
        lambda s: {
            "patience": s.train["early_stopping_patience"],
            "min_delta": s.train["early_stopping_min_delta"],
        },
        lambda v: {"patience": v["patience"], "min_delta": v["min_delta"]},
    ),
    Setting(
        "early-stopping metric",
        "train.selection_metric",
        "early_stopping",
        lambda s: s.train["selection_metric"],
        lambda v: SELECTION[v["metric"]],
    ),
    Setting(
        "checkpoint kept as best",
        "train.selection_metric, selection_mode",
        "checkpoint_metric",
        lambda s: (
            f"{'lowest' if s.train['selection_mode'] == 'min' else 'highest'} {s.train['selection_metric']}"
        ),
        lambda v: _selection(
            v, "max"
        ),  # no checkpoint_selection block: train_ser.py defaults the mode to max
    ),
    Setting("gradual unfreezing", "train.unfreeze", "unfreeze_steps", lambda s: s.train["unfreeze"]),
    Setting("A/V/D target scale", "model.dim_scale", "vad_target_scale", lambda s: s.model["dim_scale"]),
    Setting("A/V/D loss weight", "train.dim_weight", "lambda_vad", lambda s: s.train["dim_weight"]),
    Setting(
        "batch-CCC weight in the A/V/D loss",
        "train.dim_ccc_weight",
        "lambda_ccc",
        lambda s: s.train["dim_ccc_weight"],
    ),
    Setting(
        "A/V/D attribute weights",
        "train.dim_attribute_weights",
        "vad_dim_weights",
        lambda s: dict(sorted(s.train["dim_attribute_weights"].items())),
        lambda v: dict(sorted(zip(("valence", "arousal", "dominance"), v, strict=True))),
    ),
    Setting(
        "categorical loss",
        "variants.<row>.loss",
        "cat_loss_type",
        lambda s: s.variant["loss"],
        lambda v: {"kld": "kl"}.get(v, v),
    ),
    Setting(
        "CBCE beta",
        "train.cbce_beta",
        "cbce_beta",
        lambda s: s.train["cbce_beta"],
        rows=lambda s: s.variant["loss"] == "cbce",
    ),
    Setting(
        "CBCE reduction",
        "train.cbce_reduction",
        "cbce_reduction",
        lambda s: s.train["cbce_reduction"],
        rows=lambda s: s.variant["loss"] == "cbce",
    ),
    Setting(
        "CBCE class counts",
        "train.class_counts",
        "cbce_class_counts",
        _counts("cbce"),
        _by_name,
        rows=lambda s: s.variant["loss"] == "cbce",
    ),
    Setting(
        "class-weighted KLD",
        "train.kl_class_weighting",
        "kld_weighting",
        lambda s: s.train["kl_class_weighting"] != "none",
        lambda v: bool(v["enabled"]),
        rows=_is_kl,
    ),
    Setting(
        "WKLD class counts",
        "train.class_counts",
        "kld_weighting",
        _counts("wkld"),
        lambda v: _by_name(v["class_counts"]),
        rows=lambda s: _is_kl(s) and s.train["kl_class_weighting"] != "none",
    ),
    Setting(
        "WKLD weight clamp",
        "train.kl_class_weight_clamp",
        "kld_weighting",
        lambda s: list(s.train["kl_class_weight_clamp"]),
        lambda v: [v["min_w"], v["max_w"]],
        rows=lambda s: _is_kl(s) and s.train["kl_class_weighting"] != "none",
    ),
    Setting(
        "KLD target floor",
        "train.kl_target_floor",
        "kl_target_clamp_eps",
        lambda s: s.train["kl_target_floor"],
        source="code",
        rows=_is_kl,
    ),
    Setting(
        "entropy curriculum",
        "variants.<row>.entropy_curriculum",
        "entropy_curriculum",
        lambda s: _curriculum(s.variant["entropy_curriculum"]),
        _curriculum_release,
    ),
    Setting("training seed", "seeds", "seed", lambda s: s.cfg["seeds"][0]),
    Setting("mixed precision", "train.amp", "auto_mix_prec", lambda s: s.train["amp"] != "off"),
    Setting(
        "training batches",
        "train.batching",
        "train_loader",
        lambda s: s.train["batching"],
        lambda v: "shuffled" if v["shuffle"] and v["drop_last"] else "other",
    ),
    Setting(
        "validation and test batches",
        "train.eval_batching",
        "valid_loader",
        lambda s: s.train["eval_batching"],
        lambda v: "file_order" if not v["shuffle"] else "other",
    ),
    Setting(
        "waveform augmentation",
        "(none in sertools)",
        "waveform_augmentation",
        lambda s: "none",
        _augmentation,
    ),
    Setting("sample rate", "manifest.sample_rate", "sample_rate", lambda s: s.cfg["manifest"]["sample_rate"]),
    Setting("backbone", "model.backbone", "ssl_model_hub", lambda s: s.model["backbone"]),
    Setting(
        "backbone output",
        "model.layer_aggregation",
        "output_all_hiddens",
        lambda s: s.model["layer_aggregation"],
        lambda v: "weighted_sum" if v else "last",
        source="code",
    ),
    Setting(
        "SpecAugment inside WavLM",
        "model.mask_time_prob",
        "ssl_wrapper_args",
        lambda s: s.model["mask_time_prob"] > 0,
        lambda v: bool(v["apply_spec_augment"]),
        source="code:speechbrain/lobes/models/huggingface_transformers/wav2vec2.py",
    ),
    Setting("LayerDrop", "model.layerdrop", "layerdrop", lambda s: s.model["layerdrop"]),
    Setting(
        "TC-GRU channels",
        "model.tc_gru.hidden",
        "tc_gru_conv_channels",
        lambda s: s.model["tc_gru"]["hidden"],
    ),
    Setting(
        "TC-GRU kernel",
        "model.tc_gru.kernel_size",
        "tc_gru_conv_kernel",
        lambda s: s.model["tc_gru"]["kernel_size"],
    ),
    Setting(
        "TC-GRU layers", "model.tc_gru.layers", "tc_gru_gru_layers", lambda s: s.model["tc_gru"]["layers"]
    ),
    Setting(
        "TC-GRU dropout", "model.tc_gru.dropout", "tc_gru_dropout", lambda s: s.model["tc_gru"]["dropout"]
    ),
    Setting(
        "head width", "model.tc_gru.head_hidden", "hidden_size", lambda s: s.model["tc_gru"]["head_hidden"]
    ),
    Setting(
        "head dropout",
        "model.tc_gru.head_dropout",
        "cat_mlp_dropout",
        lambda s: s.model["tc_gru"]["head_dropout"],
    ),
    Setting(
        "entropy strata edges",
        "evaluation.entropy_bins",
        "entropy_metric_bin_edges",
        lambda s: [round(e, 6) for e in s.cfg["evaluation"]["entropy_bins"]],
        lambda v: [round(e, 6) for e in v],
        source="code:utils/entropy_curriculum.py",
    ),
)


#: why each difference is there, and the config value that gives the release's (by setting, then row; "*": any row)
REASONS: Mapping[str, Mapping[str, str]] = {
    "backbone": {
        "*": "The same weights, microsoft/wavlm-base, downloaded once to this local directory "
        "(`hf download microsoft/wavlm-base --local-dir models/wavlm-base`): a hub id would be fetched by "
        "every job, or fail on nodes without hub access; `sertools check` and the workflow refuse one.",
    },
    "epochs at most": {
        "*": "Not a difference of paper.yaml: H CE's config is not released, and it is given the hard config's 18. "
        "Set `variants.h_ce.train.max_epochs` to change it.",
    },
    "categorical loss": {
        "H CE": "The row is plain CE by its name; its config is not released (the initial config is H CB's).",
        "P KLD": "The row is KLD by its name; it is set beside the newest config, whose loss is also kld.",
    },
    "checkpoint kept as best": {
        "*": "The release's newest config selects the checkpoint with the highest validation KLD (its selection "
        "mode defaults to max), i.e. the worst. We keep the best (lowest); `train.selection_mode: max` gives the "
        "release's.",
    },
    "A/V/D target scale": {
        "H CE": "H CE's config is not released; it is given the newest config's neg1_1, the scale of nine of the "
        "ten rows. `variants.h_ce.model.dim_scale: '1_7'` gives the initial config's.",
    },
    "class-weighted KLD": {
        "*": "The released configs have no class-weighted KLD row (the initial config enables it for a CBCE run, "
        "where it does nothing). ML KLD and MH WKLD use it here because their run folders say `wkld` and their "
        "confusion matrices over-predict rare classes as WKLD does (docs/paper_release.md, ambiguity b). "
        "`train.kl_class_weighting: none` in the row's train block gives plain KLD.",
    },
    "entropy curriculum": {
        "*": "The curriculum is what the row is named for; the newest config is the only one released, and it "
        "is MH +F's. `variants.<row>.entropy_curriculum` sets it per row.",
    },
    "training seed": {
        "*": "paper.yaml runs seeds 2026, 2027 and 2028 (the release ran 2026 once); the table shows the first. "
        "`seeds: [2026]` gives one run per row.",
    },
    "mixed precision": {
        "*": "The YAML's auto_mix_prec is overwritten by the command line's options and the custom batch "
        "functions never enter autocast, so the release trained in fp32, as `train.amp: 'off'` does "
        "(docs/paper_release.md, finding 7).",
    },
    "waveform augmentation": {
        "*": "The initial config augments waveforms on a schedule; the release removed that code as "
        "'non-paper' before its newest config, and which paper runs used it cannot be told "
        "(docs/paper_release.md, ambiguity d). sertools has no waveform augmentation.",
    },
}


def transcription(root: Path = ROOT) -> dict[str, Any]:
    """The release's values by setting id (docs/paper_release/release_settings.yaml)."""
    doc = yaml.safe_load((root / TRANSCRIPTION).read_text())
    return {"configs": doc["configs"], "settings": {s["id"]: s for s in doc["settings"]}}


def paper_sides(root: Path = ROOT) -> dict[str, Side]:
    """config/paper.yaml resolved, as one :class:`Side` per Table 2 row (its fine-tuned variant)."""
    user = yaml.safe_load((root / PAPER_CONFIG).read_text())
    user["corpus"]["root"] = user["corpus"].get("root") or "/path/of/MSP-PODCAST"
    cfg = config_mod.resolve(user)
    sides = {}
    for name, variant in cfg["variants"].items():
        model = config_mod.variant_model(cfg, name)
        if model["mode"] == "finetune" and variant.get("paper_row"):
            sides[variant["paper_row"]] = Side(model, config_mod.variant_train(cfg, name), variant, cfg)
    missing = [r for r in ROWS if r not in sides]
    if missing:
        raise ValueError(f"{PAPER_CONFIG}: no fine-tuned variant for Table 2 row(s) {missing}")
    return sides


def _entry(setting: Setting, row: str, release: Mapping[str, Any]) -> Mapping[str, Any] | None:
    values = release["settings"][setting.release_id]["values"]
    if setting.source == "row":
        wanted = [v for v in values if v["config"] == ROW_CONFIG[row]]
    else:
        file = setting.source.partition(":")[2]
        wanted = [v for v in values if v["config"] == "code" and (not file or v["file"] == file)]
    return wanted[0] if wanted else None


@dataclass(frozen=True)
class Line:
    """One line of the table: a setting on a group of rows whose two sides are equal."""

    setting: Setting
    rows: tuple[str, ...]
    ours: Any
    release: Any
    where: str
    reason: str | None

    @property
    def same(self) -> bool:
        return _same(self.ours, self.release)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float) and isinstance(b, int | float) and abs(a - b) <= 1e-12 * max(1, abs(a))
        )
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _reason(setting: Setting, rows: Sequence[str]) -> str | None:
    table = REASONS.get(setting.name, {})
    texts = {table.get(r, table.get("*")) for r in rows}
    return None if None in texts or len(texts) != 1 else texts.pop()


def lines(root: Path = ROOT) -> list[Line]:
    """Every setting on every Table 2 row that uses it; rows whose two sides are equal share a line."""
    sides, release = paper_sides(root), transcription(root)
    out: list[Line] = []
    for setting in SETTINGS:
        groups: dict[str, list[Any]] = {}
        for row in ROWS:
            side = sides[row]
            if not setting.rows(side):
                continue
            entry = _entry(setting, row, release)
            theirs = None if entry is None else setting.release(entry["value"])
            where = "not in the release" if entry is None else f"`{entry['file']}` @ `{entry['commit'][:10]}`"
            ours = setting.ours(side)
            key = json.dumps([ours, theirs], sort_keys=True, default=str)
            group = groups.setdefault(key, [ours, theirs, [], []])
            if where not in group[2]:
                group[2].append(where)
            group[3].append(row)
        for ours, theirs, wheres, rows in groups.values():
            reason = None if _same(ours, theirs) else _reason(setting, rows)
            out.append(Line(setting, tuple(rows), ours, theirs, "<br>".join(wheres), reason))
    return out


def unexplained(table: Sequence[Line]) -> list[Line]:
    """The differences without a reason."""
    return [line for line in table if not line.same and line.reason is None]


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "`" + json.dumps(value, sort_keys=False).replace("|", "\\|") + "`"


def render(root: Path = ROOT) -> str:
    """The Markdown page."""
    table = lines(root)
    release = transcription(root)
    configs = release["configs"]
    head = [
        "# config/paper.yaml beside the paper release, setting by setting",
        "",
        "Written by `python -m sertools.report.release_settings` from `config/paper.yaml` as "
        "`sertools.config.resolve` gives it and from the transcription of the release's files in "
        "`docs/paper_release/release_settings.yaml` (each value with its file and commit); "
        "`tests/report/test_release_settings.py` fails when this page is stale or a difference has no reason.",
        "",
        "The release published two configs: "
        + "; ".join(
            f"`{name}` = `{c['file']}` @ `{c['commit'][:10]}` ({c['describes']})"
            for name, c in configs.items()
            if name in ("initial", "head")
        )
        + ". The rows whose config was never released are set beside the closer one: H CE beside the "
        "initial (hard-label) config, the distributional rows beside the newest; H CB and MH +F are beside "
        "their own. Settings a row does not use (e.g. CBCE's on a KLD row) are left out of its line. "
        "Behaviours of the release's code that no config value names (padding, X, duplicate workers, "
        "validation loss) are in `docs/paper_release.md`.",
        "",
        "| setting | Table 2 rows | the release | from | paper.yaml | ours (key) | same | why they differ; the release's value |",
        "|---|---|---|---|---|---|---|---|",
    ]
    body = []
    for line in table:
        rows = "all" if len(line.rows) == len(ROWS) else ", ".join(line.rows)
        mark = "yes" if line.same else "**no**"
        body.append(
            f"| {line.setting.name} | {rows} | {_fmt(line.release)} | {line.where} | {_fmt(line.ours)} | "
            f"`{line.setting.ours_key}` | {mark} | {'' if line.same else line.reason or 'NO REASON'} |"
        )
    differ = sum(not line.same for line in table)
    tail = ["", f"{len(table)} lines, {differ} with a difference, each with its reason.", ""]
    return "\n".join(head + body + tail)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the page is stale or a difference has no reason"
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this checkout)")
    args = parser.parse_args(argv)
    bad = unexplained(lines(args.root))
    for line in bad:
        print(
            f"no reason: {line.setting.name} on {', '.join(line.rows)}: ours {line.ours!r}, release {line.release!r}",
            file=sys.stderr,
        )
    text = render(args.root)
    path = args.root / OUTPUT
    if args.check:
        stale = not path.exists() or path.read_text() != text
        if stale:
            print(f"{OUTPUT} is stale: run python -m sertools.report.release_settings", file=sys.stderr)
        return 1 if bad or stale else 0
    path.write_text(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

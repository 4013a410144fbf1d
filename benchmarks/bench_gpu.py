"""The paper grid's compute and disk, and WavLM-Base training throughput on a GPU.

    python benchmarks/bench_gpu.py [--batch 8] [--seconds 5.5] [--steps 20]

The model is ``config/paper.yaml``'s: WavLM-Base's last layer, the TC-GRU head
and the Gaussian VAD head (random init with Base's dimensions; the pretrained
weights have the same FLOPs). FLOPs are measured, not assumed: torch's
FlopCounterMode counts the matmul/convolution FLOPs of one training step
(forward + backward) at each stage of the gradual-unfreezing schedule (2, 4, 8,
12 trainable transformer layers; the CNN never trains), divided by the seconds
of audio in the batch. The grid's total follows the schedule epoch by epoch for
every row at its maximum number of epochs (an upper bound: early stopping ends
most runs sooner) on whole utterances of MSP-Podcast 2.0's mean duration. That
part also runs on a CPU; the throughput part needs CUDA and is skipped (with a
message) elsewhere.

Achieved TFLOP/s = FLOPs per step x steps per second; the peak is the best of
a few large bf16 matmuls on the same device.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from sertools import config as config_mod
from sertools.features.wavlm import frozen_backbone
from sertools.model import factory
from sertools.model import network as model_mod
from sertools.training.optimisation import Objective, Unfreezing, freeze, set_trainable_top

SR = 16000
PAPER = Path(__file__).resolve().parents[1] / "config" / "paper.yaml"
BASE_FIELDS = {  # WavLM-Base's WavLMConfig fields (sertools.model.backbone.tiny_backbone_config takes them)
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "conv_dim": [512] * 7,
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "num_buckets": 320,
    "max_bucket_distance": 800,
    "dropout": 0.1,
}


def paper_config() -> dict:
    """``config/paper.yaml`` resolved (its corpus.root, required there, does not matter here)."""
    user = yaml.safe_load(PAPER.read_text())
    user["corpus"] = {"source": "synthetic"}
    return config_mod.resolve(user)


def base_model(cfg: dict, device: torch.device, trainable_layers: int | None = None) -> model_mod.SERModel:
    """The paper config's model with WavLM-Base dimensions, built without any download."""
    # LayerDrop skips transformer layers at random in training; without it the count is
    # deterministic and an upper bound
    model_cfg = dict(cfg["model"], backbone="tiny", tiny=BASE_FIELDS, layerdrop=0.0)
    model = model_mod.build_model(model_cfg).to(device)
    if trainable_layers is not None:
        freeze(model.backbone)
        set_trainable_top(model.encoder_layers(), trainable_layers)
    return model


OBJECTIVE = Objective("kl", "gaussian_nll_ccc", 0.3, target_floor=1e-8)


def step(
    model: torch.nn.Module,
    wave: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    dims: torch.Tensor,
    opt: torch.optim.Optimizer | None,
    autocast_dtype: torch.dtype | None,
) -> None:
    """One training step (forward under autocast, backward, and the optimiser step when there is one)."""
    with torch.autocast(wave.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        out = model(wave, lengths)
    loss = OBJECTIVE(out.logits, out.dims, targets, dims, dims_logvar=out.dims_logvar)
    loss.backward()
    if opt is not None:
        opt.step()
        opt.zero_grad(set_to_none=True)


def batch(
    n: int, seconds: float, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A seeded batch of ``n`` random waveforms of ``seconds`` each, with class-distribution and A/V/D targets."""
    g = torch.Generator().manual_seed(0)
    wave = torch.randn(n, int(seconds * SR), generator=g).to(device)
    lengths = torch.full((n,), wave.shape[1], dtype=torch.long, device=device)
    targets = torch.softmax(torch.randn(n, 9, generator=g), dim=1).to(device)
    dims = torch.rand(n, 3, generator=g).to(device)
    return wave, lengths, targets, dims


def flops_per_audio_second(cfg: dict, trainable_layers: int, seconds: float) -> float:
    model = base_model(cfg, torch.device("cpu"), trainable_layers).train()
    wave, lengths, targets, dims = batch(2, seconds, torch.device("cpu"))
    counter = FlopCounterMode(display=False)
    with counter:
        step(model, wave, lengths, targets, dims, None, None)
    return counter.get_total_flops() / (2 * seconds)


def inference_flops_per_audio_second(cfg: dict, seconds: float) -> float:
    model = base_model(cfg, torch.device("cpu")).eval()
    wave, lengths, _, _ = batch(2, seconds, torch.device("cpu"))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(wave, lengths)
    return counter.get_total_flops() / (2 * seconds)


# MSP-Podcast 2.0 (arXiv 2509.09791, see docs/corpus.md): utterances per split and the
# release's ~407 h over 267,905 files.
MSP2 = {"Train": 169_190, "Development": 34_399, "Test1": 46_294, "Test2": 14_822}
MSP2_MEAN_S = 407 * 3600 / 267_905


def finetuned(cfg: dict) -> list[str]:
    """The fine-tuned rows of the grid (the frozen-upstream rows train heads only)."""
    return [v for v in cfg["variants"] if config_mod.variant_model(cfg, v)["mode"] == "finetune"]


def frozen(cfg: dict) -> list[str]:
    return [v for v in cfg["variants"] if v not in finetuned(cfg)]


def grid_runs(cfg: dict) -> list[tuple[str, int]]:
    """(variant, max_epochs) of every fine-tuning run of the grid: fine-tuned rows x seeds."""
    return [
        (name, int(config_mod.variant_train(cfg, name)["max_epochs"]))
        for name in finetuned(cfg)
        for _ in cfg["seeds"]
    ]


def feature_pass_flops_per_audio_second(cfg: dict, seconds: float) -> float:
    """The frozen WavLM-Base features job (sertools.features.wavlm): every hidden state, no head."""
    model_cfg = dict(cfg["model"], backbone="tiny", tiny=BASE_FIELDS, layerdrop=0.0)
    model = frozen_backbone(model_cfg, 0)
    wave, lengths, _, _ = batch(2, seconds, torch.device("cpu"))
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model.layer_states(wave, lengths)
    return counter.get_total_flops() / (2 * seconds)


def head_flops_per_row(cfg: dict, name: str) -> tuple[float, float]:
    """(training step, inference) FLOPs per utterance of a frozen row's head on 13 x 768 features."""
    model_cfg = config_mod.variant_model(cfg, name)
    head = factory.build(model_cfg, (BASE_FIELDS["num_hidden_layers"] + 1, BASE_FIELDS["hidden_size"]))
    x = torch.randn(4, head.layers * head.dim)
    targets = torch.softmax(torch.randn(4, 9), dim=1)
    counter = FlopCounterMode(display=False)
    with counter:
        out = head(x)
        OBJECTIVE(out.logits, out.dims, targets, torch.rand(4, 3), dims_logvar=out.dims_logvar).backward()
    train = counter.get_total_flops() / 4
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        head.eval()(x)
    return train, counter.get_total_flops() / 4


def frozen_grid(cfg: dict, feature_fps: float) -> dict[str, float]:
    """FLOPs of the frozen-upstream rows: one feature pass over every split, then each head run at
    its maximum epochs (validation every epoch) and its predictions."""
    audio = sum(MSP2.values()) * MSP2_MEAN_S
    features = audio * feature_fps
    heads = 0.0
    for name in frozen(cfg):
        train, infer = head_flops_per_row(cfg, name)
        epochs = int(config_mod.variant_train(cfg, name)["max_epochs"])
        per_run = epochs * (MSP2["Train"] * train + MSP2["Development"] * infer)
        per_run += sum(MSP2[s] for s in ("Development", "Test1", "Test2")) * infer
        heads += per_run * len(cfg["seeds"])
    return {"features": features, "heads": heads, "runs": len(frozen(cfg)) * len(cfg["seeds"])}


def paper_grid(cfg: dict, train_fps: dict[int, float], infer_fps: float) -> dict[str, float]:
    """FLOPs of the paper grid: every run trains its maximum number of epochs under the unfreezing
    schedule, validates after each, and the best checkpoint predicts Development, Test1 and Test2."""
    train_audio = MSP2["Train"] * MSP2_MEAN_S
    dev_audio = MSP2["Development"] * MSP2_MEAN_S
    test_audio = sum(MSP2[s] for s in ("Development", "Test1", "Test2")) * MSP2_MEAN_S
    runs = grid_runs(cfg)
    total = 0.0
    for name, epochs in runs:
        schedule = Unfreezing.from_train(config_mod.variant_train(cfg, name))
        for epoch in range(1, epochs + 1):
            total += train_audio * train_fps[schedule.layers(epoch)] + dev_audio * infer_fps
        total += test_audio * infer_fps
    return {"grid": total, "runs": len(runs), "per_run": total / len(runs)}


def disk_bytes(model: torch.nn.Module) -> dict[str, float]:
    """Audio as 16-bit PCM; per run the best checkpoint (fp32 weights) and the resume checkpoint
    (weights, AdamW's two moments of the parameters that train by the last epoch, best weights)."""
    n_all = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "audio": 407 * 3600 * SR * 2,
        "per_run": 4 * (n_all + n_all + 2 * n_train + n_all),
        "params": n_all,
        "trainable": n_train,
    }


def matmul_peak(device: torch.device, n: int = 8192, reps: int = 20) -> float:
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    best = 0.0
    for _ in range(3):
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        torch.cuda.synchronize()
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument(
        "--seconds", type=float, default=5.5, help="length of every utterance (MSP-Podcast 2.0 mean: 5.47)"
    )
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()

    cfg = paper_config()
    fps, budget = report_grid(cfg, args.seconds)
    report_frozen_grid(cfg, args.seconds, budget)
    for tflops in (25, 50, 100):  # achieved rates to read the GPU-hour figure against
        print(f"  at an achieved {tflops} TFLOP/s: {budget['grid'] / (tflops * 1e12) / 3600:.0f} GPU hours")
    if not torch.cuda.is_available():
        print("CUDA not available: GPU throughput skipped (run this script on a GPU machine)")
        print("RESULT|GPU training throughput|skipped (no CUDA)|-|-")
        print(
            f"RESULT|paper grid GPU hours per 10 TFLOP/s achieved (hours = value x 10 / achieved TFLOP/s)|"
            f"{budget['grid'] / 10e12 / 3600:.0f} h|-|-"
        )
        return
    report_gpu(cfg, args, fps, budget)


def report_grid(cfg: dict, seconds: float) -> tuple[dict[int, float], dict[str, float]]:
    """FLOPs per audio second at each unfreezing stage, the paper grid's compute and disk; (fps, budget)."""
    stages = sorted(
        {
            Unfreezing.from_train(config_mod.variant_train(cfg, name)).layers(epoch)
            for name, epochs in grid_runs(cfg)
            for epoch in range(1, epochs + 1)
        }
    )
    fps = {k: flops_per_audio_second(cfg, k, seconds) for k in stages}
    for k in stages:
        print(
            f"training FLOPs per second of audio, {k:>2} transformer layers training: {fps[k] / 1e9:.1f} GFLOP"
        )
        print(
            f"RESULT|paper model training FLOPs per audio second, {k} layers unfrozen|{fps[k] / 1e9:.1f} GFLOP|-|-"
        )
    ifps = inference_flops_per_audio_second(cfg, seconds)
    print(f"RESULT|paper model inference FLOPs per audio second|{ifps / 1e9:.1f} GFLOP|-|-")
    budget = paper_grid(cfg, fps, ifps)
    disk = disk_bytes(base_model(cfg, torch.device("cpu"), max(stages)))
    runs = int(budget["runs"])
    print(
        f"paper grid ({len(finetuned(cfg))} fine-tuned rows x {len(cfg['seeds'])} seeds = {runs} runs at their maximum epochs, "
        f"MSP-Podcast 2.0 at {MSP2_MEAN_S:.2f} s mean): {budget['per_run'] / 1e18:.2f} EFLOP per run, "
        f"{budget['grid'] / 1e18:.1f} EFLOP in all"
    )
    print(
        f"RESULT|paper grid compute, {runs} runs at max epochs (upper bound)|{budget['grid'] / 1e18:.1f} EFLOP|-|-"
    )
    print(
        f"disk: audio {disk['audio'] / 1e9:.0f} GB (16-bit PCM); per run {disk['per_run'] / 1e9:.2f} GB of checkpoints "
        f"({disk['params'] / 1e6:.1f} M parameters, {disk['trainable'] / 1e6:.1f} M trainable at the end)"
    )
    print(
        f"RESULT|paper grid disk: audio + {runs} runs' checkpoints|{disk['audio'] / 1e9:.0f} GB + {runs * disk['per_run'] / 1e9:.0f} GB|-|-"
    )
    return fps, budget


def report_frozen_grid(cfg: dict, seconds: float, budget: dict[str, float]) -> None:
    """The frozen-upstream grid (docs/frozen_upstream.md) against fine-tuning, with the same FLOP counter."""
    runs = int(budget["runs"])
    ffps = feature_pass_flops_per_audio_second(cfg, seconds)
    fz = frozen_grid(cfg, ffps)
    print(
        f"frozen WavLM-Base feature pass: {ffps / 1e9:.1f} GFLOP per audio second, "
        f"{fz['features'] / 1e18:.3f} EFLOP over all {sum(MSP2.values()):,} utterances; "
        f"{fz['runs']} head runs at max epochs: {fz['heads'] / 1e18:.5f} EFLOP"
    )
    print(
        f"RESULT|frozen WavLM-Base feature pass over all splits (one, shared)|{fz['features'] / 1e18:.3f} EFLOP|-|-"
    )
    print(
        f"RESULT|fine-tuning grid ({runs} runs) / frozen grid (feature pass + {fz['runs']} heads)|"
        f"{budget['grid'] / 1e18:.1f} / {(fz['features'] + fz['heads']) / 1e18:.3f} EFLOP|-|"
        f"{budget['grid'] / (fz['features'] + fz['heads']):.0f}x"
    )
    print(
        f"RESULT|35-run fine-tuning grid (7 rows x 5 seeds at {budget['per_run'] / 1e18:.2f} EFLOP per run) / one feature pass|"
        f"{35 * budget['per_run'] / 1e18:.1f} / {fz['features'] / 1e18:.3f} EFLOP|-|"
        f"{35 * budget['per_run'] / fz['features']:.0f}x"
    )


def report_gpu(cfg: dict, args: argparse.Namespace, fps: dict[int, float], budget: dict[str, float]) -> None:
    """Measured training throughput of the fully unfrozen model on this GPU, against the FLOP count."""
    full = max(fps)
    dev = torch.device("cuda")
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    model = base_model(cfg, dev, full).train()
    backbone, heads = [p for p in model.backbone.parameters() if p.requires_grad], model.param_groups()[1]
    opt = torch.optim.AdamW([{"params": backbone, "lr": 1e-5}, {"params": heads, "lr": 1e-4}])
    data = batch(args.batch, args.seconds, dev)
    for _ in range(3):  # warm-up
        step(model, *data, opt, dtype)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(args.steps):
        step(model, *data, opt, dtype)
    torch.cuda.synchronize()
    per_step = (time.perf_counter() - t) / args.steps
    achieved = fps[full] * args.batch * args.seconds / per_step
    peak = matmul_peak(dev)
    name = torch.cuda.get_device_name(dev)
    print(f"device: {name}; autocast {dtype}; batch {args.batch} x {args.seconds} s")
    print(
        f"utterances/s: {args.batch / per_step:.1f}; audio seconds/s: {args.batch * args.seconds / per_step:.0f}"
    )
    print(
        f"achieved {achieved / 1e12:.1f} TFLOP/s vs bf16 matmul peak {peak / 1e12:.1f} TFLOP/s ({achieved / peak:.0%})"
    )
    print(
        f"RESULT|WavLM-Base training on {name}|{args.batch / per_step:.1f} utt/s ({args.seconds:.0f}-s crops)|-|-"
    )
    print(
        f"RESULT|achieved vs bf16 matmul peak|{achieved / 1e12:.1f} / {peak / 1e12:.1f} TFLOP/s|-|{achieved / peak:.0%}"
    )
    print(
        f"RESULT|paper grid GPU hours on {name} (measured rate)|{budget['grid'] / achieved / 3600:.0f} h|-|-"
    )


if __name__ == "__main__":
    main()

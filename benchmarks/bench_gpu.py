"""WavLM-Base training throughput on a GPU, against the measured bf16 matmul peak.

    python benchmarks/bench_gpu.py [--batch 32] [--seconds 6] [--steps 20]

The FLOP count is measured, not assumed: torch's FlopCounterMode counts the
matmul/convolution FLOPs of one training step (forward + backward, the CNN
feature encoder frozen as in the paper's recipe) of the sertools model with a
WavLM-Base architecture (random init; the pretrained weights have the same
FLOPs). Divided by the seconds of audio in the batch it gives FLOPs per second
of audio. That part also runs on a CPU; the throughput part needs CUDA and is
skipped (with a message) elsewhere.

Achieved TFLOP/s = FLOPs per step x steps per second; the peak is the best of
a few large bf16 matmuls on the same device.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from sertools import config as config_mod
from sertools.model import losses
from sertools.model import network as model_mod

SR = 16000


def base_model(device: torch.device) -> model_mod.SERModel:
    """The sertools model with WavLM-Base dimensions, built without any download."""
    cfg = config_mod.resolve({})["model"]
    # the tiny backbone is a WavLMConfig of these fields (sertools.model.backbone.tiny_backbone_config);
    # use Base's values
    cfg["tiny"] = {
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
    }
    cfg["freeze_feature_encoder"] = True
    return model_mod.build_model(cfg).to(device)


def step(model, wave, lengths, targets, dims, opt, autocast_dtype):
    with torch.autocast(wave.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        out = model(wave, lengths)
    loss = losses.total_loss(
        losses.categorical_loss("kl", out.logits.float(), targets),
        losses.dimensional_loss("ccc", out.dims.float(), dims),
        1.0,
    )
    loss.backward()
    if opt is not None:
        opt.step()
        opt.zero_grad(set_to_none=True)


def batch(n: int, seconds: float, device: torch.device):
    g = torch.Generator().manual_seed(0)
    wave = torch.randn(n, int(seconds * SR), generator=g).to(device)
    lengths = torch.full((n,), wave.shape[1], dtype=torch.long, device=device)
    targets = torch.softmax(torch.randn(n, 9, generator=g), dim=1).to(device)
    dims = torch.rand(n, 3, generator=g).to(device)
    return wave, lengths, targets, dims


def flops_per_audio_second(seconds: float) -> float:
    model = base_model(torch.device("cpu")).train()
    wave, lengths, targets, dims = batch(2, seconds, torch.device("cpu"))
    counter = FlopCounterMode(display=False)
    with counter:
        step(model, wave, lengths, targets, dims, None, None)
    return counter.get_total_flops() / (2 * seconds)


def inference_flops_per_audio_second(seconds: float) -> float:
    model = base_model(torch.device("cpu")).eval()
    wave, lengths, _, _ = batch(2, seconds, torch.device("cpu"))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(wave, lengths)
    return counter.get_total_flops() / (2 * seconds)


# MSP-Podcast 2.0 (arXiv 2509.09791, see ../shared/reference/msp_podcast_format.md): utterances
# per split and the release's ~407 h over 267,905 files. Crops (6 s) only shorten training
# audio, so the mean duration makes the training estimate an upper bound.
MSP2 = {"Train": 169_190, "Development": 34_399, "Test1": 46_294, "Test2": 14_822}
MSP2_MEAN_S = 407 * 3600 / 267_905


def paper_grid(train_fps: float, infer_fps: float, runs: int = 35, epochs: int = 18) -> dict[str, float]:
    """FLOPs of the paper grid: every run trains <= ``epochs`` epochs, validates after each,
    and the best checkpoint predicts Development, Test1 and Test2 once."""
    train = MSP2["Train"] * MSP2_MEAN_S * train_fps * epochs
    validate = MSP2["Development"] * MSP2_MEAN_S * infer_fps * epochs
    predict = sum(MSP2[s] for s in ("Development", "Test1", "Test2")) * MSP2_MEAN_S * infer_fps
    return {"per_run": train + validate + predict, "grid": runs * (train + validate + predict)}


def disk_bytes(model: torch.nn.Module) -> dict[str, float]:
    """Audio as 16-bit PCM; per run the best checkpoint (fp32 weights) and the resume
    checkpoint (weights, AdamW's two moments of the trainable parameters, best weights)."""
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
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=6.0, help="crop length of every utterance")
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()

    fps = flops_per_audio_second(args.seconds)
    print(
        f"training FLOPs per second of audio (WavLM-Base, CNN frozen, {args.seconds:.0f}-s crops): {fps / 1e9:.1f} GFLOP"
    )
    print(f"RESULT|WavLM-Base training FLOPs per audio second (FlopCounterMode)|{fps / 1e9:.1f} GFLOP|-|-")
    ifps = inference_flops_per_audio_second(args.seconds)
    print(f"RESULT|WavLM-Base inference FLOPs per audio second|{ifps / 1e9:.1f} GFLOP|-|-")
    budget = paper_grid(fps, ifps)
    disk = disk_bytes(base_model(torch.device("cpu")))
    print(
        f"paper grid (7 variants x 5 seeds, <= 18 epochs, MSP-Podcast 2.0 at {MSP2_MEAN_S:.2f} s mean): "
        f"{budget['per_run'] / 1e18:.2f} EFLOP per run, {budget['grid'] / 1e18:.1f} EFLOP in all"
    )
    print(
        f"RESULT|paper grid compute, 35 runs of <= 18 epochs (upper bound)|{budget['grid'] / 1e18:.1f} EFLOP|-|-"
    )
    print(
        f"disk: audio {disk['audio'] / 1e9:.0f} GB (16-bit PCM); per run {disk['per_run'] / 1e9:.2f} GB of checkpoints "
        f"({disk['params'] / 1e6:.1f} M parameters, {disk['trainable'] / 1e6:.1f} M trainable)"
    )
    print(
        f"RESULT|paper grid disk: audio + 35 runs' checkpoints|{disk['audio'] / 1e9:.0f} GB + {35 * disk['per_run'] / 1e9:.0f} GB|-|-"
    )
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
    dev = torch.device("cuda")
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    model = base_model(dev).train()
    backbone, heads = model.param_groups()
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
    achieved = fps * args.batch * args.seconds / per_step
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

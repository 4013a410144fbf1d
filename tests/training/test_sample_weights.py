"""Per-sample weights of the categorical loss (the release's entropy curriculum) on a fabricated batch of 8."""

from __future__ import annotations

import math

import pytest
import torch

from sertools.training.sample_weights import SampleWeighting

#: normalised entropies of a batch of 8, deliberately unsorted
H = torch.tensor([0.9, 0.1, 0.55, 0.3, 0.75, 0.05, 0.62, 0.4])


def kept(w: torch.Tensor) -> list[int]:
    return [i for i, x in enumerate(w.tolist()) if x > 0]


def test_threshold_schedule_matches_the_release_example() -> None:
    """warmup 5, ramp 6, 0.50 -> 0.95: epochs 1-5 off; 6: 0.50, 7: 0.59, ..., 11+: 0.95."""
    cur = SampleWeighting(
        mode="filter", warmup_epochs=5, ramp_epochs=6, start_threshold=0.5, end_threshold=0.95
    )
    want = {6: 0.50, 7: 0.59, 8: 0.68, 9: 0.77, 10: 0.86, 11: 0.95, 15: 0.95}
    for epoch, thr in want.items():
        assert cur.threshold(epoch) == pytest.approx(thr)
    for epoch in range(1, 6):
        assert torch.equal(cur.weights(H, epoch), torch.ones(8, dtype=torch.float64))


def test_filter_keeps_low_entropy_and_averages_over_kept() -> None:
    cur = SampleWeighting(
        mode="filter", warmup_epochs=5, ramp_epochs=6, start_threshold=0.5, end_threshold=0.95
    )
    w = cur.weights(H, 6)  # threshold 0.50
    assert kept(w) == [1, 3, 5, 7]
    assert w[1].item() == pytest.approx(2.0)  # 8 samples / 4 kept
    loss = torch.arange(8, dtype=torch.float64)
    assert (loss * w).mean().item() == pytest.approx(loss[[1, 3, 5, 7]].mean().item())
    assert kept(cur.weights(H, 8)) == [1, 2, 3, 5, 6, 7]  # threshold 0.68


def test_filter_rev_keeps_high_entropy() -> None:
    cur = SampleWeighting(
        mode="filter_rev", warmup_epochs=5, ramp_epochs=6, start_threshold=0.5, end_threshold=0.95
    )
    assert kept(cur.weights(H, 6)) == [0, 2, 4, 6]  # H >= 0.50
    assert kept(cur.weights(H, 9)) == [0]  # H >= 0.77


def test_nothing_kept_falls_back_to_the_plain_mean() -> None:
    cur = SampleWeighting(mode="filter", warmup_epochs=0, ramp_epochs=1, end_threshold=0.01)
    assert torch.equal(cur.weights(H, 1), torch.ones(8, dtype=torch.float64))


def test_quantile_schedule_matches_the_release_example() -> None:
    """warmup 1, q [0.5, 0.75, 1.0] at epochs [0, 4, 8], batch 8: epoch 1 off; 2-3 keep 4; 4-7 keep 6; 8+ keep 8."""
    cur = SampleWeighting(
        mode="filter",
        warmup_epochs=1,
        ramp_epochs=6,
        quantile_schedule=(0.5, 0.75, 1.0),
        schedule_epochs=(0, 4, 8),
    )
    counts = {e: len(kept(cur.weights(H, e))) for e in range(1, 10)}
    assert counts == {1: 8, 2: 4, 3: 4, 4: 6, 5: 6, 6: 6, 7: 6, 8: 8, 9: 8}
    assert kept(cur.weights(H, 2)) == [1, 3, 5, 7]  # the 4 lowest entropies
    rev = SampleWeighting(
        mode="filter_rev", warmup_epochs=1, quantile_schedule=(0.5, 0.75, 1.0), schedule_epochs=(0, 4, 8)
    )
    assert kept(rev.weights(H, 2)) == [0, 2, 4, 6]  # the 4 highest


def test_weight_mode_gives_clamped_batch_normalised_weights() -> None:
    cur = SampleWeighting(
        mode="weight", warmup_epochs=1, ramp_epochs=6, alpha_start=2.0, alpha_end=0.0, min_weight=0.15
    )
    assert cur.alpha(2) == pytest.approx(2.0) and cur.alpha(4) == pytest.approx(1.2) and cur.alpha(7) == 0.0
    w = cur.weights(H, 2)
    raw = ((1 - H.double()) ** 2).clamp(0.15, 1.0)
    assert torch.allclose(w, raw / raw.mean())
    assert w.mean().item() == pytest.approx(1.0)
    assert w[5] > w[1] > w[3] > w[0]  # lower entropy, larger weight
    assert raw[0].item() == 0.15  # (1 - 0.9)^2 = 0.01 clamped up to min_weight
    assert torch.allclose(cur.weights(H, 7), torch.ones(8, dtype=torch.float64))  # alpha 0: uniform


def test_weight_rev_favours_high_entropy() -> None:
    cur = SampleWeighting(
        mode="weight_rev", warmup_epochs=0, ramp_epochs=1, alpha_start=2.0, alpha_end=2.0, min_weight=0.15
    )
    w = cur.weights(H, 1)
    raw = (H.double().clamp_min(1e-8) ** 2).clamp(0.15, 1.0)
    assert torch.allclose(w, raw / raw.mean())
    assert int(torch.argmax(w)) == 0


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="mode"):
        SampleWeighting(mode="shuffle")
    with pytest.raises(ValueError, match="same length"):
        SampleWeighting(mode="filter", quantile_schedule=(0.5,), schedule_epochs=(0, 4))
    cur = SampleWeighting.from_config(
        {"mode": "filter", "quantile_schedule": [0.5, 1.0], "schedule_epochs": [0, 3]}
    )
    assert cur.quantile(2) == 0.5 and cur.quantile(3) == 1.0
    assert math.isclose(SampleWeighting(mode="weight").weights(H, 1).mean().item(), 1.0)

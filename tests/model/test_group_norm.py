"""The length-aware GroupNorm: plain GroupNorm without padding, blind to padding, fast backward = autograd."""

from __future__ import annotations

import pytest
import torch

from sertools.model import group_norm as G


def test_length_aware_group_norm_matches_group_norm_and_ignores_padding() -> None:
    torch.manual_seed(0)
    gn = torch.nn.GroupNorm(4, 8)
    torch.nn.init.normal_(gn.weight)
    torch.nn.init.normal_(gn.bias)
    lgn = G.LengthAwareGroupNorm(gn)
    x = torch.randn(2, 8, 20)
    torch.testing.assert_close(lgn(x), gn(x))  # no lengths: plain GroupNorm
    with lgn.frame_lengths(torch.tensor([20, 20])):
        torch.testing.assert_close(lgn(x), gn(x), atol=1e-5, rtol=0)
    padded = torch.cat([x, torch.full((2, 8, 5), 100.0)], dim=2)
    with lgn.frame_lengths(torch.tensor([20, 20])):
        torch.testing.assert_close(lgn(padded)[:, :, :20], gn(x), atol=1e-5, rtol=0)
    assert lgn._lengths is None  # the lengths live for one call only


@pytest.mark.parametrize(("groups", "channels"), [(4, 8), (6, 6)])
def test_masked_group_norm_forward_and_backward_match_autograd_reference(groups: int, channels: int) -> None:
    torch.manual_seed(1)
    lengths = torch.tensor([13, 20, 7])
    x = torch.randn(3, channels, 20, dtype=torch.float64) * 3 + 1
    x[0, :, 13:] = 50.0  # padding values must not reach the statistics
    w = torch.randn(channels, dtype=torch.float64)
    b = torch.randn(channels, dtype=torch.float64)
    grad = torch.randn(3, channels, 20, dtype=torch.float64)  # also on padded outputs
    outs = []
    for fn in (G.masked_group_norm, G.masked_group_norm_reference):
        xi, wi, bi = (a.clone().requires_grad_() for a in (x, w, b))
        out = fn(xi, lengths, groups, wi, bi, 1e-5)
        out.backward(grad)
        outs.append((out, xi.grad, wi.grad, bi.grad))
    for fast, ref in zip(*outs, strict=True):
        torch.testing.assert_close(fast, ref, atol=1e-10, rtol=1e-10)
    xi = x.clone().requires_grad_()
    wi, bi = (a.clone().requires_grad_() for a in (w, b))
    assert torch.autograd.gradcheck(
        lambda a, c, d: G.masked_group_norm(a, lengths, groups, c, d, 1e-5), (xi, wi, bi)
    )


def test_masked_group_norm_without_affine_is_plain_normalisation() -> None:
    x = torch.randn(2, 4, 9, dtype=torch.float64)
    lengths = torch.tensor([9, 9])
    ref = torch.nn.functional.group_norm(x, 2, eps=1e-5)
    torch.testing.assert_close(G.masked_group_norm(x, lengths, 2, None, None, 1e-5), ref)

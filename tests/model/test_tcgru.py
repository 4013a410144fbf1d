"""TC-GRU head: shapes, and the same output for an utterance alone and padded in a batch."""

from __future__ import annotations

import pytest
import torch

from sertools.model.tcgru import GaussianDims, TCGRUHead, mlp_head


@pytest.fixture
def head() -> TCGRUHead:
    torch.manual_seed(0)
    return TCGRUHead(in_dim=12, hidden=16).eval()


def test_shapes(head):
    out = head(torch.randn(3, 20, 12), torch.tensor([20, 7, 1]))
    assert out.shape == (3, 16)
    cat = mlp_head(16, 9)
    assert cat(out).shape == (3, 9)
    mu, logvar = GaussianDims(16)(out)
    assert mu.shape == logvar.shape == (3, 3)


def test_padding_invariance(head):
    """An utterance alone equals the same utterance padded with garbage frames in a batch."""
    torch.manual_seed(1)
    short = torch.randn(1, 9, 12)
    long = torch.randn(1, 25, 12)
    alone = head(short, torch.tensor([9]))
    garbage = torch.randn(1, 16, 12) * 50  # what a backbone leaves on padded positions
    batch = torch.cat([torch.cat([short, garbage], dim=1), long], dim=0)
    together = head(batch, torch.tensor([9, 25]))
    assert torch.allclose(together[0], alone[0], atol=1e-6)
    assert torch.allclose(together[1], head(long, torch.tensor([25]))[0], atol=1e-6)


def test_final_state_is_taken_at_the_true_length(head):
    """Changing a frame past the valid length changes nothing; a valid frame does."""
    x = torch.randn(1, 10, 12)
    base = head(x, torch.tensor([6]))
    y = x.clone()
    y[0, 8] += 10.0
    assert torch.allclose(head(y, torch.tensor([6])), base)
    y[0, 5] += 10.0
    assert not torch.allclose(head(y, torch.tensor([6])), base)


def test_even_kernel_is_refused():
    with pytest.raises(ValueError, match="odd"):
        TCGRUHead(in_dim=4, kernel_size=4)

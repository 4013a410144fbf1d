"""Valid lengths: masks, the receptive field and conv output lengths against transformers' formula."""

from __future__ import annotations

import torch
from transformers import WavLMConfig, WavLMModel

from sertools.model.lengths import conv_out_lengths, length_mask, min_samples_for


def test_length_mask() -> None:
    mask = length_mask(torch.tensor([0, 2, 4]), 4)
    assert mask.tolist() == [[False] * 4, [True, True, False, False], [True] * 4]


def test_receptive_field_and_conv_lengths_match_wavlm() -> None:
    kernels, strides = [10, 8, 4, 4], [5, 4, 4, 4]
    # backwards from 1 frame, n <- (n - 1) s + k: 1 -> 4 -> 16 -> 68 -> 345
    assert min_samples_for(kernels, strides) == 345
    lengths = torch.tensor([345, 1000, 1665, 1666, 4321])
    backbone = WavLMModel(
        WavLMConfig(
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
            conv_dim=[8] * 4,
            conv_kernel=kernels,
            conv_stride=strides,
        )
    )
    expected = backbone._get_feat_extract_output_lengths(lengths, add_adapter=False)
    assert torch.equal(conv_out_lengths(lengths, kernels, strides, layers=4), expected)
    assert conv_out_lengths(lengths, kernels, strides, layers=1).tolist() == [68, 199, 332, 332, 863]
    assert int(conv_out_lengths(torch.tensor([344]), kernels, strides, layers=4)) == 0

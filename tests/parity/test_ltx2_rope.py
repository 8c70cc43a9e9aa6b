"""LTX-2 rotary tables and token positions against ltx-core's (and diffusers') at full width.

float64 frequencies (every released checkpoint): our host-side numpy float64 table is
bit-identical to ltx-core's `generate_freq_grid_np`; angles and cos/sin are float32 on both
sides, and the cos/sin tables differ by at most 6.0e-8 (one float32 ulp near 1: MLX's and
torch's cos/sin) for video (4096 wide, 32 heads), audio and cross-attention (2048 wide), split
and interleaved. diffusers' 2.5 RoPE gives the same tables to the same 6.0e-8.

float32 frequencies (the reference's default): ours replay torch's scalar linspace kernel
(CUDA's). torch's vectorised CPU kernel rounds some exponents differently once a table has 10
or more frequencies, so at full width the CPU reference's cos/sin differ from ours by up to
5.9e-3 (measured on this x86 CPU; the vector width decides); tiny shapes agree to 1.5e-5 in the
model outputs (test_ltx2_transformer_parity).
"""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np
import pytest
import torch
from diffusers.models.transformers.transformer_ltx2 import LTX2AudioVideoRotaryPosEmbed
from ltx_core.model.transformer.rope import (
    LTXRopeType,
    generate_freq_grid_np,
    generate_freq_grid_pytorch,
    precompute_freqs_cis,
)

from ltx_mlx_core.models.ltx2.positions import audio_positions, video_positions
from ltx_mlx_core.models.ltx2.rope import SplitRotary, frequency_grid, rotary_table
from tests.parity.ltx2_transformer_helpers import audio_bounds, video_bounds

FULL_SIZE_TABLES = [
    # (stream, width, heads, max_pos)
    ("video", 4096, 32, [20, 2048, 2048]),
    ("audio", 2048, 32, [20]),
    ("cross", 2048, 32, [20]),
]
TABLE_BOUND = 2e-7  # two float32 ulps of values near 1


def _reference_positions(stream: str) -> torch.Tensor:
    if stream == "audio":
        return audio_bounds(1, 40)
    video = video_bounds(1, 4, 8, 12, fps=24.0)
    return video[:, 0:1] if stream == "cross" else video


def _as_reference_layout(table, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Our tables in the reference's layout: split (B, H, T, D/2); interleaved (B, T, dim) of (cos, cos), (sin, sin)."""
    if isinstance(table, SplitRotary):
        return tuple(np.array(t)[:, :, :, 0].transpose(0, 2, 1, 3) for t in table)
    cos = np.array(table.cos).reshape(1, -1, width)
    sin = np.array(table.sin).reshape(1, -1, width).copy()
    sin[..., 0::2] *= -1  # ours holds (-sin, sin) per pair
    return cos, sin


@pytest.mark.parametrize("rope_type", ["split", "interleaved"])
@pytest.mark.parametrize("stream, width, heads, max_pos", FULL_SIZE_TABLES, ids=[t[0] for t in FULL_SIZE_TABLES])
def test_float64_tables_match_ltx_core(stream: str, width: int, heads: int, max_pos: list[int], rope_type: str) -> None:
    positions = _reference_positions(stream)
    expected = precompute_freqs_cis(
        positions,
        width,
        torch.float32,
        10000.0,
        max_pos,
        True,
        heads,
        LTXRopeType(rope_type),
        generate_freq_grid_np,
    )
    ours = rotary_table(mx.array(positions.numpy()), width, heads, max_pos, rope_type, 10000.0, True, True)
    for mine, theirs in zip(_as_reference_layout(ours, width), expected):
        assert np.abs(mine - theirs.numpy()).max() <= TABLE_BOUND


@pytest.mark.parametrize("count", [1, 8, 341, 682, 1024])
def test_float64_frequencies_are_bit_identical(count: int) -> None:
    np.testing.assert_array_equal(
        frequency_grid(count, 10000.0, True), generate_freq_grid_np(10000.0, 1, 2 * count).numpy()
    )


def test_float32_frequencies_replay_torch_scalar_linspace() -> None:
    """torch's scalar (CUDA) linspace: rising from 0 up to the middle, falling from 1 after it."""
    for count in (2, 9, 16, 682, 1024):
        index = torch.arange(count)
        step = torch.tensor(1.0 / (count - 1), dtype=torch.float32)
        linspace = torch.where(index < count // 2, step * index, 1.0 - step * (count - 1 - index))
        expected = (torch.pow(torch.tensor(10000.0), linspace) * math.pi / 2).numpy()
        np.testing.assert_allclose(frequency_grid(count, 10000.0, False), expected, rtol=2.5e-7, atol=0)
    # Tables of fewer than 10 frequencies agree with torch's CPU kernel exactly.
    for count in range(1, 10):
        np.testing.assert_array_equal(
            frequency_grid(count, 10000.0, False), generate_freq_grid_pytorch(10000.0, 1, 2 * count).numpy()
        )


@pytest.mark.parametrize("rope_type", ["split", "interleaved"])
def test_diffusers_rope_gives_the_same_tables(rope_type: str) -> None:
    positions = video_bounds(1, 4, 8, 12, fps=24.0)
    rope = LTX2AudioVideoRotaryPosEmbed(dim=4096, rope_type=rope_type, num_attention_heads=32, double_precision=True)
    expected = rope(positions)
    ours = rotary_table(mx.array(positions.numpy()), 4096, 32, [20, 2048, 2048], rope_type, 10000.0, True, True)
    for mine, theirs in zip(_as_reference_layout(ours, 4096), expected):
        assert np.abs(mine - theirs.numpy()).max() <= TABLE_BOUND


def test_split_table_needs_heads_that_divide_the_frequencies() -> None:
    positions = mx.array(video_bounds(1, 2, 2, 2, fps=24.0).numpy())
    with pytest.raises(ValueError, match="divide"):
        rotary_table(positions, 48, 5, [20, 2048, 2048], "split")


@pytest.mark.parametrize("fps", [24.0, 29.97])
def test_video_positions_match_ltx_core(fps: float) -> None:
    np.testing.assert_array_equal(np.array(video_positions(2, 3, 4, 5, fps)), video_bounds(2, 3, 4, 5, fps).numpy())


def test_audio_positions_match_ltx_core() -> None:
    np.testing.assert_array_equal(np.array(audio_positions(2, 126)), audio_bounds(2, 126).numpy())

"""Fractional 3-D RoPE matches the reference's `precompute_freqs_cis` + `apply_rotary_emb`.

At small widths the cos/sin tables agree to float32 rounding. At the production widths (2048,
4096) torch's *CPU* linspace (vectorised in chunks) differs by an ulp from the scalar formula
that torch's CUDA kernel and our code use, for a few of the 341/682 exponents; at angles up to
~1.6e4 rad that is ~2e-3 (2B) / ~4e-3 (13B) in cos/sin, below the bf16 rounding of those tables.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch
from ltx_video.models.transformers.attention import Attention as ReferenceAttention
from ltx_video.models.transformers.transformer3d import Transformer3DModel

from ltx_mlx_core.models.common.rope import apply_rotary, rotary_angles
from tests.parity.conftest import mlx_to_numpy, relative_max_error, torch_to_mlx

MAX_POS = [20, 2048, 2048]


def _grid(frames: int, height: int, width: int, batch: int = 2) -> torch.Tensor:
    frame, row, column = torch.meshgrid(torch.arange(frames), torch.arange(height), torch.arange(width), indexing="ij")
    # Causal pixel frame coordinates (first latent frame is pixel frame 0) over a 25 fps clip.
    frame_pixels = (frame.flatten() * 8 + 1 - 8).clamp(min=0) / 25.0
    grid = torch.stack([frame_pixels, row.flatten() * 32.0, column.flatten() * 32.0]).float()
    grid = grid[None].repeat(batch, 1, 1)
    grid[1, 1:] += 16.0  # a second sample shifted by half a latent pixel
    return grid


def _reference_tables(width: int, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    reference = Transformer3DModel(
        num_attention_heads=1,
        attention_head_dim=width,
        in_channels=8,
        num_layers=0,
        cross_attention_dim=width,
        positional_embedding_theta=10000.0,
        positional_embedding_max_pos=MAX_POS,
    )
    return reference.precompute_freqs_cis(grid)


@pytest.mark.parametrize(
    "width, bound", [(24, 2e-7), (20, 2e-7), (30, 2e-7), (48, 2e-7), (96, 2e-3), (2048, 4e-3), (4096, 8e-3)]
)
def test_cos_sin_tables_match_reference(width: int, bound: float) -> None:
    grid = _grid(4, 6, 5)
    reference_cos, reference_sin = _reference_tables(width, grid)
    angles = rotary_angles(torch_to_mlx(grid), width, 10000.0, MAX_POS, mx.float32)
    # Ours hold (cos, cos) and (-sin, sin) per channel pair; the reference (cos, cos), (sin, sin).
    ours_cos = mlx_to_numpy(angles.cos).reshape(reference_cos.shape)
    ours_sin = mlx_to_numpy(angles.sin * mx.array([-1.0, 1.0])).reshape(reference_sin.shape)
    assert np.abs(ours_cos - reference_cos.numpy()).max() <= bound
    assert np.abs(ours_sin - reference_sin.numpy()).max() <= bound


@pytest.mark.parametrize("width", [20, 24])
def test_rotation_of_interleaved_pairs_matches_reference(width: int) -> None:
    grid = _grid(2, 3, 4)
    reference_tables = _reference_tables(width, grid)
    x = torch.randn(2, grid.shape[-1], width, generator=torch.Generator().manual_seed(width))
    expected = ReferenceAttention.apply_rotary_emb(x, reference_tables)

    angles = rotary_angles(torch_to_mlx(grid), width, 10000.0, MAX_POS, mx.float32)
    ours = apply_rotary(torch_to_mlx(x), angles)

    assert relative_max_error(ours, expected) < 1e-6


def test_tables_take_the_model_dtype() -> None:
    angles = rotary_angles(torch_to_mlx(_grid(1, 2, 2)), 24, 10000.0, MAX_POS, mx.bfloat16)
    assert angles.cos.dtype == angles.sin.dtype == mx.bfloat16
    assert angles.cos.shape == (2, 4, 12, 2)

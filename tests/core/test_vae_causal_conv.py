"""CausalConv3d's edge-frame corrections equal convolving explicitly repeated edge frames."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.models.common.patchify import offset_major_order
from ltx_mlx_core.models.common.patchify import unpatchify_pixels as unpatchify
from ltx_mlx_core.models.common.patchify import unpatchify_pixels_offset_major as unpatchify_offset_major
from ltx_mlx_core.models.ltxv.vae.fused_norm import composed_norm_silu, modulated_silu, pixel_norm_silu
from ltx_mlx_core.models.ltxv.vae.layers import CausalConv3d, edge_taps, pad_spatial


def _explicitly_padded(conv: CausalConv3d, x: mx.array, causal: bool) -> mx.array:
    """The reference's formulation: concatenate copies of the edge frames, then convolve."""
    front, back = conv.time_padding(causal)
    parts = [mx.repeat(x[:, :1], front, axis=1)] if front else []
    parts += [x] + ([mx.repeat(x[:, -1:], back, axis=1)] if back else [])
    padded = mx.concatenate(parts, axis=1)
    if conv.spatial_padding_mode != "zeros":
        padded = pad_spatial(padded, conv.spatial_pad, conv.spatial_padding_mode)
    return conv.conv(padded)


@pytest.mark.parametrize("frames", [1, 2, 5])
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("padding_mode", ["zeros", "replicate"])
def test_edge_corrections_equal_repeated_edge_frames(frames: int, causal: bool, padding_mode: str) -> None:
    conv = CausalConv3d(6, 4, 3, spatial_padding_mode=padding_mode)
    x = mx.random.normal((2, frames, 5, 7, 6), key=mx.random.key(frames))
    ours = conv(x, causal=causal)
    expected = _explicitly_padded(conv, x, causal)
    assert ours.shape == expected.shape == (2, frames, 5, 7, 4)
    np.testing.assert_allclose(np.array(ours), np.array(expected), rtol=1e-5, atol=1e-5)


def test_edge_taps_name_every_tap_that_reads_a_copy() -> None:
    # Causal k=3 over 4 frames: output 0 reads two copies of frame 0, output 1 one copy.
    assert edge_taps(4, 3, 2, 0) == [(0, 0, [0, 1]), (1, 0, [0])]
    # Non-causal k=3 over one frame: the copy in front and the copy behind.
    assert edge_taps(1, 3, 1, 1) == [(0, 0, [0]), (0, 0, [2])]


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_fused_modulated_silu_matches_its_plain_form(dtype: mx.Dtype) -> None:
    keys = mx.random.split(mx.random.key(3), 3)
    normed = mx.random.normal((1, 3, 4, 5, 8), key=keys[0]).astype(dtype)
    scale = mx.random.normal((1, 1, 1, 1, 8), key=keys[1]).astype(dtype)
    shift = mx.random.normal((1, 1, 1, 1, 8), key=keys[2]).astype(dtype)
    plain = modulated_silu.__wrapped__(normed, scale, shift)
    fused = modulated_silu.compiled(normed, scale, shift)
    assert fused.dtype == plain.dtype == dtype
    tolerance = 1e-6 if dtype == mx.float32 else 1e-2
    np.testing.assert_allclose(
        np.array(fused.astype(mx.float32)), np.array(plain.astype(mx.float32)), rtol=tolerance, atol=tolerance
    )


def test_offset_major_unpatchify_of_permuted_channels_equals_unpatchify() -> None:
    x = mx.random.normal((2, 3, 4, 5, 3 * 16), key=mx.random.key(9))
    order = offset_major_order(3, 4)
    assert sorted(np.array(order).tolist()) == list(range(48))
    np.testing.assert_array_equal(np.array(unpatchify_offset_major(x[..., order], 4)), np.array(unpatchify(x, 4)))


def test_pixel_norm_silu_on_the_cpu_is_the_composed_computation() -> None:
    keys = mx.random.split(mx.random.key(4), 3)
    x = mx.random.normal((1, 2, 3, 4, 16), key=keys[0]) * 3
    scale, shift = mx.random.normal((1, 1, 1, 1, 16), key=keys[1]), mx.random.normal((1, 1, 1, 1, 16), key=keys[2])
    expected = x * mx.rsqrt(mx.mean(x * x, axis=-1, keepdims=True) + 1e-8) * (1 + scale) + shift
    expected = expected * mx.sigmoid(expected)
    np.testing.assert_allclose(np.array(pixel_norm_silu(x, scale, shift)), np.array(expected), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.array(pixel_norm_silu(x)), np.array(composed_norm_silu(x, None, None, 1e-8)))

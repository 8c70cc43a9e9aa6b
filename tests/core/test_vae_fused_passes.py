"""The VAE decoder adds each convolution's bias inside the pass that follows it (a norm, the residual
add, a rearrangement) and gives what adding it on its own gives; on a GPU a residual block is then
two norm kernels, one fused residual add and its convolutions."""

from __future__ import annotations

from types import SimpleNamespace

import mlx.core as mx
import numpy as np
import pytest

from ltx_mlx_core.bench.graph_ops import NORM_KERNEL, count_graph_ops, graphs_as_on_gpu
from ltx_mlx_core.models.common.patchify import depth_to_space, offset_major_order, unpatchify_pixels_offset_major
from ltx_mlx_core.models.ltxv.latent_filters import tone_map_latents
from ltx_mlx_core.models.ltxv.vae.autoencoder import _scale_and_shift, denormalize_latents
from ltx_mlx_core.models.ltxv.vae.blocks import ResnetBlock3D, add_biased_residual
from ltx_mlx_core.models.ltxv.vae.fused_norm import composed_norm_silu, pixel_norm_silu
from ltx_mlx_core.models.ltxv.vae.layers import CausalConv3d


def _random(*shape: int, dtype: mx.Dtype = mx.float32, seed: int = 0) -> mx.array:
    return mx.random.normal(shape, key=mx.random.key(seed)).astype(dtype)


def _equal(got: mx.array, want: mx.array) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.array(got.astype(mx.float32)), np.array(want.astype(mx.float32)))


@pytest.mark.parametrize("stride", [(2, 2, 2), (1, 2, 2), (2, 1, 1)])
def test_depth_to_space_adds_the_bias_in_its_copy(stride: tuple[int, int, int]) -> None:
    factor = stride[0] * stride[1] * stride[2]
    x, bias = _random(2, 3, 4, 5, 6 * factor, dtype=mx.bfloat16), _random(6 * factor, dtype=mx.bfloat16, seed=1)
    _equal(depth_to_space(x, stride, bias), depth_to_space(x + bias, stride))


def test_offset_major_unpatchify_adds_the_bias_in_its_copy() -> None:
    x, bias = _random(1, 2, 3, 5, 48, dtype=mx.bfloat16), _random(48, dtype=mx.bfloat16, seed=1)
    _equal(unpatchify_pixels_offset_major(x, 4, bias), unpatchify_pixels_offset_major(x + bias, 4))


def test_convolution_bias_left_out_and_added_later_is_the_convolution() -> None:
    conv = CausalConv3d(6, 12, 3)
    x = _random(1, 4, 5, 7, 6)
    order = offset_major_order(3, 2)
    _equal(conv.convolve(x, False, order) + conv.output_bias(order), conv(x, False, order))
    np.testing.assert_allclose(np.array(conv(x, False, order)), np.array(conv(x, False)[..., order]), atol=1e-6)


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_pixel_norm_silu_with_a_bias_normalises_the_biased_input(dtype: mx.Dtype) -> None:
    x, bias = _random(1, 2, 3, 4, 16, dtype=dtype) * 3, _random(16, dtype=dtype, seed=1)
    _equal(pixel_norm_silu(x, bias=bias), composed_norm_silu(x + bias, None, None, 1e-8))
    # A wider bias widens the result, as the separate add would.
    wide = pixel_norm_silu(x, bias=bias.astype(mx.float32))
    assert wide.dtype == mx.float32


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16])
def test_fused_biased_residual_matches_its_plain_form(dtype: mx.Dtype) -> None:
    x, hidden, bias = _random(1, 3, 4, 5, 8, dtype=dtype), _random(1, 3, 4, 5, 8, dtype=dtype, seed=1), _random(8)
    bias = bias.astype(dtype)
    _equal(add_biased_residual.compiled(x, hidden, bias), add_biased_residual.__wrapped__(x, hidden, bias))


def test_a_residual_block_on_a_gpu_runs_two_norm_kernels_one_add_and_its_convolutions() -> None:
    block = ResnetBlock3D(16, 16, spatial_padding_mode="zeros")
    x = _random(1, 5, 4, 6, 16)
    mx.eval(x, block.parameters())  # the count starts at evaluated arrays
    with graphs_as_on_gpu():
        ops = count_graph_ops(block(x, causal=False))
    operations = ops.by_primitive
    # Two convolutions, each with two edge-frame corrections (a 2-D convolution added in place).
    assert operations["Convolution"] == 6 and operations["SliceUpdate Sum"] == 4
    assert operations[NORM_KERNEL] == 2
    assert ops.fused == 1  # the residual add with conv2's bias
    assert ops.kernels == 13  # no separate bias add, no zero-filled stand-ins copied


def test_decode_preparation_is_one_pass_over_the_latents() -> None:
    vae = SimpleNamespace(std_of_means=_random(8, seed=1) + 2, mean_of_means=_random(8, seed=2))
    latents = _random(1, 2, 3, 4, 8, dtype=mx.bfloat16)
    # Tone mapping at compression 0 is the identity, so it is skipped.
    assert tone_map_latents(latents, 0.0) is latents
    plain = latents * vae.std_of_means.astype(mx.bfloat16) + vae.mean_of_means.astype(mx.bfloat16)
    _equal(denormalize_latents(latents, vae), plain)
    _equal(_scale_and_shift.compiled(latents, vae.std_of_means, vae.mean_of_means), plain)

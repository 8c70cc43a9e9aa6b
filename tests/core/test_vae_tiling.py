"""Tiled VAE decode/encode: tile alignment and blending, tolerance vs untiled, bounded memory."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from mlx.utils import tree_map_with_path

from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder, VAEConfig
from ltx_mlx_core.pipeline.decode import decode_video, encode_video, iter_decode_tiled
from ltx_mlx_core.pipeline.tiling import (
    DECODE_BYTES_PER_PIXEL,
    TilingConfig,
    blend_bytes,
    blend_weights,
    decode_bytes,
    largest_tile_pixels,
    plan_tiles,
    tiling_within,
)
from tests.parity.vae_helpers import tiny_vae_config

# 5 latent frames x 6 x 6 latents with these tiles: 2 temporal x 2 x 2 spatial tiles.
SMALL_TILES = TilingConfig(spatial_tile=4, spatial_overlap=2, temporal_tile=3, temporal_overlap=1)


def _vae_with_kernels(off_centre: float, seed: int = 0) -> CausalVideoAutoencoder:
    """Tiny VAE whose 3x3x3 kernels keep their 'current' tap and scale the others by `off_centre`.

    off_centre=0 makes every layer pointwise in space and time (the encoder's causal convs
    keep their last temporal tap, the decoder's centred convs their middle one): then any
    correctly aligned and blended tiling must reproduce the untiled result exactly.
    """
    mx.random.seed(seed)
    vae = CausalVideoAutoencoder(VAEConfig.from_dict(tiny_vae_config()))

    def mask_kernel(path: str, weight: mx.array) -> mx.array:
        if weight.ndim != 5 or weight.shape[1] != 3:
            return weight
        mask = np.full((1, 3, 3, 3, 1), off_centre, dtype=np.float32)
        mask[0, 2 if path.startswith("encoder") else 1, 1, 1, 0] = 1.0
        return weight * mx.array(mask)

    vae.update(tree_map_with_path(mask_kernel, vae.parameters()))
    mx.eval(vae.parameters())
    return vae


def _latents(shape=(1, 5, 6, 6, 16)) -> mx.array:
    return mx.random.normal(shape, key=mx.random.key(7))


def test_plan_tiles_cover_the_axis_with_even_tiles():
    assert plan_tiles(6, 4, 2) == [(0, 4), (2, 6)]
    assert plan_tiles(3, 8, 2) == [(0, 3)]
    assert plan_tiles(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert plan_tiles(9, 8, 2) == [(0, 6), (3, 9)]  # two tiles are needed; they need not be full


@given(length=st.integers(1, 60), tile=st.integers(1, 20), overlap=st.integers(0, 19))
def test_plan_tiles_respects_tile_size_and_overlap(length, tile, overlap):
    assume(overlap < tile)
    spans = plan_tiles(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(0 < end - start <= tile for start, end in spans)
    for (start, end), (next_start, _) in zip(spans, spans[1:]):
        assert start < next_start and end - next_start >= overlap


@pytest.mark.parametrize("ramp,skip_first", [(64, False), (9, False), (2, True)])
def test_blend_weights_sum_to_one_and_are_one_outside_overlaps(ramp, skip_first):
    spans = [(0, 128), (64, 192), (128, 256)]
    weights = blend_weights(spans, 256, ramp, skip_first=skip_first)
    total = np.zeros(256)
    for (start, end), weight in zip(spans, weights):
        total[start:end] += weight
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    assert np.all(weights[0][:64] == 1.0)
    if skip_first:
        assert weights[1][0] == 0.0


def test_tiled_decode_is_exact_for_pointwise_layers_on_2x2x2_tiles():
    vae = _vae_with_kernels(0.0)
    latents = _latents()
    steps = list(iter_decode_tiled(vae, latents, 0.05, None, mx.random.key(1), SMALL_TILES))
    assert steps[-1].count == 8 and steps[-1].result is not None
    for step in steps:
        mx.eval(*step.pending)
    untiled = decode_video(vae, latents, 0.05, None, mx.random.key(1), TilingConfig.untiled())
    error = float(mx.abs(steps[-1].result - untiled).max() / mx.abs(untiled).max())
    print(f"pointwise tiled vs untiled decode relative max error {error:.1e}")
    assert untiled.shape == (1, 33, 192, 192, 3)
    assert error < 1e-5


def test_tiled_encode_is_exact_for_pointwise_layers_on_2x2x2_tiles():
    vae = _vae_with_kernels(0.0)
    pixels = mx.random.uniform(-1, 1, (1, 33, 192, 192, 3), key=mx.random.key(3))
    tiled = encode_video(vae, pixels, tiling=SMALL_TILES)
    untiled = encode_video(vae, pixels, tiling=TilingConfig.untiled())
    error = float(mx.abs(tiled - untiled).max() / mx.abs(untiled).max())
    print(f"pointwise tiled vs untiled encode relative max error {error:.1e}")
    assert tiled.shape == (1, 5, 6, 6, 16)
    assert error < 1e-5


def test_single_tile_decode_is_bitwise_the_untiled_decode():
    vae = _vae_with_kernels(0.3)
    latents = _latents((1, 2, 2, 3, 16))
    key = mx.random.key(2)
    tiled = decode_video(vae, latents, 0.05, 0.025, key, TilingConfig())
    direct = vae.decode(
        vae.denormalize_latents(latents * 0.975 + mx.random.normal(latents.shape, key=key) * 0.025), 0.05
    )
    assert np.array_equal(np.array(tiled), np.array(direct))


def test_tiled_decode_stays_close_to_untiled_with_spatial_context():
    """Layers that see their neighbours: tiles lack context at their borders; blending keeps it small.

    Stated tolerance: on 2x2x2 tiles, mean |tiled - untiled| below 8% of mean |untiled| (measured 4.5%; tiles of
    3-4 latents are smaller than these layers' receptive field, so single seam pixels differ by up to the output's
    own scale: max |tiled - untiled| measured 1.08x max |untiled|, bound 1.5x, which a blend whose weights
    did not sum to one would exceed);
    with spatial tiles only, the corner that one tile covers far from any seam within 1e-2 of the output scale.
    """
    vae = _vae_with_kernels(0.02)
    latents = _latents()
    untiled = np.array(decode_video(vae, latents, 0.05, None, mx.random.key(1), TilingConfig.untiled()))
    tiling = TilingConfig(spatial_tile=4, spatial_overlap=2, temporal_tile=3, temporal_overlap=2)
    tiled = np.array(decode_video(vae, latents, 0.05, None, mx.random.key(1), tiling))
    mean_ratio = np.abs(tiled - untiled).mean() / np.abs(untiled).mean()
    max_ratio = np.abs(tiled - untiled).max() / np.abs(untiled).max()
    spatial_only = TilingConfig(spatial_tile=4, spatial_overlap=2, temporal_tile=8, temporal_overlap=2)
    tiled_spatially = np.array(decode_video(vae, latents, 0.05, None, mx.random.key(1), spatial_only))
    corner = np.abs(tiled_spatially - untiled)[:, :, :32, :32].max() / np.abs(untiled).max()
    print(
        f"context tiled vs untiled decode: mean ratio {mean_ratio:.3f}, max ratio {max_ratio:.3f}, "
        f"far corner {corner:.1e}"
    )
    assert mean_ratio < 0.08
    assert max_ratio < 1.5
    assert corner < 1e-2


def _peak_bytes(run) -> int:
    mx.clear_cache()
    mx.reset_peak_memory()
    run()
    return mx.get_peak_memory()


def test_tiled_decode_peak_memory_is_below_untiled():
    vae = _vae_with_kernels(0.1)
    latents = _latents((1, 5, 8, 8, 16))
    mx.eval(latents)
    tiling = TilingConfig(spatial_tile=3, spatial_overlap=1, temporal_tile=3, temporal_overlap=1)

    def tiled_run():
        for step in iter_decode_tiled(vae, latents, 0.05, None, mx.random.key(1), tiling):
            mx.eval(*step.pending)

    untiled = _peak_bytes(lambda: decode_video(vae, latents, 0.05, None, mx.random.key(1), TilingConfig.untiled()))
    tiled = _peak_bytes(tiled_run)
    print(f"peak memory: untiled {untiled / 2**20:.1f} MiB, tiled {tiled / 2**20:.1f} MiB")
    assert tiled < 0.6 * untiled


def test_encode_with_temporal_tiles_needs_a_temporal_overlap():
    vae = _vae_with_kernels(0.0)
    pixels = mx.zeros((1, 25, 32, 32, 3))
    with pytest.raises(ValueError, match="temporal overlap"):
        tiling = TilingConfig(spatial_tile=4, spatial_overlap=0, temporal_tile=2, temporal_overlap=0)
        encode_video(vae, pixels, tiling=tiling)


def test_tiling_within_a_budget_decodes_whole_clips_that_fit_and_tiles_the_rest() -> None:
    grid = (13, 16, 24)  # 768x512x97
    whole = 97 * 512 * 768 * DECODE_BYTES_PER_PIXEL
    assert tiling_within(grid, whole) == TilingConfig.untiled()
    smaller = tiling_within(grid, whole - 1)
    assert smaller == TilingConfig()
    assert largest_tile_pixels(grid, smaller) * DECODE_BYTES_PER_PIXEL < whole
    # float32 needs twice the memory; nothing fits: the smallest tiles.
    assert tiling_within(grid, whole, dtype_bytes=4) == TilingConfig()
    tiny = tiling_within(grid, 0)
    assert largest_tile_pixels(grid, tiny) < largest_tile_pixels(grid, TilingConfig())


def test_tiling_within_counts_the_blend_sum_beside_the_largest_tile() -> None:
    grid = (13, 16, 24)  # 768x512x97
    tiles = TilingConfig()
    tile_only = largest_tile_pixels(grid, tiles) * DECODE_BYTES_PER_PIXEL
    assert blend_bytes(grid, TilingConfig.untiled()) == 0  # one tile: nothing to blend
    assert decode_bytes(grid, tiles) == tile_only + blend_bytes(grid, tiles)
    # Streamed out, the float32 sum is one temporal tile's frames (57 here); returned whole, the clip's.
    assert blend_bytes(grid, tiles) >= 57 * 512 * 768 * 12
    assert blend_bytes(grid, tiles, whole_clip=True) - blend_bytes(grid, tiles) == (97 - 57) * 512 * 768 * 12
    # The tile's own memory is not enough: the plan takes smaller tiles.
    assert largest_tile_pixels(grid, tiling_within(grid, tile_only)) < largest_tile_pixels(grid, tiles)
    assert tiling_within(grid, decode_bytes(grid, tiles)) == tiles

"""Tiled VAE decoding and encoding: memory bounded by the tile, not the clip.

`pipeline/tiling.py` plans the tiles (spans, blend weights); this module runs them.
Both drivers are generators that yield a `TileStep` after each tile with the
arrays to evaluate (`mx.eval(*step.pending)`), so the caller decides when work
happens and can report progress; `decode_video`/`encode_video` drain them.
Inside a tile the decoder is evaluated block by block (see `decode_tile`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltx_mlx_core.models.ltxv.latent_filters import tone_map_latents
from ltx_mlx_core.models.ltxv.vae import (
    DEFAULT_DECODE_TIMESTEP,
    CausalVideoAutoencoder,
    denormalize_latents,
    normalize_latents,
)
from ltx_mlx_core.models.ltxv.vae.autoencoder import sample_posterior
from ltx_mlx_core.pipeline.latents import latent_grid
from ltx_mlx_core.pipeline.tiling import (
    TileWeight,
    TilingConfig,
    pixel_extent,
    pixel_frames,
    tile_count,
    tile_grid,
)

logger = logging.getLogger(__name__)


@dataclass
class TileStep:
    """Progress after one tile. Evaluate `pending` now; `result` is set on the last step."""

    index: int
    count: int
    pending: list[mx.array]
    result: mx.array | None = None


def weight_tile(values: mx.array, weight: TileWeight) -> mx.array:
    """`values` [B, F, H, W, C] times a tile's blend weight, in float32.

    The 1-D profiles broadcast on the device: a pixel-sized 3-D weight built on the host for
    every tile cost more than a whole untiled decode (docs/PERFORMANCE.md).
    """
    values = values.astype(mx.float32)
    for axis, profile in ((1, weight.frames), (2, weight.rows), (3, weight.cols)):
        if not np.all(profile == 1.0):
            shape = [1, 1, 1, 1, 1]
            shape[axis] = profile.shape[0]
            values = values * mx.array(profile.astype(np.float32).reshape(shape))
    return values


def prepare_latents_for_decode(
    vae: CausalVideoAutoencoder,
    latents: mx.array,
    timestep: float | mx.array | None,
    noise_scale: float | mx.array | None,
    key: mx.array | None,
    tone_map_compression: float = 0.0,
    normalized: bool = True,
) -> tuple[mx.array, mx.array | None]:
    """What the reference pipeline does before `vae_decode`: mix in decode noise, tone-map, un-normalise.

    Returns (raw latents, per-batch decode timestep or None for unconditioned decoders).
    `noise_scale=None` means "same as the timestep", the reference pipeline's default.
    """
    batch = latents.shape[0]
    if vae.config.timestep_conditioning:
        timestep = DEFAULT_DECODE_TIMESTEP if timestep is None else timestep
        timestep = mx.broadcast_to(mx.array(timestep, dtype=mx.float32).reshape(-1), (batch,))
        if not (isinstance(noise_scale, (int, float)) and noise_scale == 0):
            scale = timestep if noise_scale is None else mx.array(noise_scale, dtype=mx.float32).reshape(-1)
            scale = mx.broadcast_to(scale, (batch,)).reshape(batch, 1, 1, 1, 1).astype(latents.dtype)
            if key is None:
                raise ValueError("Decoding with a timestep-conditioned VAE mixes in noise: pass a random key.")
            noise = mx.random.normal(latents.shape, key=key).astype(latents.dtype)
            latents = latents * (1 - scale) + noise * scale
    else:
        timestep = None
    latents = tone_map_latents(latents, tone_map_compression)
    if normalized:
        latents = denormalize_latents(latents, vae)
    return latents, timestep


def iter_decode_tiled(
    vae: CausalVideoAutoencoder,
    latents: mx.array,
    timestep: float | mx.array | None = None,
    noise_scale: float | mx.array | None = None,
    key: mx.array | None = None,
    tiling: TilingConfig | None = None,
    *,
    tone_map_compression: float = 0.0,
    normalized: bool = True,
) -> Iterator[TileStep]:
    """Decode latents [B, F', h, w, C] to pixels [B, 8(F'-1)+1, 32h, 32w, 3] tile by tile (float32 where
    tiles are blended, the decoder's dtype when the clip is one tile).

    `latents` are the pipeline's normalised latents unless `normalized=False`.
    For timestep-conditioned VAEs (0.9.8) `timestep` defaults to 0.05 and `key` seeds
    the decode noise (required unless `noise_scale=0`); `noise_scale=None` uses the
    timestep, the reference pipeline's default (the 0.9.8 configs set 0.025).
    """
    vae.check_latent_shape(latents)
    tiling = tiling or TilingConfig()
    raw, timestep = prepare_latents_for_decode(
        vae, latents, timestep, noise_scale, key, tone_map_compression, normalized
    )
    t_scale, s_scale = vae.temporal_compression, vae.spatial_compression
    batch, frames, rows, cols, _ = raw.shape
    out_shape = (batch, *pixel_extent((frames, rows, cols), t_scale, s_scale), vae.config.out_channels)
    count = tile_count((frames, rows, cols), tiling)
    logger.debug("decoding %s latents in %d tiles", tuple(raw.shape), count)
    output = mx.zeros(out_shape, dtype=mx.float32)
    # Decoders whose blocks inject spatial noise (none in 0.9.8) draw it per tile from this key.
    block_key = mx.random.split(key)[1] if key is not None else None
    tiles = tile_grid((frames, rows, cols), tiling, t_scale, s_scale, out_in_pixels=True)
    for index, tile in enumerate(tiles, start=1):
        (f0, f1), (h0, h1), (w0, w1) = tile.latent
        (pf0, pf1), (ph0, ph1), (pw0, pw1) = tile.output
        pixels = decode_tile(vae, raw[:, f0:f1, h0:h1, w0:w1], timestep, block_key)
        if count == 1:
            output = pixels  # nothing to blend: the decoder's dtype, as the reference returns it
        else:
            output[:, pf0:pf1, ph0:ph1, pw0:pw1] += weight_tile(pixels, tile.weight)
        done = index == count
        # Evaluating `raw` with the first tile computes the noised latents once for all tiles.
        pending = [output, raw] if index == 1 and not done else [output]
        yield TileStep(index, count, pending, output if done else None)


def decode_tile(
    vae: CausalVideoAutoencoder, latents: mx.array, timestep: mx.array | None, key: mx.array | None
) -> mx.array:
    """Decode one tile, evaluating after every decoder block; returns the pixels (still computing).

    One evaluation of the whole decoder graph keeps every block's intermediates alive until it
    completes; block by block, only one block's are, for a little more time (the peak and the
    time cost are in docs/PERFORMANCE.md). Each block is started asynchronously, so the host
    builds the next block's graph while the device runs this one; the next block starts only
    once this one is done, so no more is allocated at a time than one block's evaluation needs.
    """
    blocks = vae.iter_decode(latents, timestep=timestep, key=key)
    activation = next(blocks)
    mx.async_eval(activation)
    for following in blocks:  # built while `activation` runs
        mx.eval(activation)
        mx.async_eval(following)
        activation = following
    return activation


def iter_encode_tiled(
    vae: CausalVideoAutoencoder,
    pixels: mx.array,
    key: mx.array | None = None,
    tiling: TilingConfig | None = None,
    *,
    normalize: bool = True,
) -> Iterator[TileStep]:
    """Encode pixels [B, 8k+1, H, W, 3] to latents [B, k+1, H/32, W/32, C] tile by tile.

    The result is normalised (what the transformer works on) unless `normalize=False`;
    with `key` the latents are sampled from the posterior as the reference's `vae_encode` does.
    """
    vae.check_pixel_shape(pixels)
    tiling = tiling or TilingConfig()
    t_scale, s_scale = vae.temporal_compression, vae.spatial_compression
    batch, frames, height, width, _ = pixels.shape
    grid = latent_grid(frames, height, width, (t_scale, s_scale, s_scale))
    count = tile_count(grid, tiling)
    out_shape = (batch, *grid, vae.config.latent_channels)
    mean_sum = mx.zeros(out_shape, dtype=mx.float32)
    logvar_sum = mx.zeros(out_shape, dtype=mx.float32) if key is not None else None
    tiles = tile_grid(grid, tiling, t_scale, s_scale, out_in_pixels=False)
    for index, tile in enumerate(tiles, start=1):
        (f0, f1), (h0, h1), (w0, w1) = tile.latent
        pf0, pf1 = pixel_frames((f0, f1), t_scale)
        tile_pixels = pixels[:, pf0:pf1, h0 * s_scale : h1 * s_scale, w0 * s_scale : w1 * s_scale]
        mean, logvar = vae.encode_moments(tile_pixels)
        mean_sum[:, f0:f1, h0:h1, w0:w1] += weight_tile(mean, tile.weight)
        pending = [mean_sum]
        if logvar_sum is not None:
            logvar_sum[:, f0:f1, h0:h1, w0:w1] += weight_tile(logvar, tile.weight)
            pending.append(logvar_sum)
        if index < count:
            yield TileStep(index, count, pending)
            continue
        latents = mean_sum if key is None else sample_posterior(mean_sum, logvar_sum, key)
        latents = latents.astype(pixels.dtype)
        if normalize:
            latents = normalize_latents(latents, vae)
        yield TileStep(index, count, [latents], latents)


def drain_steps(steps: Iterator[TileStep]) -> mx.array:
    result = None
    for step in steps:
        mx.eval(*step.pending)
        result = step.result
    assert result is not None, "a tiled driver finished without a result"
    return result


def decode_video(
    vae: CausalVideoAutoencoder,
    latents: mx.array,
    timestep: float | mx.array | None = None,
    noise_scale: float | mx.array | None = None,
    key: mx.array | None = None,
    tiling: TilingConfig | None = None,
    *,
    tone_map_compression: float = 0.0,
    normalized: bool = True,
) -> mx.array:
    """`iter_decode_tiled` run to the end: pixels [B, F, H, W, 3] in about [-1, 1], evaluated."""
    return drain_steps(
        iter_decode_tiled(
            vae,
            latents,
            timestep,
            noise_scale,
            key,
            tiling,
            tone_map_compression=tone_map_compression,
            normalized=normalized,
        )
    )


def encode_video(
    vae: CausalVideoAutoencoder,
    pixels: mx.array,
    key: mx.array | None = None,
    tiling: TilingConfig | None = None,
    *,
    normalize: bool = True,
) -> mx.array:
    """`iter_encode_tiled` run to the end: (normalised) latents, evaluated."""
    return drain_steps(iter_encode_tiled(vae, pixels, key, tiling, normalize=normalize))

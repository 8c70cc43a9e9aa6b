"""Tiled VAE decoding and encoding: memory bounded by the tile, not the clip.

The clip is cut into overlapping tiles on a (frames, rows, columns) latent grid.
Each tile is decoded (or encoded) on its own and added into the output with a
separable weight: 1 where only one tile covers a position, linear cross-fades
where neighbours overlap; the weights of all tiles sum to exactly 1 everywhere.
A clip that fits in one tile therefore decodes exactly as untiled.

Both drivers are generators that yield a `TileStep` after each tile with the
arrays to evaluate (`mx.eval(*step.pending)`), so the caller decides when work
happens and can report progress; `decode_video`/`encode_video` drain them.
Inside a tile the decoder is evaluated block by block (see `_decode_tile`).

Temporal mapping: latent frames [f0, f1) decode to pixel frames [8*f0, 8*(f1-1)+1)
(a tile's first latent frame decodes to one frame, like a clip's first frame).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Iterator

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

logger = logging.getLogger(__name__)

Span = tuple[int, int]


@dataclass(frozen=True)
class TilingConfig:
    """Largest tile sizes and smallest overlaps in LATENT units (1 latent = 32 px or 8 frames).

    The defaults decode 512x512 px, 57-frame tiles, overlapping by 128 px and 9 frames.
    """

    spatial_tile: int = 16
    spatial_overlap: int = 4
    temporal_tile: int = 8
    temporal_overlap: int = 2

    def __post_init__(self) -> None:
        for name, tile, overlap in (
            ("spatial", self.spatial_tile, self.spatial_overlap),
            ("temporal", self.temporal_tile, self.temporal_overlap),
        ):
            if tile < 1 or overlap < 0 or overlap >= tile:
                raise ValueError(
                    f"The {name} tile must be at least 1 latent and larger than its overlap; "
                    f"got tile={tile}, overlap={overlap}."
                )

    @classmethod
    def untiled(cls) -> "TilingConfig":
        """One tile for any clip up to 1M latents per side (what 'no tiling' means here)."""
        return cls(spatial_tile=1 << 20, spatial_overlap=0, temporal_tile=1 << 20, temporal_overlap=0)


# Decode working memory per output pixel (frames x height x width) in bf16, block by block:
# 4.1 GiB over a 768x512x97 clip with the 0.9.8 VAE on an H200 (docs/PERFORMANCE.md), rounded up.
DECODE_BYTES_PER_PIXEL = 128
_FALLBACK_TILINGS = (
    TilingConfig(),
    TilingConfig(spatial_tile=12, spatial_overlap=3, temporal_tile=6, temporal_overlap=2),
    TilingConfig(spatial_tile=8, spatial_overlap=2, temporal_tile=4, temporal_overlap=1),
)


def largest_tile_pixels(latent_grid: tuple[int, int, int], tiling: TilingConfig,
                        t_scale: int = 8, s_scale: int = 32) -> int:
    """Output pixels (frames x height x width) of the largest tile `tiling` cuts the grid into."""
    frames, rows, cols = latent_grid
    f = max(e - s for s, e in plan_tiles(frames, tiling.temporal_tile, tiling.temporal_overlap))
    h = max(e - s for s, e in plan_tiles(rows, tiling.spatial_tile, tiling.spatial_overlap))
    w = max(e - s for s, e in plan_tiles(cols, tiling.spatial_tile, tiling.spatial_overlap))
    return (t_scale * (f - 1) + 1) * h * s_scale * w * s_scale


def tiling_within(latent_grid: tuple[int, int, int], budget_bytes: int, dtype_bytes: int = 2) -> TilingConfig:
    """The fewest tiles whose decode fits `budget_bytes`: the whole clip at once when it fits
    (no overlap recomputed), else the default tiles, else smaller ones."""
    per_pixel = DECODE_BYTES_PER_PIXEL * dtype_bytes // 2
    for tiling in (TilingConfig.untiled(), *_FALLBACK_TILINGS):
        if largest_tile_pixels(latent_grid, tiling) * per_pixel <= budget_bytes:
            return tiling
    return _FALLBACK_TILINGS[-1]


@dataclass
class TileStep:
    """Progress after one tile. Evaluate `pending` now; `result` is set on the last step."""

    index: int
    count: int
    pending: list[mx.array]
    result: mx.array | None = None


def plan_tiles(length: int, tile: int, overlap: int) -> list[Span]:
    """Evenly spaced [start, end) spans covering range(length).

    Uses the fewest spans of at most `tile` positions that overlap by at least
    `overlap`, then shrinks them to equal sizes (less work, same or more overlap).
    """
    if length <= tile:
        return [(0, length)]
    count = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (count - 1) * overlap) / count)
    starts = [index * (length - size) // (count - 1) for index in range(count)]
    return [(start, start + size) for start in starts]


def blend_weights(spans: list[Span], length: int, ramp: int, skip_first: bool = False) -> list[np.ndarray]:
    """Per-span 1-D weights over each span's positions; at every position they sum to 1.

    A span fades in over `ramp` positions after its start and out before its end,
    except at the clip's borders; positions covered by one span get weight 1.
    `skip_first` gives a non-first span's first position weight 0 (for encoding:
    that latent frame encodes one frame as an image, never what the clip's latent holds).
    """
    raw = []
    for start, end in spans:
        positions = np.arange(start, end, dtype=np.float64)
        weight = np.ones(end - start)
        if start > 0 and skip_first:
            weight = np.minimum(weight, (positions - start) / max(ramp, 1))
        elif start > 0 and ramp > 0:
            weight = np.minimum(weight, (positions - start + 1) / (ramp + 1))
        if end < length and ramp > 0:
            weight = np.minimum(weight, (end - positions) / (ramp + 1))
        raw.append(weight)
    total = np.zeros(length)
    for (start, end), weight in zip(spans, raw):
        total[start:end] += weight
    if np.any(total <= 0):
        raise ValueError("Tiles leave positions without weight: use a temporal overlap of at least 1 latent frame.")
    return [weight / total[start:end] for (start, end), weight in zip(spans, raw)]


def _frames_of(span: Span, compression: int) -> Span:
    """Latent frames [f0, f1) -> the pixel frames they decode to."""
    return compression * span[0], compression * (span[1] - 1) + 1


def _grid(
    latent_shape: tuple[int, int, int], tiling: TilingConfig, t_scale: int, s_scale: int, out_in_pixels: bool
):
    """Yield (latent spans, output spans, separable output weights) for every tile."""
    frames, rows, cols = latent_shape
    f_spans = plan_tiles(frames, tiling.temporal_tile, tiling.temporal_overlap)
    h_spans = plan_tiles(rows, tiling.spatial_tile, tiling.spatial_overlap)
    w_spans = plan_tiles(cols, tiling.spatial_tile, tiling.spatial_overlap)
    if out_in_pixels:
        out_f = [_frames_of(s, t_scale) for s in f_spans]
        out_h = [(a * s_scale, b * s_scale) for a, b in h_spans]
        out_w = [(a * s_scale, b * s_scale) for a, b in w_spans]
        lengths = (t_scale * (frames - 1) + 1, rows * s_scale, cols * s_scale)
        ramps = (
            t_scale * (tiling.temporal_overlap - 1) + 1 if tiling.temporal_overlap else 0,
            tiling.spatial_overlap * s_scale,
            tiling.spatial_overlap * s_scale,
        )
    else:
        out_f, out_h, out_w = f_spans, h_spans, w_spans
        lengths = latent_shape
        ramps = (tiling.temporal_overlap, tiling.spatial_overlap, tiling.spatial_overlap)
    weights_f = blend_weights(out_f, lengths[0], ramps[0], skip_first=not out_in_pixels)
    weights_h = blend_weights(out_h, lengths[1], ramps[1])
    weights_w = blend_weights(out_w, lengths[2], ramps[2])
    for fi, f_span in enumerate(f_spans):
        for hi, h_span in enumerate(h_spans):
            for wi, w_span in enumerate(w_spans):
                yield (f_span, h_span, w_span), (out_f[fi], out_h[hi], out_w[wi]), TileWeight(
                    weights_f[fi], weights_h[hi], weights_w[wi]
                )


@dataclass(frozen=True)
class TileWeight:
    """A tile's separable blend weight: one 1-D profile per axis (frames, rows, columns).

    Applied by broadcasting on the device: a clip's pixel-sized 3-D weight, built on the
    host for every tile, cost more than a whole untiled 768x512x97 decode on a GPU.
    """

    frames: np.ndarray
    rows: np.ndarray
    cols: np.ndarray

    def apply(self, values: mx.array) -> mx.array:
        """`values` [B, F, H, W, C] times the weight, in float32."""
        values = values.astype(mx.float32)
        for axis, profile in ((1, self.frames), (2, self.rows), (3, self.cols)):
            if not np.all(profile == 1.0):
                shape = [1, 1, 1, 1, 1]
                shape[axis] = profile.shape[0]
                values = values * mx.array(profile.astype(np.float32).reshape(shape))
        return values


def _tile_count(latent_shape: tuple[int, int, int], tiling: TilingConfig) -> int:
    frames, rows, cols = latent_shape
    return (
        len(plan_tiles(frames, tiling.temporal_tile, tiling.temporal_overlap))
        * len(plan_tiles(rows, tiling.spatial_tile, tiling.spatial_overlap))
        * len(plan_tiles(cols, tiling.spatial_tile, tiling.spatial_overlap))
    )


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
    out_shape = (batch, t_scale * (frames - 1) + 1, rows * s_scale, cols * s_scale, vae.config.out_channels)
    count = _tile_count((frames, rows, cols), tiling)
    logger.debug("decoding %s latents in %d tiles", tuple(raw.shape), count)
    output = mx.zeros(out_shape, dtype=mx.float32)
    # Decoders whose blocks inject spatial noise (none in 0.9.8) draw it per tile from this key.
    block_key = mx.random.split(key)[1] if key is not None else None
    tiles = _grid((frames, rows, cols), tiling, t_scale, s_scale, out_in_pixels=True)
    for index, (spans, out_spans, weight) in enumerate(tiles, start=1):
        (f0, f1), (h0, h1), (w0, w1) = spans
        (pf0, pf1), (ph0, ph1), (pw0, pw1) = out_spans
        pixels = _decode_tile(vae, raw[:, f0:f1, h0:h1, w0:w1], timestep, block_key)
        if count == 1:
            output = pixels  # nothing to blend: the decoder's dtype, as the reference returns it
        else:
            output[:, pf0:pf1, ph0:ph1, pw0:pw1] += weight.apply(pixels)
        done = index == count
        # Evaluating `raw` with the first tile computes the noised latents once for all tiles.
        pending = [output, raw] if index == 1 and not done else [output]
        yield TileStep(index, count, pending, output if done else None)


def _decode_tile(vae: CausalVideoAutoencoder, latents: mx.array, timestep: mx.array | None,
                 key: mx.array | None) -> mx.array:
    """Decode one tile, evaluating after every decoder block; returns the (unevaluated) pixels.

    One evaluation of the whole decoder graph keeps intermediates alive until it completes:
    a 768x512x97 clip peaked at 9.4 GiB that way against 6.9 GiB block by block (H200,
    docs/PERFORMANCE.md), which costs 8-11 % more time.
    """
    blocks = vae.iter_decode(latents, timestep=timestep, key=key)
    activation = next(blocks)
    for following in blocks:
        mx.eval(activation)
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
    latent_grid = ((frames - 1) // t_scale + 1, height // s_scale, width // s_scale)
    count = _tile_count(latent_grid, tiling)
    out_shape = (batch, *latent_grid, vae.config.latent_channels)
    mean_sum = mx.zeros(out_shape, dtype=mx.float32)
    logvar_sum = mx.zeros(out_shape, dtype=mx.float32) if key is not None else None
    tiles = _grid(latent_grid, tiling, t_scale, s_scale, out_in_pixels=False)
    for index, (spans, out_spans, weight) in enumerate(tiles, start=1):
        (f0, f1), (h0, h1), (w0, w1) = spans
        pf0, pf1 = _frames_of((f0, f1), t_scale)
        tile = pixels[:, pf0:pf1, h0 * s_scale : h1 * s_scale, w0 * s_scale : w1 * s_scale]
        mean, logvar = vae.encode_moments(tile)
        mean_sum[:, f0:f1, h0:h1, w0:w1] += weight.apply(mean)
        pending = [mean_sum]
        if logvar_sum is not None:
            logvar_sum[:, f0:f1, h0:h1, w0:w1] += weight.apply(logvar)
            pending.append(logvar_sum)
        if index < count:
            yield TileStep(index, count, pending)
            continue
        latents = mean_sum if key is None else sample_posterior(mean_sum, logvar_sum, key)
        latents = latents.astype(pixels.dtype)
        if normalize:
            latents = normalize_latents(latents, vae)
        yield TileStep(index, count, [latents], latents)


def _drain(steps: Iterator[TileStep]) -> mx.array:
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
    return _drain(
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
    return _drain(iter_encode_tiled(vae, pixels, key, tiling, normalize=normalize))

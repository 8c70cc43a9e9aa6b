"""Latent layout helpers: tokens, coordinates and initial noise.

Latents are [B, F, H, W, C] (channels last); the transformer sees tokens
[B, F*H*W, C] in (f, h, w) order, as the reference's patchifier with 1x1x1
patches. Each token's position is its latent corner scaled to pixels by the
VAE's factors (8 frames, 32 px); with causal positioning the first latent frame
(which holds a single frame) sits at frame 0. The transformer gets the frame
coordinate in seconds (divided by the frame rate).
"""

from __future__ import annotations

import mlx.core as mx

from ltx_mlx_core.models.common.patchify import unpatchify

VAE_SCALE_FACTORS = (8, 32, 32)  # frames, rows, columns per latent


def latent_coords(grid: tuple[int, int, int], batch: int = 1) -> mx.array:
    """Integer (f, h, w) of every token, [B, 3, N]."""
    frames, rows, cols = grid
    f = mx.broadcast_to(mx.arange(frames)[:, None, None], grid)
    h = mx.broadcast_to(mx.arange(rows)[None, :, None], grid)
    w = mx.broadcast_to(mx.arange(cols)[None, None, :], grid)
    coords = mx.stack([f.reshape(-1), h.reshape(-1), w.reshape(-1)])
    return mx.broadcast_to(coords[None], (batch, 3, frames * rows * cols))


def pixel_coords(coords: mx.array, causal_fix: bool, scale: tuple[int, int, int] = VAE_SCALE_FACTORS) -> mx.array:
    """Latent corners → pixel coordinates (float32); `causal_fix` shifts frames so latent 0 is frame 0."""
    pixels = coords.astype(mx.float32) * mx.array(scale, dtype=mx.float32)[None, :, None]
    if causal_fix:
        frames = mx.maximum(pixels[:, 0] + 1 - scale[0], 0)
        pixels = mx.concatenate([frames[:, None], pixels[:, 1:]], axis=1)
    return pixels


def fractional_coords(pixels: mx.array, frame_rate: float) -> mx.array:
    """What the transformer takes: the frame coordinate in seconds."""
    return mx.concatenate([pixels[:, :1] * (1.0 / frame_rate), pixels[:, 1:]], axis=1)


def latent_grid(
    num_frames: int, height: int, width: int, scale: tuple[int, int, int] = VAE_SCALE_FACTORS
) -> tuple[int, int, int]:
    """(frames, rows, columns) of the latents a clip of this size encodes to (the first frame is a latent)."""
    frames, rows, cols = scale
    return (num_frames - 1) // frames + 1, height // rows, width // cols


def initial_noise(
    key: mx.array, batch: int, grid: tuple[int, int, int], channels: int, dtype: mx.Dtype = mx.float32
) -> mx.array:
    """N(0, 1) latents [B, F, H, W, C], drawn in token order like the reference."""
    frames, rows, cols = grid
    noise = mx.random.normal((batch, frames * rows * cols, channels), key=key).astype(dtype)
    return unpatchify(noise, grid)

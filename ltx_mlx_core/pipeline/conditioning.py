"""Conditioning items → the token sequence the denoiser works on, as the reference `prepare_conditioning`.

An item placed at frame 0 replaces (lerp by strength) the first latent frames of
the noise in place. A single frame placed elsewhere becomes extra tokens: its
latents mixed with fresh noise by strength, at its own pixel coordinates. A
sequence placed elsewhere has its latents after the first `PREFIX_LATENT_FRAMES`
replace the clip's latents at their frames; its prefix (whose first latent is a
lone causal frame, unlike the clip's latent there) is handled by `prefix_mode`,
the reference's `prefix_latents_mode`:

- "concat" (the reference pipeline's choice): appended as extra tokens, as single frames are;
- "soft": its first latent dropped, the rest blended in place at a strength of at
  most `prefix_soft_strength`;
- "drop": not used.

Extra tokens come first in the sequence and are dropped after denoising.
The conditioning mask holds each token's strength (1 = never denoised).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.common.patchify import patchify
from ltx_mlx_core.pipeline.latents import fractional_coords, latent_coords, pixel_coords

PREFIX_LATENT_FRAMES = 2
PREFIX_MODES = ("concat", "soft", "drop")
DEFAULT_PREFIX_SOFT_STRENGTH = 0.15


@dataclass
class PlacedMedia:
    """Prepared pixels [1, n, H, W, 3] in [-1, 1] (n = 8k+1) to place at `frame` with `strength`."""

    pixels: mx.array
    frame: int
    strength: float


@dataclass
class ConditionedTokens:
    tokens: mx.array  # [B, N_extra + N, C]
    pixel_coords: mx.array  # [B, 3, N_extra + N]
    mask: mx.array | None  # [B, N_extra + N] strengths, None without conditioning
    num_extra: int

    def coords(self, frame_rate: float) -> mx.array:
        return fractional_coords(self.pixel_coords, frame_rate)


def _lerp(a: mx.array, b: mx.array, weight: float) -> mx.array:
    return a + weight * (b - a)


def _blend_in_place(
    latents: mx.array, mask: mx.array, encoded: mx.array, start: int, strength: float
) -> tuple[mx.array, mx.array]:
    """Latent frames from `start` lerped towards `encoded` by `strength`, and marked with it in the mask."""
    end = start + encoded.shape[1]
    blended = _lerp(latents[:, start:end], encoded, strength)
    latents = mx.concatenate([latents[:, :start], blended, latents[:, end:]], axis=1)
    mask = mx.concatenate([mask[:, :start], mx.full(mask[:, start:end].shape, strength), mask[:, end:]], axis=1)
    return latents, mask


def prepare_conditioning(
    init_latents: mx.array,
    media: list[PlacedMedia],
    encode: Callable[[mx.array], mx.array],
    num_frames: int,
    causal_fix: bool,
    key: mx.array,
    prefix_mode: str = "concat",
    prefix_soft_strength: float = DEFAULT_PREFIX_SOFT_STRENGTH,
) -> ConditionedTokens:
    """init_latents [B, F, H, W, C] (noise, or noised latents); `encode` maps pixels to normalised latents."""
    if prefix_mode not in PREFIX_MODES:
        raise InvalidRequest(f"prefix_latents_mode must be one of {', '.join(PREFIX_MODES)}; got '{prefix_mode}'.")
    batch, frames, rows, cols, channels = init_latents.shape
    latents = init_latents
    mask = mx.zeros((batch, frames, rows, cols), dtype=mx.float32)
    extra_tokens, extra_coords, extra_masks = [], [], []
    keys = mx.random.split(key, max(1, len(media)))
    for index, item in enumerate(media):
        count, height, width = item.pixels.shape[1:4]
        if count % 8 != 1:
            raise InvalidRequest(f"A conditioning sequence needs 8k+1 frames; got {count}.")
        if not (0 <= item.frame and item.frame + count <= num_frames):
            raise InvalidRequest(
                f"Conditioning frames {item.frame}–{item.frame + count - 1} fall outside the clip's "
                f"frames 0–{num_frames - 1}."
            )
        if (height, width) != (rows * 32, cols * 32):
            raise InvalidRequest(
                f"Conditioning media must be prepared at {cols * 32}x{rows * 32}; got {width}x{height}."
            )
        encoded = encode(item.pixels).astype(latents.dtype)  # [1, f, rows, cols, C]
        encoded = mx.broadcast_to(encoded, (batch, *encoded.shape[1:]))
        f_l = encoded.shape[1]
        if item.frame == 0:
            latents = mx.concatenate([_lerp(latents[:, :f_l], encoded, item.strength), latents[:, f_l:]], axis=1)
            mask = mx.concatenate([mx.full(mask[:, :f_l].shape, item.strength), mask[:, f_l:]], axis=1)
            continue
        if f_l > 1:
            if item.frame % 8:
                raise InvalidRequest(f"A conditioning video must start on a multiple of 8 frames; {item.frame} is not.")
            first = item.frame // 8
            if f_l > PREFIX_LATENT_FRAMES:
                start = first + PREFIX_LATENT_FRAMES
                latents, mask = _blend_in_place(latents, mask, encoded[:, PREFIX_LATENT_FRAMES:], start, item.strength)
            if prefix_mode == "soft":
                strength = min(prefix_soft_strength, item.strength)
                latents, mask = _blend_in_place(latents, mask, encoded[:, 1:PREFIX_LATENT_FRAMES], first + 1, strength)
            if prefix_mode != "concat":
                continue
            encoded = encoded[:, :PREFIX_LATENT_FRAMES]
        noise = mx.random.normal(encoded.shape, key=keys[index]).astype(encoded.dtype)
        encoded = _lerp(noise, encoded, item.strength)
        grid = encoded.shape[1:4]
        coords = pixel_coords(latent_coords(grid, batch), causal_fix)
        coords = mx.concatenate([coords[:, :1] + item.frame, coords[:, 1:]], axis=1)
        extra_tokens.append(patchify(encoded))
        extra_coords.append(coords)
        extra_masks.append(mx.full((batch, grid[0] * grid[1] * grid[2]), item.strength))

    tokens = patchify(latents)
    coords = pixel_coords(latent_coords((frames, rows, cols), batch), causal_fix)
    if not media:
        return ConditionedTokens(tokens, coords, None, 0)
    token_mask = mask.reshape(batch, -1)
    num_extra = sum(t.shape[1] for t in extra_tokens)
    if extra_tokens:
        tokens = mx.concatenate([*extra_tokens, tokens], axis=1)
        coords = mx.concatenate([*extra_coords, coords], axis=2)
        token_mask = mx.concatenate([*extra_masks, token_mask], axis=1)
    return ConditionedTokens(tokens, coords, token_mask, num_extra)

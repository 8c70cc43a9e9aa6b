"""Tiled VAE decoding that hands finished frames out as it goes.

The tiles, their blend weights and the per-block evaluation of a tile are decode.py's:
decoding here is the same computation as `iter_decode_tiled`, only the output is never
held whole. Tiles are visited temporal span by temporal span; each span's spatial tiles are
blended into float32 buffers of that span's frames, cut in two where the next span starts: the
head, which no later tile reaches, is handed out as it is once the span is added up; the tail
(the overlap) is added into the next span's buffers before that span's first tile decodes. So
the blending holds one temporal tile's frames (`tiling.blend_bytes`) and the weighted tile being
added, plus the piece the caller holds; the caller can encode, preview or write each piece and
drop it.

Works with any VAE with the 0.9.x interface (LTX-Video 0.9.x and the LTX-2 family).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder
from ltx_mlx_core.pipeline.decode import decode_tile, prepare_latents_for_decode, weight_tile
from ltx_mlx_core.pipeline.tiling import TilingConfig, tile_grid

logger = logging.getLogger(__name__)


@dataclass
class FramesStep:
    """Progress after one tile. Evaluate `pending` now; then `frames`, when set, are final.

    `frames` [B, n, H, W, C] are the clip's frames `first_frame` .. `first_frame + n - 1`, in
    float32 where tiles were blended, in the decoder's dtype when the clip is one tile.
    """

    index: int
    count: int
    pending: list[mx.array]
    frames: mx.array | None = None
    first_frame: int = 0


def iter_decode_frames(
    vae: CausalVideoAutoencoder,
    latents: mx.array,
    timestep: float | mx.array | None = None,
    noise_scale: float | mx.array | None = None,
    key: mx.array | None = None,
    tiling: TilingConfig | None = None,
    *,
    tone_map_compression: float = 0.0,
    normalized: bool = True,
) -> Iterator[FramesStep]:
    """Decode latents [B, F', h, w, C] tile by tile, yielding the clip's frames in order as they finish.

    Arguments as `decode.iter_decode_tiled`. `timestep`, `noise_scale` and `key` only matter
    for timestep-conditioned decoders (no LTX-2 family checkpoint so far); for such an LTX-2
    decoder the reference mixes in noise * 0.025 at timestep 0.05 (`DECODE_NOISE_SCALE`,
    `DECODE_TIMESTEP` in models/ltx2/video_vae_config.py): pass both.
    """
    vae.check_latent_shape(latents)
    tiling = tiling or TilingConfig()
    raw, timestep = prepare_latents_for_decode(
        vae, latents, timestep, noise_scale, key, tone_map_compression, normalized
    )
    t_scale, s_scale = vae.temporal_compression, vae.spatial_compression
    batch, frames, rows, cols, _ = raw.shape
    total_frames = t_scale * (frames - 1) + 1
    tiles = list(tile_grid((frames, rows, cols), tiling, t_scale, s_scale, out_in_pixels=True))
    count = len(tiles)
    logger.debug("decoding %s latents in %d tiles, streaming frames", tuple(raw.shape), count)
    # Decoders whose blocks inject spatial noise draw it per tile from this key (as decode.py does).
    block_key = mx.random.split(key)[1] if key is not None else None
    if count == 1:
        # Nothing to blend: the decoder's dtype, as the reference returns it.
        pixels = decode_tile(vae, raw, timestep, block_key)
        yield FramesStep(1, 1, [pixels], pixels, 0)
        return
    # tile_grid visits tiles frames-major: consecutive tiles share a temporal span.
    spans = [list(group) for _, group in itertools.groupby(tiles, key=lambda tile: tile.output[0])]
    starts = [group[0].output[0][0] for group in spans] + [total_frames]
    frame_shape = (rows * s_scale, cols * s_scale, vae.config.out_channels)
    carry: mx.array | None = None
    index = 0
    for span_index, group in enumerate(spans):
        first, last = group[0].output[0]
        # Two buffers, split where the next span starts: the head is final once this span is added
        # up and is handed out as it is, the tail is carried into the next span; no copies of either.
        split = starts[span_index + 1] - first
        buffers = [mx.zeros((batch, split, *frame_shape), dtype=mx.float32)]
        if split < last - first:
            buffers.append(mx.zeros((batch, last - first - split, *frame_shape), dtype=mx.float32))
        if carry is not None:
            _add_frames(buffers, split, carry, slice(None), slice(None))
            # Now, so the carried frames are gone before this span's first tile decodes.
            mx.eval(*buffers)
            carry = None
        for position, tile in enumerate(group, start=1):
            (f0, f1), (h0, h1), (w0, w1) = tile.latent
            _, (ph0, ph1), (pw0, pw1) = tile.output
            index += 1
            pixels = decode_tile(vae, raw[:, f0:f1, h0:h1, w0:w1], timestep, block_key)
            _add_frames(buffers, split, weight_tile(pixels, tile.weight), slice(ph0, ph1), slice(pw0, pw1))
            pixels = None
            # Evaluating `raw` with the first tile computes the noised latents once for all tiles.
            latents_once = [raw] if index == 1 else []
            if position < len(group):
                yield FramesStep(index, count, [*buffers, *latents_once])
        finished = buffers[0]
        carry = buffers[1] if len(buffers) > 1 else None
        buffers = None
        yield FramesStep(
            index, count, [finished] + ([carry] if carry is not None else []) + latents_once, finished, first
        )
        finished = None


def _add_frames(buffers: list[mx.array], split: int, values: mx.array, rows: slice, cols: slice) -> None:
    """Add `values` [B, n, h, w, C] (a span's first n frames) into the span's head and tail at `rows`, `cols`.

    In place: each buffer is the only reference to its memory, so MLX updates the slice where it is.
    """
    frames = values.shape[1]
    buffers[0][:, : min(frames, split), rows, cols] += values[:, :split]
    if frames > split:
        buffers[1][:, : frames - split, rows, cols] += values[:, split:]


def collect_frames(steps: Iterator[FramesStep]) -> mx.array:
    """Run a frame stream to its end and join the pieces: the whole clip, evaluated (tests, short clips)."""
    pieces = []
    for step in steps:
        mx.eval(*step.pending)
        if step.frames is not None:
            pieces.append(step.frames)
    return pieces[0] if len(pieces) == 1 else mx.concatenate(pieces, axis=1)

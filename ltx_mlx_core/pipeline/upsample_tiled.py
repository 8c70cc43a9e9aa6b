"""Latent upsampling in spatial tiles: large latents never need the whole forward at once.

The upsampler runs layer by layer over tiles of the input (`iter_tiled_forward`), which
computes exactly the untiled forward (its GroupNorms still see the whole tensor) while no
convolution ever runs on more than one tile. The tiles are planned with decode.py's
`plan_tiles`; latents that fit in one tile are upsampled by one untiled call.

A ratio up/down (x1.5 = 3/2) is tiled in steps of `down` input latents, which map onto
`up` output latents, so every tile lands on whole output latents.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler
from ltx_mlx_core.models.ltx2.upsampler_tiled import iter_tiled_forward, tiled_forward_steps
from ltx_mlx_core.pipeline.decode import TileStep, drain_steps
from ltx_mlx_core.pipeline.tiling import Span, plan_tiles


@dataclass(frozen=True)
class UpsampleTiling:
    """Largest tile side in input latents (1 latent = 32 px): 16 keeps stage-1 latents of up to 512 px whole."""

    tile: int = 16

    def __post_init__(self) -> None:
        if self.tile < 1:
            raise ValueError(f"The upsampling tile must be at least 1 latent; got {self.tile}.")

    @classmethod
    def untiled(cls) -> UpsampleTiling:
        return cls(tile=1 << 20)


def plan_upsample_spans(length: int, tile: int, down: int) -> list[Span]:
    """Abutting input spans of at most `tile` latents (at least `down`) that start on multiples of `down`.

    `plan_tiles` spreads equal tiles evenly, overlapping where they do not divide the axis;
    each span here runs from its tile's start to the next one's, so every latent is in one span.
    """
    cells = math.ceil(length / down)
    starts = [start for start, _ in plan_tiles(cells, max(1, tile // down), 0)]
    return [(start * down, min(end * down, length)) for start, end in zip(starts, [*starts[1:], cells])]


def iter_upsample_tiled(
    upsampler: LatentUpsampler, latents: mx.array, tiling: UpsampleTiling | None = None
) -> Iterator[TileStep]:
    """Upsample raw latents [B, F, h, w, C]; evaluate each step's `pending`; the last step holds the result."""
    tiling = tiling or UpsampleTiling()
    _, down = upsampler.spatial_ratio
    rows = plan_upsample_spans(latents.shape[2], tiling.tile, down)
    cols = plan_upsample_spans(latents.shape[3], tiling.tile, down)
    if len(rows) * len(cols) == 1:
        result = upsampler(latents)
        yield TileStep(1, 1, [result], result)
        return
    count = tiled_forward_steps(upsampler, len(rows) * len(cols))
    for index, buffer in enumerate(iter_tiled_forward(upsampler, latents, rows, cols), start=1):
        yield TileStep(index, count, [buffer], buffer if index == count else None)


def upsample_latents(upsampler: LatentUpsampler, latents: mx.array, tiling: UpsampleTiling | None = None) -> mx.array:
    """`iter_upsample_tiled` run to the end: the upsampled raw latents, evaluated."""
    return drain_steps(iter_upsample_tiled(upsampler, latents, tiling))

"""Tile planning for the VAE: where tiles go, how they blend, what a decode needs in memory.

Pure arithmetic on the (frames, rows, columns) latent grid; `pipeline/decode.py` runs the
tiles. The clip is cut into overlapping tiles; each is decoded (or encoded) on its own and
added into the output with a separable weight: 1 where only one tile covers a position,
linear cross-fades where neighbours overlap; the weights of all tiles sum to exactly 1
everywhere. A clip that fits in one tile therefore decodes exactly as untiled.

Temporal mapping: latent frames [f0, f1) decode to pixel frames [t*f0, t*(f1-1)+1) for a
temporal compression t (a tile's first latent frame decodes to one frame, like a clip's).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

Span = tuple[int, int]
Grid = tuple[int, int, int]  # frames, rows, columns

# The decoder's working memory (activations, not weights) per output pixel (frame x row x column)
# of a tile, in bf16; float32 needs twice as much. docs/PERFORMANCE.md ("Memory planning") has the
# measurement it comes from.
DECODE_BYTES_PER_PIXEL = 128
# Tiles are blended in float32 RGB: bytes per output pixel of the sum they are added into.
BLEND_BYTES_PER_PIXEL = 12
# Float32 copies of a tile alive while it is weighted and added in (decode.weight_tile: the cast and
# each product is a new array, the one before it freed once that is computed).
WEIGHTED_TILE_COPIES = 2


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
    def untiled(cls) -> TilingConfig:
        """One tile for any clip up to 1M latents per side (what 'no tiling' means here)."""
        return cls(spatial_tile=1 << 20, spatial_overlap=0, temporal_tile=1 << 20, temporal_overlap=0)

    def spans(self, grid: Grid) -> tuple[list[Span], list[Span], list[Span]]:
        """The tiles' latent spans along frames, rows and columns."""
        frames, rows, cols = grid
        return (
            plan_tiles(frames, self.temporal_tile, self.temporal_overlap),
            plan_tiles(rows, self.spatial_tile, self.spatial_overlap),
            plan_tiles(cols, self.spatial_tile, self.spatial_overlap),
        )


# Tried in order when the default tiles do not fit the memory left at decode time.
_FALLBACK_TILINGS = (
    TilingConfig(),
    TilingConfig(spatial_tile=12, spatial_overlap=3, temporal_tile=6, temporal_overlap=2),
    TilingConfig(spatial_tile=8, spatial_overlap=2, temporal_tile=4, temporal_overlap=1),
)


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


def pixel_frames(span: Span, t_scale: int) -> Span:
    """Latent frames [f0, f1) -> the pixel frames they decode to."""
    return t_scale * span[0], t_scale * (span[1] - 1) + 1


def pixel_extent(grid: Grid, t_scale: int = 8, s_scale: int = 32) -> Grid:
    """(frames, height, width) in pixels that a latent grid decodes to."""
    frames, rows, cols = grid
    return t_scale * (frames - 1) + 1, rows * s_scale, cols * s_scale


@dataclass(frozen=True)
class TileWeight:
    """A tile's separable blend weight: one 1-D profile per axis (frames, rows, columns)."""

    frames: np.ndarray
    rows: np.ndarray
    cols: np.ndarray


@dataclass(frozen=True)
class Tile:
    """Where a tile reads (latent spans), where it adds its output, and with what weight."""

    latent: tuple[Span, Span, Span]
    output: tuple[Span, Span, Span]
    weight: TileWeight


def tile_grid(grid: Grid, tiling: TilingConfig, t_scale: int, s_scale: int, out_in_pixels: bool) -> Iterator[Tile]:
    """Every tile of `grid`, frames outermost; outputs in pixels (decoding) or latents (encoding)."""
    f_spans, h_spans, w_spans = tiling.spans(grid)
    if out_in_pixels:
        out_f = [pixel_frames(s, t_scale) for s in f_spans]
        out_h = [(a * s_scale, b * s_scale) for a, b in h_spans]
        out_w = [(a * s_scale, b * s_scale) for a, b in w_spans]
        lengths = pixel_extent(grid, t_scale, s_scale)
        ramps = (
            t_scale * (tiling.temporal_overlap - 1) + 1 if tiling.temporal_overlap else 0,
            tiling.spatial_overlap * s_scale,
            tiling.spatial_overlap * s_scale,
        )
    else:
        out_f, out_h, out_w = f_spans, h_spans, w_spans
        lengths = grid
        ramps = (tiling.temporal_overlap, tiling.spatial_overlap, tiling.spatial_overlap)
    weights_f = blend_weights(out_f, lengths[0], ramps[0], skip_first=not out_in_pixels)
    weights_h = blend_weights(out_h, lengths[1], ramps[1])
    weights_w = blend_weights(out_w, lengths[2], ramps[2])
    for fi, f_span in enumerate(f_spans):
        for hi, h_span in enumerate(h_spans):
            for wi, w_span in enumerate(w_spans):
                yield Tile(
                    (f_span, h_span, w_span),
                    (out_f[fi], out_h[hi], out_w[wi]),
                    TileWeight(weights_f[fi], weights_h[hi], weights_w[wi]),
                )


def tile_count(grid: Grid, tiling: TilingConfig) -> int:
    return math.prod(len(spans) for spans in tiling.spans(grid))


def first_final_frames(grid: Grid, tiling: TilingConfig, t_scale: int) -> tuple[int, int]:
    """(tile count after which the first pixel frames are final, how many frames are).

    Tiles run frames-outermost, so the first temporal span is complete after all its
    spatial tiles; its frames before the next span's start get no later contributions.
    """
    f_spans, h_spans, w_spans = tiling.spans(grid)
    final = t_scale * f_spans[1][0] if len(f_spans) > 1 else pixel_extent(grid, t_scale)[0]
    return len(h_spans) * len(w_spans), max(1, final)


def largest_tile_pixels(grid: Grid, tiling: TilingConfig, t_scale: int = 8, s_scale: int = 32) -> int:
    """Output pixels (frames x height x width) of the largest tile `tiling` cuts the grid into."""
    largest = tuple(max(end - start for start, end in spans) for spans in tiling.spans(grid))
    return math.prod(pixel_extent(largest, t_scale, s_scale))


def blend_bytes(grid: Grid, tiling: TilingConfig, whole_clip: bool = False) -> int:
    """What blending `tiling`'s tiles holds beside the decoder: nothing for one tile, else the float32
    sum being added into and the weighted tile being added.

    The sum covers one temporal tile's frames when finished frames are handed out as they are
    (decode_stream.iter_decode_frames: the LTX-2 pipelines), the whole clip when the clip is
    returned whole (`whole_clip`: decode.iter_decode_tiled, the LTX-Video pipeline). The pieces the
    caller keeps are its own.
    """
    if tile_count(grid, tiling) == 1:
        return 0
    frames, height, width = pixel_extent(grid)
    if not whole_clip:
        frames = max(last - first for first, last in (pixel_frames(span, 8) for span in tiling.spans(grid)[0]))
    held = frames * height * width + WEIGHTED_TILE_COPIES * largest_tile_pixels(grid, tiling)
    return held * BLEND_BYTES_PER_PIXEL


def decode_bytes(grid: Grid, tiling: TilingConfig, dtype_bytes: int = 2, whole_clip: bool = False) -> int:
    """Working memory of decoding `grid` in `tiling` (weights apart): what its largest tile needs, plus
    the blending's (`blend_bytes`; `whole_clip` as there)."""
    activations = largest_tile_pixels(grid, tiling) * DECODE_BYTES_PER_PIXEL * dtype_bytes // 2
    return activations + blend_bytes(grid, tiling, whole_clip)


def tiling_within(grid: Grid, budget_bytes: int, dtype_bytes: int = 2, whole_clip: bool = False) -> TilingConfig:
    """The fewest tiles whose decode fits `budget_bytes`, blending included (`whole_clip` as in
    `blend_bytes`): the whole clip at once when it fits (no overlap recomputed), else the default
    tiles, else smaller ones."""
    for tiling in (TilingConfig.untiled(), *_FALLBACK_TILINGS):
        if decode_bytes(grid, tiling, dtype_bytes, whole_clip) <= budget_bytes:
            return tiling
    return _FALLBACK_TILINGS[-1]

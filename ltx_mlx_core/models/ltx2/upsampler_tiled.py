"""The latent upsampler's forward run layer by layer, each layer one spatial tile at a time.

Cutting the latents into tiles and upsampling each tile on its own is not the same
computation: the upsampler's GroupNorms normalise over the whole input, so every tile would
normalise with its own statistics, and its twenty-odd 3x3 convolutions see far past any
affordable overlap (random-weight tests put whole-tile upsampling 20-50 % off the untiled
result). Here each convolution runs tile by tile over its input with the one latent of
neighbours it reads (the tiles overlap by that halo), writes its tile of the layer's
output, and each GroupNorm takes its statistics over all tiles before the next layer
reads the normalised values. The result is the untiled forward's up to rounding.

Memory: at most three whole activations (a residual block's input, its first and second
convolution's outputs) plus one tile's working set, instead of the whole forward's
graph and convolution workspace. `iter_tiled_forward` yields the layer buffer after every
tile, unevaluated; the caller evaluates each (the pipeline's tile loop).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler, frames_as_batch
from ltx_mlx_core.models.ltxv.upsampler import ResBlock

Span = tuple[int, int]
Grid = tuple[list[Span], list[Span]]
# Reads rows [a, b) and columns [c, d) of an activation, [B, F, b-a, d-c, C].
Reader = Callable[[int, int, int, int], mx.array]
Tiles = Iterator[mx.array]


def iter_tiled_forward(upsampler: LatentUpsampler, latents: mx.array, rows: list[Span], cols: list[Span]) -> Tiles:
    """`upsampler(latents)` over the input tiles `rows` x `cols`; the last array yielded is the result.

    Spans must start at multiples of the upsampler's `spatial_ratio` denominator (so an
    input tile maps onto whole output latents) and cover [0, h) and [0, w) without overlap.
    """
    up, down = upsampler.spatial_ratio
    batch, frames = latents.shape[:2]
    if upsampler.config.dims == 2:
        # Each frame on its own: frames become the batch, so norms and convolutions stay per frame.
        latents = latents.reshape(batch * frames, 1, *latents.shape[2:])
    grid: Grid = (rows, cols)
    x = yield from _conv(upsampler.initial_conv, _plain(latents), latents.shape, grid)
    stats = yield from _statistics(x, upsampler.initial_norm, grid)
    x = yield from _materialise(_normed(x, upsampler.initial_norm, stats), x.shape, grid)
    for block in upsampler.res_blocks:
        x = yield from _res_block(block, x, grid)
    out_grid: Grid = (_scale(rows, up, down, x.shape[2]), _scale(cols, up, down, x.shape[3]))
    halo = 1 if down == 1 else 2 * down  # the convolution's one latent, then the blur's reach
    x = yield from _upsample(upsampler, x, grid, out_grid, halo)
    for block in upsampler.post_upsample_res_blocks:
        x = yield from _res_block(block, x, out_grid)
    x = yield from _conv(upsampler.final_conv, _plain(x), x.shape, out_grid)
    if upsampler.config.dims == 2:
        x = x.reshape(batch, frames, *x.shape[2:])
        yield x
    return x


def tiled_forward_steps(upsampler: LatentUpsampler, tiles: int) -> int:
    """How many arrays `iter_tiled_forward` yields over `tiles` tiles (for progress)."""
    blocks = upsampler.config.num_blocks_per_stage
    # initial conv + its two statistics passes + normalise: 4 passes; each residual block 7;
    # the upsampling and the final conv one each; per-frame upsamplers one more to restore frames.
    return tiles * (6 + 2 * 7 * blocks) + (upsampler.config.dims == 2)


def _scale(spans: list[Span], up: int, down: int, length: int) -> list[Span]:
    last = -(-length * up // down)
    return [(start * up // down, last if end == length else end * up // down) for start, end in spans]


def _tiles(grid: Grid) -> Iterator[tuple[Span, Span]]:
    return itertools.product(*grid)


def _plain(x: mx.array) -> Reader:
    return lambda a, b, c, d: x[:, :, a:b, c:d]


def _apply_conv(conv: nn.Module, x: mx.array) -> mx.array:
    return frames_as_batch(conv, x) if conv.weight.ndim == 4 else conv(x)


def _conv(conv: nn.Module, read: Reader, shape: tuple[int, ...], grid: Grid) -> Tiles:
    """A 3x3(x3) zero-padded convolution, tile by tile: each tile reads one latent beyond it."""
    return (yield from _halo_op(lambda x: _apply_conv(conv, x), read, shape[2:4], grid, grid, 1, (1, 1)))


def _upsample(upsampler: LatentUpsampler, x: mx.array, grid: Grid, out_grid: Grid, halo: int) -> Tiles:
    return (
        yield from _halo_op(
            upsampler.upsample_middle, _plain(x), x.shape[2:4], grid, out_grid, halo, upsampler.spatial_ratio
        )
    )


def _halo_op(
    fn: Callable[[mx.array], mx.array],
    read: Reader,
    size: tuple[int, int],
    grid: Grid,
    out_grid: Grid,
    halo: int,
    ratio: tuple[int, int],
) -> Tiles:
    """Apply `fn` tile by tile to the tile and `halo` input latents around it; keep the tile's own output.

    `fn` scales H and W by ratio = (up, down); windows start on multiples of `down`, so a
    window starting at input latent a starts at output latent a * up / down.
    """
    up, down = ratio
    rows, cols = size
    output = None
    for ((r0, r1), (c0, c1)), ((o0, o1), (p0, p1)) in zip(_tiles(grid), _tiles(out_grid)):
        a, b, c, d = max(0, r0 - halo), min(rows, r1 + halo), max(0, c0 - halo), min(cols, c1 + halo)
        window = fn(read(a, b, c, d))
        top, left = o0 - a * up // down, p0 - c * up // down
        tile = window[:, :, top : top + o1 - o0, left : left + p1 - p0]
        if output is None:
            shape = (*tile.shape[:2], out_grid[0][-1][1], out_grid[1][-1][1], tile.shape[-1])
            output = mx.zeros(shape, dtype=tile.dtype)
        output[:, :, o0:o1, p0:p1] = tile
        yield output
    return output


def _grouped(x: mx.array, groups: int) -> mx.array:
    """[B, F, H, W, C] -> [B, F, H, W, groups, C / groups] (PyTorch's grouping: consecutive channels)."""
    return x.reshape(*x.shape[:-1], groups, x.shape[-1] // groups)


def _statistics(x: mx.array, norm: nn.GroupNorm, grid: Grid) -> Tiles:
    """GroupNorm's mean and 1/std over the whole of `x`, summed tile by tile (two passes, as it computes them)."""
    batch, frames, rows, cols, channels = x.shape
    count = frames * rows * cols * (channels // norm.num_groups)
    axes = (1, 2, 3, 5)
    total = mx.zeros((batch, norm.num_groups), dtype=mx.float32)
    for (r0, r1), (c0, c1) in _tiles(grid):
        total = total + _grouped(x[:, :, r0:r1, c0:c1], norm.num_groups).astype(mx.float32).sum(axis=axes)
        yield total
    mean = (total / count).reshape(batch, 1, 1, 1, norm.num_groups, 1)
    squares = mx.zeros((batch, norm.num_groups), dtype=mx.float32)
    for (r0, r1), (c0, c1) in _tiles(grid):
        centred = _grouped(x[:, :, r0:r1, c0:c1], norm.num_groups).astype(mx.float32) - mean
        squares = squares + (centred * centred).sum(axis=axes)
        yield squares
    inverse_std = mx.rsqrt(squares / count + norm.eps).reshape(mean.shape)
    return mean, inverse_std


def _normed(
    x: mx.array, norm: nn.GroupNorm, stats: tuple[mx.array, mx.array], residual: mx.array | None = None
) -> Reader:
    """Reads SiLU(GroupNorm(x) [+ residual]) with the whole tensor's statistics."""
    mean, inverse_std = stats

    def read(a: int, b: int, c: int, d: int) -> mx.array:
        tile = x[:, :, a:b, c:d]
        normed = ((_grouped(tile, norm.num_groups).astype(mx.float32) - mean) * inverse_std).reshape(tile.shape)
        normed = normed * norm.weight + norm.bias
        if residual is not None:
            normed = normed + residual[:, :, a:b, c:d]
        return nn.silu(normed).astype(x.dtype)

    return read


def _materialise(read: Reader, shape: tuple[int, ...], grid: Grid) -> Tiles:
    output = None
    for (r0, r1), (c0, c1) in _tiles(grid):
        tile = read(r0, r1, c0, c1)
        if output is None:
            output = mx.zeros(shape, dtype=tile.dtype)
        output[:, :, r0:r1, c0:c1] = tile
        yield output
    return output


def _res_block(block: ResBlock, x: mx.array, grid: Grid) -> Tiles:
    """SiLU(norm2(conv2(SiLU(norm1(conv1(x))))) + x), as the upsampler's ResBlock computes it."""
    hidden = yield from _conv(block.conv1, _plain(x), x.shape, grid)
    stats = yield from _statistics(hidden, block.norm1, grid)
    hidden = yield from _conv(block.conv2, _normed(hidden, block.norm1, stats), hidden.shape, grid)
    stats = yield from _statistics(hidden, block.norm2, grid)
    return (yield from _materialise(_normed(hidden, block.norm2, stats, residual=x), x.shape, grid))

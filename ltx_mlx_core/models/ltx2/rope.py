"""Fractional-position rotary embeddings of the LTX-2 transformer, "interleaved" and "split".

Every token has positions on n axes (video: time in seconds, height and width in pixels;
audio and the audio-video cross-attention: time only), each given as a [start, end) bound
whose middle is used. Per axis, angle = freq_k * (2 * position / max_pos - 1), with
dim // (2n) frequencies theta ** linspace(0, 1) * pi / 2, ordered (frequency, axis).

- interleaved: the angles rotate channel pairs (2i, 2i+1) across the whole attention width,
  the leading dim % 2n channels unrotated;
- split: the angles, padded in front to dim // 2 with unrotated entries, are dealt out to the
  heads in order; within a head of width D, channel i pairs with channel i + D/2.

The frequency table is built on the host in numpy: in float64 when the checkpoint asks for
float64 precision (Metal has no float64; the table is cast to float32 after, as the reference
does), else replaying torch's float32 recipe. Angles and tables are float32; rotations run in
float32 and return the input's dtype.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import NamedTuple

import mlx.core as mx
import numpy as np

from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu
from ltx_mlx_core.models.common.rope import RotaryAngles, _float32_linspace
from ltx_mlx_core.models.common.rope import rotary_channels as interleaved_channels


class SplitRotary(NamedTuple):
    """cos/sin per token, head and frequency, [B, T, H, 1, D/2] each (the 1 broadcasts over halves)."""

    cos: mx.array
    sin: mx.array


Rotary = RotaryAngles | SplitRotary


@functools.lru_cache(maxsize=32)
def frequency_grid(count: int, theta: float, double_precision: bool) -> np.ndarray:
    """The `count` base frequencies theta ** linspace(0, 1) * pi / 2 as float32 [count].

    float64: numpy's float64 linspace and power, rounded once at the end (bit-identical to the
    reference's `generate_freq_grid_np`). float32: torch's float32 linspace and power as its
    scalar kernel evaluates them; torch's vectorised CPU linspace rounds a few exponents
    differently when count > 16 (moving the highest frequencies by up to ~4e-7 relative).
    """
    if double_precision:
        powers = np.power(np.float64(theta), np.linspace(0.0, 1.0, count, dtype=np.float64))
        return (powers * math.pi / 2).astype(np.float32)
    exponents = _float32_linspace(count).astype(np.float64)
    powers = (np.float64(theta) ** exponents).astype(np.float32)
    return (powers * np.float32(math.pi)) / np.float32(2.0)


def _angles(
    positions: mx.array,
    max_pos: Sequence[int],
    dim: int,
    theta: float,
    double_precision: bool,
    use_middle: bool,
) -> mx.array:
    """[B, T, F * n] float32 angles for positions [B, n, T, 2] (bounds) or [B, n, T]."""
    if positions.ndim == 4:
        positions = (positions[..., 0] + positions[..., 1]) / 2.0 if use_middle else positions[..., 0]
    positions = positions.astype(mx.float32)
    axes = positions.shape[1]
    if axes != len(max_pos):
        raise ValueError(f"positions have {axes} axes, max_pos has {len(max_pos)}")
    fractional = mx.stack([positions[:, i] / float(max_pos[i]) for i in range(axes)], axis=-1)
    frequencies = mx.array(frequency_grid(dim // (2 * axes), float(theta), double_precision))
    # [B, T, n, F] -> [B, T, F, n] -> [B, T, F * n]: the reference orders angles (frequency, axis).
    angles = frequencies * (fractional[..., None] * 2.0 - 1.0)
    return angles.swapaxes(-1, -2).reshape(*angles.shape[:2], -1)


def rotary_table(
    positions: mx.array,
    dim: int,
    heads: int,
    max_pos: Sequence[int],
    rope_type: str,
    theta: float = 10000.0,
    double_precision: bool = False,
    use_middle: bool = True,
) -> Rotary:
    """cos/sin for an attention of width `dim` whose split-RoPE table is dealt to `heads` heads."""
    angles = _angles(positions, max_pos, dim, theta, double_precision, use_middle)
    batch, tokens, count = angles.shape
    cos, sin = mx.cos(angles), mx.sin(angles)
    if rope_type == "split":
        pad = dim // 2 - count
        if pad:
            cos = mx.concatenate([mx.ones((batch, tokens, pad), dtype=mx.float32), cos], axis=-1)
            sin = mx.concatenate([mx.zeros((batch, tokens, pad), dtype=mx.float32), sin], axis=-1)
        if (dim // 2) % heads:
            raise ValueError(f"split RoPE deals {dim // 2} frequencies to {heads} heads: they must divide")
        shape = (batch, tokens, heads, 1, dim // 2 // heads)
        return SplitRotary(cos.reshape(shape), sin.reshape(shape))
    padding_pairs = (dim % (2 * positions.shape[1])) // 2
    if padding_pairs:
        cos = mx.concatenate([mx.ones((batch, tokens, padding_pairs), dtype=mx.float32), cos], axis=-1)
        sin = mx.concatenate([mx.zeros((batch, tokens, padding_pairs), dtype=mx.float32), sin], axis=-1)
    return RotaryAngles(mx.stack([cos, cos], axis=-1), mx.stack([-sin, sin], axis=-1))


@fuse_elementwise_on_gpu
def _rotate_pairs_in_float32(pairs: mx.array, swapped: mx.array, cos: mx.array, sin: mx.array) -> mx.array:
    rotated = pairs.astype(mx.float32) * cos + swapped.astype(mx.float32) * sin
    return rotated.astype(pairs.dtype)


@fuse_elementwise_on_gpu
def _rotate_halves_in_float32(
    halves: mx.array, swapped: mx.array, cos: mx.array, sin: mx.array, signs: mx.array
) -> mx.array:
    rotated = halves.astype(mx.float32) * cos + swapped.astype(mx.float32) * (sin * signs)
    return rotated.astype(halves.dtype)


# (-1, +1) over the two halves: first' = first cos - second sin, second' = second cos + first sin.
_HALF_SIGNS = np.array([[-1.0], [1.0]], dtype=np.float32)


def apply_rope(x: mx.array, table: Rotary) -> mx.array:
    """Rotate x [B, T, dim] by the table, in float32; the result has x's dtype.

    Both layouts are one elementwise expression of x, a view of x with its pairs (or halves)
    swapped, and the tables, so on a GPU the casts and the rotation are one kernel and no
    float32 copy of x is ever allocated.
    """
    if isinstance(table, RotaryAngles):
        pairs = x.reshape(*x.shape[:-1], -1, 2)
        return _rotate_pairs_in_float32(pairs, pairs[..., ::-1], table.cos, table.sin).reshape(x.shape)
    heads, half = table.cos.shape[2], table.cos.shape[-1]
    halves = x.reshape(*x.shape[:2], heads, 2, half)
    signs = mx.array(_HALF_SIGNS)
    return _rotate_halves_in_float32(halves, halves[..., ::-1, :], table.cos, table.sin, signs).reshape(x.shape)


def rotary_channels(table: Rotary, start: int, stop: int, width: int) -> Rotary:
    """The table of channels [start, stop) of an attention of full width `width` (a tensor-parallel
    process's heads): interleaved pairs are cut directly, split tables by the heads they were dealt to."""
    if isinstance(table, RotaryAngles):
        return interleaved_channels(table, start, stop)
    table_heads = table.cos.shape[2]
    per_head = width // table_heads
    if start % per_head or stop % per_head:
        raise ValueError(f"channels [{start}, {stop}) do not fall on the rotary table's {table_heads} heads")
    heads = slice(start // per_head, stop // per_head)
    return SplitRotary(table.cos[:, :, heads], table.sin[:, :, heads])

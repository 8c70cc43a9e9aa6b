"""Fractional-position 3-D rotary embeddings of the LTX-Video transformer.

The reference builds, for every token, one rotation angle per (frequency, axis) pair:
angle = freq_k * (2 * position_axis / max_pos_axis - 1), with dim // 6 frequencies spaced
geometrically from pi/2 to theta * pi/2, ordered (freq, axis) and applied to interleaved
channel pairs of the whole model width (before the split into heads). When the width is
not a multiple of 6, the leading dim % 6 channels are left unrotated.

`mx.fast.rope` takes integer offsets along one axis, so it cannot express these angles;
the rotation is elementwise here, with cos/sin computed once per forward pass.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import NamedTuple

import mlx.core as mx
import numpy as np

from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu


class RotaryAngles(NamedTuple):
    """Rotation tables per token and channel pair, [B, N, dim // 2, 2] each, in the model dtype.

    `cos` holds (cos, cos) and `sin` holds (-sin, sin) for each pair, so that the rotation is
    pairs * cos + swapped_pairs * sin: elementwise, with no gather or stack per application.
    """

    cos: mx.array
    sin: mx.array


def _float32_linspace(count: int) -> np.ndarray:
    """torch.linspace(0, 1, count) in float32 as torch's scalar kernel (e.g. CUDA) evaluates it.

    The first half counts up from 0, the second half down from 1, each in float32 arithmetic.
    The float32 rounding of these exponents moves the frequencies by up to ~3e-7 relative,
    which the highest frequencies (~1.6e4 rad) turn into ~5e-3 rad; hence the exact recipe.
    """
    if count == 1:
        return np.zeros(1, dtype=np.float32)
    step = np.float32(1.0) / np.float32(count - 1)
    index = np.arange(count)
    rising = step * index.astype(np.float32)
    falling = np.float32(1.0) - step * (count - 1 - index).astype(np.float32)
    return np.where(index < count // 2, rising, falling).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _frequencies(dim: int, theta: float) -> np.ndarray:
    """The dim // 6 base frequencies theta ** linspace(0, 1) * pi / 2, as the reference's float32 gives them."""
    exponents = _float32_linspace(dim // 6).astype(np.float64)
    # Correctly rounded power of the float32 exponents; then * pi and / 2 in float32 like the reference.
    frequencies = (np.float64(theta) ** exponents).astype(np.float32)
    return (frequencies * np.float32(math.pi)) / np.float32(2.0)


def rotary_angles(
    indices_grid: mx.array,
    dim: int,
    theta: float,
    max_pos: Sequence[int],
    dtype: mx.Dtype,
) -> RotaryAngles:
    """cos/sin for fractional coordinates `indices_grid` [B, 3, N] (frame, height, width)."""
    positions = indices_grid.astype(mx.float32)
    scale = mx.array([float(p) for p in max_pos], dtype=mx.float32)
    # [B, N, 3]: each axis divided by its max position, then mapped to [-1, 1].
    fractional = mx.transpose(positions, (0, 2, 1)) / scale
    centered = fractional * 2.0 - 1.0
    frequencies = mx.array(_frequencies(dim, theta))
    # [B, N, F, 3] flattened to [B, N, 3F]: the reference orders angles (frequency, axis).
    angles = (frequencies[:, None] * centered[:, :, None, :]).reshape(*centered.shape[:2], -1)
    cos, sin = mx.cos(angles), mx.sin(angles)
    padding_pairs = (dim % 6) // 2
    if padding_pairs:
        batch, tokens = angles.shape[:2]
        cos = mx.concatenate([mx.ones((batch, tokens, padding_pairs), dtype=mx.float32), cos], axis=-1)
        sin = mx.concatenate([mx.zeros((batch, tokens, padding_pairs), dtype=mx.float32), sin], axis=-1)
    cos = mx.stack([cos, cos], axis=-1).astype(dtype)
    sin = mx.stack([-sin, sin], axis=-1).astype(dtype)
    return RotaryAngles(cos, sin)


@fuse_elementwise_on_gpu
def _rotate_pairs(pairs: mx.array, swapped: mx.array, cos: mx.array, sin: mx.array) -> mx.array:
    return pairs * cos + swapped * sin


def apply_rotary(x: mx.array, angles: RotaryAngles) -> mx.array:
    """Rotate interleaved channel pairs (x[2i], x[2i+1]) of x [B, N, dim] by the given angles."""
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    return _rotate_pairs(pairs, pairs[..., ::-1], angles.cos, angles.sin).reshape(x.shape)


def rotary_channels(angles: RotaryAngles, start: int, stop: int) -> RotaryAngles:
    """The tables of channels [start, stop) of the full width (the heads one tensor-parallel process holds)."""
    pairs = slice(start // 2, stop // 2)
    return RotaryAngles(angles.cos[..., pairs, :], angles.sin[..., pairs, :])

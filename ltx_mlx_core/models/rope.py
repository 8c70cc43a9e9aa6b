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
from typing import NamedTuple, Sequence

import mlx.core as mx
import numpy as np


class RotaryAngles(NamedTuple):
    """cos and sin per token and channel pair: [B, N, dim // 2] each, in the model dtype."""

    cos: mx.array
    sin: mx.array


@functools.lru_cache(maxsize=16)
def _frequencies(dim: int, theta: float) -> np.ndarray:
    """The dim // 6 base frequencies (times pi/2), float32.

    The exponent grid is computed in float64 and rounded once, so the values do not depend
    on how a float32 linspace is vectorised (torch's CPU linspace differs from the exact grid
    by an ulp here and there for long grids, which moves the highest angles by ~1e-2 rad).
    """
    count = dim // 6
    exponents = np.linspace(0.0, 1.0, count, dtype=np.float64) if count > 1 else np.zeros(count)
    frequencies = (theta**exponents).astype(np.float32)
    # The reference multiplies by pi then halves in float32; halving is exact.
    return frequencies * np.float32(math.pi / 2)


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
    return RotaryAngles(cos.astype(dtype), sin.astype(dtype))


def apply_rotary(x: mx.array, angles: RotaryAngles) -> mx.array:
    """Rotate interleaved channel pairs (x[2i], x[2i+1]) of x [B, N, dim] by the given angles."""
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated_even = even * angles.cos - odd * angles.sin
    rotated_odd = odd * angles.cos + even * angles.sin
    return mx.stack([rotated_even, rotated_odd], axis=-1).reshape(x.shape)

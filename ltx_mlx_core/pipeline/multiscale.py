"""Pieces of the two-pass distilled flow that are not model calls: resizing the result."""
from __future__ import annotations

import mlx.core as mx


def _linear_weights(out_size: int, in_size: int) -> tuple[mx.array, mx.array, mx.array]:
    """Source indices and weights of bilinear sampling with align_corners=False (no antialiasing)."""
    scale = in_size / out_size
    source = (mx.arange(out_size, dtype=mx.float32) + 0.5) * scale - 0.5
    source = mx.maximum(source, 0.0)
    low = mx.minimum(mx.floor(source).astype(mx.int32), in_size - 1)
    high = mx.minimum(low + 1, in_size - 1)
    weight = (source - low.astype(mx.float32))[:, None]
    return low, high, weight


def resize_frames(pixels: mx.array, height: int, width: int) -> mx.array:
    """Bilinear resize of frames [F, H, W, C] to [F, height, width, C], as torch's F.interpolate does it."""
    frames, in_h, in_w, channels = pixels.shape
    if (in_h, in_w) == (height, width):
        return pixels
    x = pixels.astype(mx.float32)
    low, high, weight = _linear_weights(height, in_h)
    row_weight = weight[None, :, :, None]  # [1, height, 1, 1]
    x = x[:, low] * (1 - row_weight) + x[:, high] * row_weight
    low, high, weight = _linear_weights(width, in_w)
    x = x[:, :, low] * (1 - weight[None, None]) + x[:, :, high] * weight[None, None]
    return x.astype(pixels.dtype)

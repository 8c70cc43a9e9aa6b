"""Key translation for the official latent upsampler file (ltxv-spatial-upscaler-*.safetensors).

Parameter paths are the reference's; conv kernels are transposed from torch
[O, I, k...] to MLX [O, k..., I].
"""

from __future__ import annotations

import re

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError

_RES = r"(res_blocks|post_upsample_res_blocks)\.\d+\.(conv1|conv2|norm1|norm2)"
_KNOWN_KEY = re.compile(r"(initial_conv|initial_norm|final_conv|upsampler\.0|" + _RES + r")\.(weight|bias)")


def sanitize_upsampler(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Official upsampler weights -> our parameter dict; unknown keys raise CheckpointError."""
    sanitized: dict[str, mx.array] = {}
    for key, value in weights.items():
        if not _KNOWN_KEY.fullmatch(key):
            raise CheckpointError(f"The latent upsampler weights contain an unknown key {key!r}.")
        if value.ndim in (4, 5):
            value = mx.moveaxis(value, 1, -1)
        sanitized[key] = value
    return sanitized


def to_official_upsampler(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Inverse of `sanitize_upsampler`."""
    return {key: mx.moveaxis(v, -1, 1) if v.ndim in (4, 5) else v for key, v in weights.items()}

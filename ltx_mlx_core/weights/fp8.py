"""FP8 (e4m3) checkpoints: dequantised to bf16 on load.

The official `*-fp8.safetensors` checkpoints store large linear weights as
F8_E4M3 with a float scale beside each (`<name>.weight_scale`, a scalar or one
value per output row); activation scales (`input_scale`) are for FP8 kernels
we do not use and are dropped. `mx.load` returns F8_E4M3 data as raw uint8;
the header says which tensors those are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import mlx.core as mx

logger = logging.getLogger(__name__)

FP8_DTYPES = ("F8_E4M3",)
SCALE_SUFFIXES = (".weight_scale", ".scale_weight")
DROPPED_SUFFIXES = (".input_scale", ".scale_input")


def dequantize_fp8_tensors(
    tensors: dict[str, mx.array], stored_dtypes: Mapping[str, str], dtype: mx.Dtype = mx.bfloat16
) -> dict[str, mx.array]:
    """FP8 tensors (by their safetensors dtype name in `stored_dtypes`) scaled and cast to `dtype`."""
    fp8_names = [name for name in tensors if stored_dtypes[name] in FP8_DTYPES]
    if not fp8_names and not any(name.endswith(SCALE_SUFFIXES + DROPPED_SUFFIXES) for name in tensors):
        return tensors
    out = dict(tensors)
    for name in fp8_names:
        values = mx.from_fp8(out[name], dtype=mx.float32)
        base = name[: -len(".weight")] if name.endswith(".weight") else name
        for suffix in SCALE_SUFFIXES:
            scale = out.pop(base + suffix, None)
            if scale is not None:
                scale = scale.astype(mx.float32)
                values = values * (scale.reshape(-1, *([1] * (values.ndim - 1))) if scale.size > 1 else scale)
        out[name] = values.astype(dtype)
    for name in list(out):
        if name.endswith(DROPPED_SUFFIXES):
            del out[name]
        elif name.endswith(SCALE_SUFFIXES):
            logger.warning("dropping scale '%s' whose weight is not FP8", name)
            del out[name]
    logger.debug("dequantised %d FP8 tensors to %s", len(fp8_names), dtype)
    return out


def quantize_to_fp8(weight: mx.array) -> tuple[mx.array, mx.array]:
    """(uint8 e4m3 data, per-row float32 scale): how FP8 checkpoints store a weight (for tests/tiny models)."""
    weight = weight.astype(mx.float32)
    e4m3_max = 448.0
    scale = mx.maximum(mx.max(mx.abs(weight.reshape(weight.shape[0], -1)), axis=1), 1e-12) / e4m3_max
    data = mx.to_fp8(weight / scale.reshape(-1, *([1] * (weight.ndim - 1))))
    return data, scale

"""GELU forms evaluated in float32 (as torch does for bf16), each one fused kernel on GPUs."""

from __future__ import annotations

import math

import mlx.core as mx

from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu


@fuse_elementwise_on_gpu
def gelu_tanh(x: mx.array) -> mx.array:
    """tanh-approximate GELU."""
    y = x.astype(mx.float32)
    out = 0.5 * y * (1.0 + mx.tanh(math.sqrt(2.0 / math.pi) * (y + 0.044715 * y * y * y)))
    return out.astype(x.dtype)


@fuse_elementwise_on_gpu
def gelu_erf(x: mx.array) -> mx.array:
    """Exact (erf) GELU."""
    y = x.astype(mx.float32)
    return (0.5 * y * (1.0 + mx.erf(y * (1.0 / math.sqrt(2.0))))).astype(x.dtype)

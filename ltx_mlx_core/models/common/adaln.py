"""Pieces of the AdaLN-single transformers both families use: modulation, gated residuals, caption projection."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.activations import gelu_tanh
from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu


@fuse_elementwise_on_gpu
def modulate(normed: mx.array, scale: mx.array, shift: mx.array | None) -> mx.array:
    """AdaLN: normed * (1 + scale) + shift, fused into one kernel."""
    modulated = normed * (1 + scale)
    return modulated if shift is None else modulated + shift


@fuse_elementwise_on_gpu
def gated_residual(x: mx.array, gate: mx.array, update: mx.array) -> mx.array:
    return x + gate * update


class CaptionProjection(nn.Module):
    """Text-encoder features -> model width: linear, tanh-GELU, linear."""

    def __init__(self, in_features: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_features, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def __call__(self, caption: mx.array) -> mx.array:
        return self.linear_2(gelu_tanh(self.linear_1(caption)))

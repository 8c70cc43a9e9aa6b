"""Small layers of the LTX-2 transformer: AdaLN-single, the feed-forward, modulation helpers."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.activations import gelu_tanh
from ltx_mlx_core.models.common.timestep import TIMESTEP_PROJECTION_CHANNELS, TimestepMLP, timestep_sinusoids


class AdaLNSingle(nn.Module):
    """Timestep -> sinusoids -> MLP embedding -> SiLU -> `coefficient` modulation vectors of width dim.

    Returns (modulation [N, coefficient * dim], embedding [N, dim]); the embedding also
    modulates the output layer.
    """

    def __init__(self, dim: int, coefficient: int):
        super().__init__()
        self.embedder = TimestepMLP(TIMESTEP_PROJECTION_CHANNELS, dim)
        self.linear = nn.Linear(dim, coefficient * dim)

    def __call__(self, timesteps: mx.array, dtype: mx.Dtype) -> tuple[mx.array, mx.array]:
        embedding = self.embedder(timestep_sinusoids(timesteps.reshape(-1)).astype(dtype))
        return self.linear(nn.silu(embedding)), embedding


class FeedForward(nn.Module):
    """Linear -> tanh-GELU -> linear, 4x wide; LTX-2.5's video feed-forward has no biases."""

    def __init__(self, dim: int, bias: bool = True, mult: int = 4):
        super().__init__()
        self.proj_in = nn.Linear(dim, dim * mult, bias=bias)
        self.proj_out = nn.Linear(dim * mult, dim, bias=bias)

    def __call__(self, x: mx.array) -> mx.array:
        return self.proj_out(gelu_tanh(self.proj_in(x)))


def rms_norm(x: mx.array, eps: float) -> mx.array:
    """RMS normalisation over the last axis without a learned scale."""
    return mx.fast.rms_norm(x, None, eps)

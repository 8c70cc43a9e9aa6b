"""Sinusoidal timestep embedding and its MLP, as diffusers' Timesteps and TimestepEmbedding."""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np

TIMESTEP_PROJECTION_CHANNELS = 256


def timestep_sinusoids(timesteps: mx.array, dim: int = TIMESTEP_PROJECTION_CHANNELS) -> mx.array:
    """[T] float -> [T, dim] float32 (cos, sin) embedding, as diffusers' Timesteps(dim, flip_sin_to_cos=True)."""
    half = dim // 2
    # The reference's float32 exponents -ln(10000) * arange(half) / half, then a correctly rounded
    # exp (numpy's float32 exp is off by an ulp for ~40% of them; at t = 1000 that is 1e-4 rad).
    exponents = np.float32(-math.log(10000.0)) * np.arange(half, dtype=np.float32) / np.float32(half)
    frequencies = mx.array(np.exp(exponents.astype(np.float64)).astype(np.float32))
    angles = timesteps.astype(mx.float32)[:, None] * frequencies[None, :]
    return mx.concatenate([mx.cos(angles), mx.sin(angles)], axis=-1)


class TimestepMLP(nn.Module):
    """diffusers' TimestepEmbedding: linear -> SiLU -> linear."""

    def __init__(self, in_channels: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def __call__(self, x: mx.array) -> mx.array:
        return self.linear_2(nn.silu(self.linear_1(x)))


class TimestepEmbedder(nn.Module):
    """PixArt-alpha's combined embedder without size conditions: timestep [B] -> [B, dim].

    The MLP sits under `timestep_embedder`, the reference's parameter path.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.timestep_embedder = TimestepMLP(TIMESTEP_PROJECTION_CHANNELS, dim)

    def __call__(self, timestep: mx.array, dtype: mx.Dtype) -> mx.array:
        return self.timestep_embedder(timestep_sinusoids(timestep).astype(dtype))

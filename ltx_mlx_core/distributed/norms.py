"""q/k normalisation over the whole attention width when each rank holds only some of the heads.

Both families normalise queries and keys over all heads together (before the split into heads),
so a rank holding a slice of the channels needs the statistics of the whole width: one all-sum
of per-token partial sums ([B, T, 1] or [B, T, 2], small next to the activations).
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn


class ShardedRMSNorm(nn.Module):
    """RMS norm of a width split over the group; `weight` is this rank's slice of the learned scale."""

    def __init__(self, weight: mx.array, full_dims: int, eps: float, group: mx.distributed.Group):
        super().__init__()
        self.weight = weight
        self.full_dims = full_dims
        self.eps = eps
        self.group = group

    def __call__(self, x: mx.array) -> mx.array:
        wide = x.astype(mx.float32)
        squares = mx.distributed.all_sum(mx.sum(wide * wide, axis=-1, keepdims=True), group=self.group)
        normed = wide * mx.rsqrt(squares / self.full_dims + self.eps)
        return (normed * self.weight.astype(mx.float32)).astype(x.dtype)


class ShardedLayerNorm(nn.Module):
    """Layer norm of a width split over the group; `weight`/`bias` are this rank's slices (or absent)."""

    def __init__(
        self, weight: mx.array | None, bias: mx.array | None, full_dims: int, eps: float, group: mx.distributed.Group
    ):
        super().__init__()
        if weight is not None:
            self.weight = weight
        if bias is not None:
            self.bias = bias
        self.full_dims = full_dims
        self.eps = eps
        self.group = group

    def __call__(self, x: mx.array) -> mx.array:
        wide = x.astype(mx.float32)
        sums = mx.concatenate([mx.sum(wide, -1, keepdims=True), mx.sum(wide * wide, -1, keepdims=True)], -1)
        sums = mx.distributed.all_sum(sums, group=self.group) / self.full_dims
        mean, mean_square = sums[..., :1], sums[..., 1:]
        normed = (wide - mean) * mx.rsqrt(mean_square - mean * mean + self.eps)
        if "weight" in self:
            normed = normed * self.weight.astype(mx.float32)
        if "bias" in self:
            normed = normed + self.bias.astype(mx.float32)
        return normed.astype(x.dtype)

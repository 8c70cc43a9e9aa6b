"""Pieces of the AdaLN-single transformers both families use: modulation, gated residuals, caption projection.

A modulation vector is a per-block table row plus a slice of the timestep projection. With one
noise level per token that slice is [B, T, D], so summing a block's rows up front (as the
references do) materialises [B, T, rows, D] tables that stay allocated for the whole branch.
`AdaValue` keeps the two terms apart and the fused kernels below add them where they are used.
"""

from __future__ import annotations

from typing import NamedTuple

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.activations import gelu_tanh
from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu


class AdaValue(NamedTuple):
    """One modulation vector as its two terms: row [D] + timestep [B, 1 or T, D] (a view, usually)."""

    row: mx.array
    timestep: mx.array


def ada_rows(table: mx.array, modulation: mx.array, rows: slice) -> list[AdaValue]:
    """The chosen rows of a block's table [R, D] with their chunks of the modulation [B, 1 or T, R * D]."""
    batch, steps = modulation.shape[:2]
    chunks = modulation.reshape(batch, steps, table.shape[0], -1)
    # table[r : r + 1] is a view; table[r] would be a gather, a kernel launch per row on a GPU.
    return [AdaValue(table[r : r + 1].squeeze(0), chunks[:, :, r]) for r in range(table.shape[0])[rows]]


def ada_sum(value: AdaValue | mx.array) -> mx.array:
    """The vector itself (row + timestep), for consumers that are no fused kernel."""
    return value.row + value.timestep if isinstance(value, AdaValue) else value


@fuse_elementwise_on_gpu
def _modulate(normed: mx.array, scale: mx.array, shift: mx.array | None) -> mx.array:
    modulated = normed * (1 + scale)
    return modulated if shift is None else modulated + shift


@fuse_elementwise_on_gpu
def _modulate_ada(normed: mx.array, scale_row, scale_step, shift_row, shift_step) -> mx.array:
    return normed * (1 + (scale_row + scale_step)) + (shift_row + shift_step)


@fuse_elementwise_on_gpu
def _modulate_ada_unshifted(normed: mx.array, scale_row: mx.array, scale_step: mx.array) -> mx.array:
    return normed * (1 + (scale_row + scale_step))


def modulate(normed: mx.array, scale: AdaValue | mx.array, shift: AdaValue | mx.array | None) -> mx.array:
    """AdaLN: normed * (1 + scale) + shift, fused into one kernel (the AdaValues' sums too)."""
    if isinstance(scale, AdaValue) and shift is None:
        return _modulate_ada_unshifted(normed, *scale)
    if isinstance(scale, AdaValue) and isinstance(shift, AdaValue):
        return _modulate_ada(normed, *scale, *shift)
    return _modulate(normed, ada_sum(scale), None if shift is None else ada_sum(shift))


@fuse_elementwise_on_gpu
def _gated_residual(x: mx.array, gate: mx.array, update: mx.array) -> mx.array:
    return x + gate * update


@fuse_elementwise_on_gpu
def _gated_residual_ada(x: mx.array, gate_row: mx.array, gate_step: mx.array, update: mx.array) -> mx.array:
    return x + (gate_row + gate_step) * update


def gated_residual(x: mx.array, gate: AdaValue | mx.array, update: mx.array) -> mx.array:
    """x + gate * update, fused into one kernel."""
    if isinstance(gate, AdaValue):
        return _gated_residual_ada(x, gate.row, gate.timestep, update)
    return _gated_residual(x, gate, update)


class CaptionProjection(nn.Module):
    """Text-encoder features -> model width: linear, tanh-GELU, linear."""

    def __init__(self, in_features: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_features, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def __call__(self, caption: mx.array) -> mx.array:
        return self.linear_2(gelu_tanh(self.linear_1(caption)))

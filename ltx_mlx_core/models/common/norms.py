"""Normalisation layers by the name the reference configs use."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

# The reference's PixelNorm divides by sqrt(mean(x^2) + 1e-8), whatever eps its blocks are given.
PIXEL_NORM_EPS = 1e-8


class UnitRMSNorm(nn.Module):
    """RMS normalisation without a learned scale (elementwise_affine=False, or the VAE's pixel norm)."""

    def __init__(self, eps: float):
        super().__init__()
        self.eps = eps

    def __call__(self, x: mx.array) -> mx.array:
        return mx.fast.rms_norm(x, None, self.eps)


def make_norm(kind: str, dims: int, eps: float, affine: bool = True, groups: int = 32) -> nn.Module:
    """A normalisation over the last axis: "rms_norm", "layer_norm" (learned affine or not),
    "group_norm" (`groups` groups, as torch's GroupNorm) or "pixel_norm" (unit RMS, no parameters).
    """
    if kind == "rms_norm":
        return nn.RMSNorm(dims, eps=eps) if affine else UnitRMSNorm(eps)
    if kind == "layer_norm":
        return nn.LayerNorm(dims, eps=eps, affine=affine)
    if kind == "group_norm":
        return nn.GroupNorm(groups, dims, eps=eps, pytorch_compatible=True)
    if kind == "pixel_norm":
        return UnitRMSNorm(PIXEL_NORM_EPS)
    raise ValueError(f"Unknown norm {kind!r}; expected rms_norm, layer_norm, group_norm or pixel_norm.")

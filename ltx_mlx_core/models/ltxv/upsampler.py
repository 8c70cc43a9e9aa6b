"""LTX-Video's latent spatial upsampler (x2 in H and W), channels-last.

The multi-scale pipeline denoises at reduced size, upsamples the *raw* latents
with this network and re-normalises them (`upsample_normalized_latents`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder, denormalize_latents, normalize_latents

GROUP_NORM_GROUPS = 32


@dataclass
class UpsamplerConfig:
    """Field names follow the upsampler checkpoint's "config" metadata."""

    in_channels: int = 128
    mid_channels: int = 512
    num_blocks_per_stage: int = 4
    dims: int = 3
    spatial_upsample: bool = True
    temporal_upsample: bool = False

    def __post_init__(self) -> None:
        if not self.spatial_upsample or self.temporal_upsample:
            raise ValueError(
                "Only the spatial x2 latent upsampler is supported (spatial_upsample=True, temporal_upsample=False)."
            )
        if self.dims not in (2, 3):
            raise ValueError(f"Latent upsampler dims must be 2 or 3, got {self.dims}.")
        if self.mid_channels % GROUP_NORM_GROUPS:
            raise ValueError(
                f"Latent upsampler mid_channels={self.mid_channels} must be a multiple of {GROUP_NORM_GROUPS} "
                "(its GroupNorm uses 32 groups)."
            )

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> UpsamplerConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return {"_class_name": "LatentUpsampler", **{f.name: getattr(self, f.name) for f in fields(self)}}


# ltxv-spatial-upscaler-0.9.8.safetensors (its "config" metadata).
LTXV_098_UPSAMPLER_CONFIG: dict[str, Any] = {
    "_class_name": "LatentUpsampler",
    "in_channels": 128,
    "mid_channels": 512,
    "num_blocks_per_stage": 4,
    "dims": 3,
    "spatial_upsample": True,
    "temporal_upsample": False,
}


def pixel_shuffle_2d(x: mx.array, factor: int) -> mx.array:
    """[N, H, W, C*r*r] -> [N, H*r, W*r, C], channel order (c, row offset, column offset)."""
    n, h, w, channels = x.shape
    if channels % (factor * factor):
        raise InvalidRequest(
            f"Pixel shuffle by {factor} needs a channel count divisible by {factor * factor}; got {channels} "
            f"channels: use a multiple of {factor * factor}."
        )
    c = channels // (factor * factor)
    x = x.reshape(n, h, w, c, factor, factor).transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(n, h * factor, w * factor, c)


def _conv(dims: int, in_channels: int, out_channels: int) -> nn.Module:
    if dims == 3:
        return nn.Conv3d(in_channels, out_channels, 3, padding=1)
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(GROUP_NORM_GROUPS, channels, pytorch_compatible=True)


class ResBlock(nn.Module):
    def __init__(self, channels: int, dims: int):
        super().__init__()
        self.conv1 = _conv(dims, channels, channels)
        self.norm1 = _group_norm(channels)
        self.conv2 = _conv(dims, channels, channels)
        self.norm2 = _group_norm(channels)

    def __call__(self, x: mx.array) -> mx.array:
        hidden = nn.silu(self.norm1(self.conv1(x)))
        hidden = self.norm2(self.conv2(hidden))
        return nn.silu(hidden + x)


class LatentUpsampler(nn.Module):
    """Raw latents [B, F, h, w, C] -> raw latents [B, F, 2h, 2w, C]."""

    def __init__(self, config: UpsamplerConfig):
        super().__init__()
        self.config = config
        dims, mid = config.dims, config.mid_channels
        self.initial_conv = _conv(dims, config.in_channels, mid)
        self.initial_norm = _group_norm(mid)
        self.res_blocks = [ResBlock(mid, dims) for _ in range(config.num_blocks_per_stage)]
        # A list keeps the reference's `upsampler.0.*` parameter path (a Sequential there).
        self.upsampler = [nn.Conv2d(mid, 4 * mid, 3, padding=1)]
        self.post_upsample_res_blocks = [ResBlock(mid, dims) for _ in range(config.num_blocks_per_stage)]
        self.final_conv = _conv(dims, mid, config.in_channels)

    def _frames_as_batch(self, fn, x: mx.array) -> mx.array:
        b, f = x.shape[:2]
        y = fn(x.reshape(b * f, *x.shape[2:]))
        return y.reshape(b, f, *y.shape[1:])

    def __call__(self, latents: mx.array) -> mx.array:
        if latents.ndim != 5 or latents.shape[-1] != self.config.in_channels:
            raise InvalidRequest(
                "The latent upsampler takes latents shaped "
                f"[batch, frames, height, width, {self.config.in_channels}]; got shape {tuple(latents.shape)}."
            )
        if self.config.dims == 2:
            return self._frames_as_batch(self._forward_2d, latents)
        x = nn.silu(self.initial_norm(self.initial_conv(latents)))
        for block in self.res_blocks:
            x = block(x)
        x = self._frames_as_batch(lambda frames: pixel_shuffle_2d(self.upsampler[0](frames), 2), x)
        for block in self.post_upsample_res_blocks:
            x = block(x)
        return self.final_conv(x)

    def _forward_2d(self, x: mx.array) -> mx.array:
        x = nn.silu(self.initial_norm(self.initial_conv(x)))
        for block in self.res_blocks:
            x = block(x)
        x = pixel_shuffle_2d(self.upsampler[0](x), 2)
        for block in self.post_upsample_res_blocks:
            x = block(x)
        return self.final_conv(x)


def upsample_normalized_latents(upsampler: LatentUpsampler, vae: CausalVideoAutoencoder, latents: mx.array) -> mx.array:
    """What LTXMultiScalePipeline does between passes: un-normalise, upsample, re-normalise."""
    return normalize_latents(upsampler(denormalize_latents(latents, vae)), vae)

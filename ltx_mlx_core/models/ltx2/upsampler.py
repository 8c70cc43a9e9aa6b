"""The LTX-2 family's latent upsamplers (channels-last): spatial x2, x1.5, temporal x2.

One network with four possible middles, chosen by the file's "config" metadata:
- spatial x2 by pixel shuffle (`upsampler.0`, the 0.9.x upsampler's layout);
- spatial by a rational factor (`rational_resampler`): shuffle up by the numerator, then an
  anti-aliasing binomial blur with a stride of the denominator (x1.5 = up 3, down 2);
- temporal x2: frames shuffled out of channels, dropping the first (it encodes one frame);
- spatial and temporal x2 together.
It works on raw (un-normalised) latents, as the reference's `upsample_video` feeds it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.common.patchify import depth_to_space
from ltx_mlx_core.models.ltxv.upsampler import GROUP_NORM_GROUPS, ResBlock, pixel_shuffle_2d

# The reference's rational resampler: scale -> (shuffle up by, blur down by).
RATIONAL_SCALES = {0.75: (3, 4), 1.5: (3, 2), 2.0: (2, 1), 4.0: (4, 1)}
BLUR_KERNEL_SIZE = 5
# diffusers' names for the same settings.
_DIFFUSERS_NAMES = {"rational_spatial_scale": "spatial_scale", "use_rational_resampler": "rational_resampler"}


@dataclass
class LatentUpsamplerConfig:
    """Field names and defaults follow the reference's configurator (ltx-core)."""

    in_channels: int = 128
    mid_channels: int = 512
    num_blocks_per_stage: int = 4
    dims: int = 3
    spatial_upsample: bool = True
    temporal_upsample: bool = False
    spatial_scale: float = 2.0
    rational_resampler: bool = False

    def __post_init__(self) -> None:
        self.spatial_scale = float(self.spatial_scale)
        if not (self.spatial_upsample or self.temporal_upsample):
            raise ValueError("A latent upsampler upsamples in space, in time or both; this config does neither.")
        if self.dims not in (2, 3):
            raise ValueError(f"Latent upsampler dims must be 2 or 3, got {self.dims}.")
        if self.dims == 2 and self.temporal_upsample:
            raise ValueError("A per-frame (dims=2) latent upsampler cannot upsample in time.")
        if self.mid_channels % GROUP_NORM_GROUPS:
            raise ValueError(
                f"Latent upsampler mid_channels={self.mid_channels} must be a multiple of "
                f"{GROUP_NORM_GROUPS} (its GroupNorm uses {GROUP_NORM_GROUPS} groups)."
            )
        if self.rational_resampler and self.spatial_scale not in RATIONAL_SCALES:
            raise ValueError(
                f"Unsupported spatial_scale {self.spatial_scale}; the rational resampler "
                f"knows {sorted(RATIONAL_SCALES)}."
            )
        if self.spatial_upsample and not self.rational_resampler and self.spatial_scale != 2.0:
            raise ValueError(
                f"spatial_scale={self.spatial_scale} needs rational_resampler=True "
                "(the pixel-shuffle upsampler only doubles)."
            )

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> LatentUpsamplerConfig:
        """From an upsampler file's "config" metadata (ltx-core's or diffusers' names); unknown keys are ignored."""
        config = {_DIFFUSERS_NAMES.get(k, k): v for k, v in config.items()}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return {"_class_name": "LatentUpsampler", **{f.name: getattr(self, f.name) for f in fields(self)}}

    @property
    def spatial_ratio(self) -> tuple[int, int]:
        """(up, down): output size = ceil(input * up / down) in H and W."""
        if not self.spatial_upsample:
            return 1, 1
        return RATIONAL_SCALES[self.spatial_scale] if self.rational_resampler else (2, 1)


def _conv(dims: int, in_channels: int, out_channels: int) -> nn.Module:
    return (nn.Conv3d if dims == 3 else nn.Conv2d)(in_channels, out_channels, 3, padding=1)


def binomial_blur_kernel(size: int = BLUR_KERNEL_SIZE) -> mx.array:
    """The reference's normalised outer product of binomial coefficients, [size, size]."""
    row = mx.array([math.comb(size - 1, k) for k in range(size)], dtype=mx.float32)
    kernel = row[:, None] * row[None, :]
    return kernel / kernel.sum()


class BlurDownsample(nn.Module):
    """Depthwise binomial blur with stride `stride` on [N, H, W, C] (anti-aliased downsampling)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def __call__(self, x: mx.array) -> mx.array:
        if self.stride == 1:
            return x
        channels = x.shape[-1]
        weight = mx.broadcast_to(
            binomial_blur_kernel()[None, :, :, None], (channels, BLUR_KERNEL_SIZE, BLUR_KERNEL_SIZE, 1)
        )
        return mx.conv2d(x, weight.astype(x.dtype), stride=self.stride, padding=BLUR_KERNEL_SIZE // 2, groups=channels)


class RationalResampler(nn.Module):
    """Per-frame [N, H, W, C] -> [N, ceil(H*up/down), ceil(W*up/down), C]: shuffle up, blur down."""

    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.up, down = RATIONAL_SCALES[scale]
        self.conv = nn.Conv2d(channels, self.up**2 * channels, 3, padding=1)
        self.blur_down = BlurDownsample(down)

    def __call__(self, x: mx.array) -> mx.array:
        return self.blur_down(pixel_shuffle_2d(self.conv(x), self.up))


class LatentUpsampler(nn.Module):
    """Raw latents [B, F, h, w, C] -> raw latents, upsampled as the config says."""

    def __init__(self, config: LatentUpsamplerConfig):
        super().__init__()
        self.config = config
        dims, mid = config.dims, config.mid_channels
        self.initial_conv = _conv(dims, config.in_channels, mid)
        self.initial_norm = nn.GroupNorm(GROUP_NORM_GROUPS, mid, pytorch_compatible=True)
        self.res_blocks = [ResBlock(mid, dims) for _ in range(config.num_blocks_per_stage)]
        if config.temporal_upsample:
            # A list keeps the reference's `upsampler.0.*` path (a Sequential there).
            factor = 8 if config.spatial_upsample else 2
            self.upsampler = [nn.Conv3d(mid, factor * mid, 3, padding=1)]
        elif config.rational_resampler:
            self.upsampler = RationalResampler(mid, config.spatial_scale)
        else:
            self.upsampler = [nn.Conv2d(mid, 4 * mid, 3, padding=1)]
        self.post_upsample_res_blocks = [ResBlock(mid, dims) for _ in range(config.num_blocks_per_stage)]
        self.final_conv = _conv(dims, mid, config.in_channels)

    @property
    def dtype(self) -> mx.Dtype:
        """The weights' dtype, which its input should have (a float32 input would promote every
        convolution to float32, copying each weight)."""
        return self.initial_conv.weight.dtype

    @property
    def spatial_ratio(self) -> tuple[int, int]:
        return self.config.spatial_ratio

    def __call__(self, latents: mx.array) -> mx.array:
        if latents.ndim != 5 or latents.shape[-1] != self.config.in_channels:
            raise InvalidRequest(
                "The latent upsampler takes latents shaped "
                f"[batch, frames, height, width, {self.config.in_channels}]; got shape {tuple(latents.shape)}."
            )
        if self.config.dims == 2:
            return frames_as_batch(self._forward, latents)
        return self._forward(latents)

    def _forward(self, x: mx.array) -> mx.array:
        """[B, F, H, W, C] (dims 3) or [N, H, W, C] (dims 2: each frame on its own)."""
        x = nn.silu(self.initial_norm(self.initial_conv(x)))
        for block in self.res_blocks:
            x = block(x)
        x = self.upsample_middle(x)
        for block in self.post_upsample_res_blocks:
            x = block(x)
        return self.final_conv(x)

    def upsample_middle(self, x: mx.array) -> mx.array:
        """The middle stage alone on [B, F, H, W, C], or [N, H, W, C] for per-frame (dims 2) upsamplers."""
        config = self.config
        if config.temporal_upsample:
            stride = (2, 2, 2) if config.spatial_upsample else (2, 1, 1)
            # The first latent frame encodes one pixel frame: its upsampled twin is dropped.
            return depth_to_space(self.upsampler[0](x), stride)[:, 1:]
        per_frame = (
            self.upsampler
            if config.rational_resampler
            else (lambda frames: pixel_shuffle_2d(self.upsampler[0](frames), 2))
        )
        return per_frame(x) if x.ndim == 4 else frames_as_batch(per_frame, x)


def frames_as_batch(fn: Callable[[mx.array], mx.array], x: mx.array) -> mx.array:
    """Apply a per-image `fn` [N, H, W, C] -> [N, H', W', C'] to every frame of [B, F, H, W, C]."""
    b, f = x.shape[:2]
    y = fn(x.reshape(b * f, *x.shape[2:]))
    return y.reshape(b, f, *y.shape[1:])

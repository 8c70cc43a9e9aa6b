"""Residual, down- and up-sampling blocks of the video VAE (channels-last)."""

from __future__ import annotations

from collections.abc import Iterator

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu
from ltx_mlx_core.models.common.norms import make_norm
from ltx_mlx_core.models.common.patchify import depth_to_space, space_to_depth
from ltx_mlx_core.models.common.timestep import TimestepEmbedder
from ltx_mlx_core.models.ltxv.vae.layers import CausalConv3d, ChannelLayerNorm, norm_activate


class ResnetBlock3D(nn.Module):
    """norm -> (timestep shift/scale) -> SiLU -> conv, twice, plus the skip path."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        norm_layer: str = "pixel_norm",
        groups: int = 32,
        eps: float = 1e-6,
        inject_noise: bool = False,
        timestep_conditioning: bool = False,
        spatial_padding_mode: str = "zeros",
    ):
        super().__init__()
        out_channels = out_channels or in_channels
        self.inject_noise = inject_noise
        self.timestep_conditioning = timestep_conditioning
        self.norm1 = make_norm(norm_layer, in_channels, eps, groups=groups)
        self.conv1 = CausalConv3d(in_channels, out_channels, 3, spatial_padding_mode=spatial_padding_mode)
        self.norm2 = make_norm(norm_layer, out_channels, eps, groups=groups)
        self.conv2 = CausalConv3d(out_channels, out_channels, 3, spatial_padding_mode=spatial_padding_mode)
        if inject_noise:
            # Shapes as in the checkpoint: [C, 1, 1].
            self.per_channel_scale1 = mx.zeros((in_channels, 1, 1))
            self.per_channel_scale2 = mx.zeros((in_channels, 1, 1))
        if in_channels != out_channels:
            self.norm3 = ChannelLayerNorm(in_channels, eps)
            self.conv_shortcut = nn.Conv3d(in_channels, out_channels, 1)
        if timestep_conditioning:
            self.scale_shift_table = mx.random.normal((4, in_channels)) / in_channels**0.5

    @staticmethod
    def _add_spatial_noise(x: mx.array, per_channel_scale: mx.array, key: mx.array) -> mx.array:
        # StyleGAN-style explicit noise: one [H, W] field shared by batch and frames.
        noise = mx.random.normal(x.shape[2:4], key=key).astype(x.dtype)
        return x + noise[:, :, None] * per_channel_scale.reshape(-1)

    def __call__(
        self,
        x: mx.array,
        causal: bool = True,
        timestep_embed: mx.array | None = None,
        key: mx.array | None = None,
    ) -> mx.array:
        scale1 = shift1 = scale2 = shift2 = None
        if self.timestep_conditioning:
            if timestep_embed is None:
                raise ValueError("This VAE decoder is timestep-conditioned: pass a decode timestep.")
            # timestep_embed: [B, 4*C] laid out (4, C); broadcast over F, H, W.
            batch = x.shape[0]
            ada = self.scale_shift_table[None] + timestep_embed.reshape(batch, 4, -1)
            ada = ada[:, :, None, None, None, :]
            shift1, scale1, shift2, scale2 = ada[:, 0], ada[:, 1], ada[:, 2], ada[:, 3]
        # Each convolution's bias joins the pass after it: the next norm, or the residual add.
        hidden = self.conv1.convolve(norm_activate(self.norm1, x, scale1, shift1), causal=causal)
        bias = self.conv1.output_bias()
        if self.inject_noise:
            if key is None:
                raise ValueError("This VAE block injects noise: pass a random key.")
            key1, key2 = mx.random.split(key)
            hidden = self._add_spatial_noise(_plus(hidden, bias), self.per_channel_scale1, key1)
            bias = None
        hidden = self.conv2.convolve(norm_activate(self.norm2, hidden, scale2, shift2, bias), causal=causal)
        bias = self.conv2.output_bias()
        if self.inject_noise:
            hidden = self._add_spatial_noise(_plus(hidden, bias), self.per_channel_scale2, key2)
            bias = None
        if "conv_shortcut" in self:
            x = self.conv_shortcut(self.norm3(x))
        return x + hidden if bias is None else add_biased_residual(x, hidden, bias)


def _plus(x: mx.array, bias: mx.array | None) -> mx.array:
    return x if bias is None else x + bias


@fuse_elementwise_on_gpu
def add_biased_residual(x: mx.array, hidden: mx.array, bias: mx.array) -> mx.array:
    """x + (hidden + bias): a convolution's bias and the residual add in one pass."""
    return x + (hidden + bias)


class UNetMidBlock3D(nn.Module):
    """A stack of same-width ResnetBlock3Ds (the reference's `res_x`)."""

    def __init__(
        self,
        channels: int,
        num_layers: int,
        norm_layer: str = "pixel_norm",
        groups: int = 32,
        inject_noise: bool = False,
        timestep_conditioning: bool = False,
        spatial_padding_mode: str = "zeros",
    ):
        super().__init__()
        self.timestep_conditioning = timestep_conditioning
        self.inject_noise = inject_noise
        if timestep_conditioning:
            self.time_embedder = TimestepEmbedder(channels * 4)
        self.res_blocks = [
            ResnetBlock3D(
                channels,
                channels,
                norm_layer=norm_layer,
                groups=groups,
                inject_noise=inject_noise,
                timestep_conditioning=timestep_conditioning,
                spatial_padding_mode=spatial_padding_mode,
            )
            for _ in range(num_layers)
        ]

    def __call__(
        self,
        x: mx.array,
        causal: bool = True,
        scaled_timestep: mx.array | None = None,
        key: mx.array | None = None,
    ) -> mx.array:
        for x in self.iter_blocks(x, causal, scaled_timestep, key):  # noqa: B007, B020  (the last is the output)
            pass
        return x

    def iter_blocks(
        self,
        x: mx.array,
        causal: bool = True,
        scaled_timestep: mx.array | None = None,
        key: mx.array | None = None,
    ) -> Iterator[mx.array]:
        """The activations after each residual block, unevaluated (the caller may evaluate each)."""
        timestep_embed = None
        if self.timestep_conditioning:
            if scaled_timestep is None:
                raise ValueError("This VAE decoder is timestep-conditioned: pass a decode timestep.")
            timestep_embed = self.time_embedder(scaled_timestep.reshape(-1), x.dtype)
        keys = mx.random.split(key, len(self.res_blocks)) if (self.inject_noise and key is not None) else None
        for index, block in enumerate(self.res_blocks):
            x = block(x, causal=causal, timestep_embed=timestep_embed, key=None if keys is None else keys[index])
            yield x


class SpaceToDepthDownsample(nn.Module):
    """Encoder compression: causal conv then space-to-depth, plus a grouped-mean skip."""

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int, int], spatial_padding_mode: str):
        super().__init__()
        self.stride = stride
        factor = stride[0] * stride[1] * stride[2]
        self.group_size = in_channels * factor // out_channels
        self.conv = CausalConv3d(in_channels, out_channels // factor, 3, spatial_padding_mode=spatial_padding_mode)

    def __call__(self, x: mx.array, causal: bool = True) -> mx.array:
        if self.stride[0] == 2:
            # Duplicate the first frame so 1 + 8k frames fold into 1 + 4k.
            x = mx.concatenate([x[:, :1], x], axis=1)
        skip = space_to_depth(x, self.stride)
        b, f, h, w, c = skip.shape
        skip = skip.reshape(b, f, h, w, c // self.group_size, self.group_size).mean(axis=-1)
        return space_to_depth(self.conv(x, causal=causal), self.stride) + skip


class DepthToSpaceUpsample(nn.Module):
    """Decoder expansion: conv then depth-to-space; drops the extra first frame in time."""

    def __init__(
        self,
        in_channels: int,
        stride: tuple[int, int, int],
        residual: bool = False,
        out_channels_reduction_factor: int = 1,
        spatial_padding_mode: str = "zeros",
    ):
        super().__init__()
        self.stride = stride
        self.residual = residual
        self.factor = stride[0] * stride[1] * stride[2]
        self.reduction = out_channels_reduction_factor
        conv_out = self.factor * in_channels // out_channels_reduction_factor
        self.conv = CausalConv3d(in_channels, conv_out, 3, spatial_padding_mode=spatial_padding_mode)

    def __call__(self, x: mx.array, causal: bool = True) -> mx.array:
        if self.residual:
            skip = depth_to_space(x, self.stride)
            skip = mx.tile(skip, (1, 1, 1, 1, self.factor // self.reduction))
            if self.stride[0] == 2:
                skip = skip[:, 1:]
        # The bias is added by the rearranging copy (one pass instead of two).
        x = depth_to_space(self.conv.convolve(x, causal=causal), self.stride, self.conv.output_bias())
        if self.stride[0] == 2:
            x = x[:, 1:]
        if self.residual:
            x = x + skip
        return x

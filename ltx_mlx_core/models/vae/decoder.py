"""VAE decoder: latents [B, 1+k, h, w, C] -> pixels [B, 1+8k, 32h, 32w, 3]."""
from __future__ import annotations

from typing import Iterator

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.vae.blocks import DepthToSpaceUpsample, ResnetBlock3D, UNetMidBlock3D
from ltx_mlx_core.models.vae.config import VAEConfig
from ltx_mlx_core.models.vae.layers import (
    CausalConv3d,
    TimestepEmbedder,
    make_norm,
    norm_activate,
    offset_major_order,
    unpatchify_offset_major,
)

_UPSAMPLE_STRIDES = {"compress_time": (2, 1, 1), "compress_space": (1, 2, 2), "compress_all": (2, 2, 2)}


def _decoder_width(config: VAEConfig) -> int:
    """Channels after conv_in: base times every multiplier the up blocks divide out."""
    channels = config.decoder_base_channels
    for name, params in config.decoder_blocks:
        if name == "res_x_y":
            channels *= params.get("multiplier", 2)
        elif name.startswith("compress"):
            channels *= params.get("multiplier", 1)
    return channels


class Decoder(nn.Module):
    def __init__(self, config: VAEConfig):
        super().__init__()
        self.patch_size = config.patch_size
        self.causal = config.causal_decoder
        self.timestep_conditioning = config.timestep_conditioning
        padding = config.spatial_padding_mode
        channels = _decoder_width(config)
        self.conv_in = CausalConv3d(config.latent_channels, channels, 3, spatial_padding_mode=padding)
        self.up_blocks = []
        for name, params in reversed(config.decoder_blocks):
            if name == "res_x":
                block = UNetMidBlock3D(
                    channels,
                    params["num_layers"],
                    norm_layer=config.norm_layer,
                    groups=config.norm_num_groups,
                    inject_noise=params.get("inject_noise", False),
                    timestep_conditioning=config.timestep_conditioning,
                    spatial_padding_mode=padding,
                )
            elif name == "res_x_y":
                out_channels = channels // params.get("multiplier", 2)
                block = ResnetBlock3D(
                    channels,
                    out_channels,
                    config.norm_layer,
                    config.norm_num_groups,
                    inject_noise=params.get("inject_noise", False),
                    spatial_padding_mode=padding,
                )
                channels = out_channels
            else:
                reduction = params.get("multiplier", 1) if name == "compress_all" else 1
                block = DepthToSpaceUpsample(
                    channels,
                    _UPSAMPLE_STRIDES[name],
                    residual=params.get("residual", False) if name == "compress_all" else False,
                    out_channels_reduction_factor=reduction,
                    spatial_padding_mode=padding,
                )
                channels //= reduction
            self.up_blocks.append(block)
        self.conv_norm_out = make_norm(config.norm_layer, channels, config.norm_num_groups, 1e-6)
        self.conv_out = CausalConv3d(
            channels, config.out_channels * config.patch_size**2, 3, spatial_padding_mode=padding
        )
        if config.timestep_conditioning:
            self.timestep_scale_multiplier = mx.array(1000.0)
            self.last_time_embedder = TimestepEmbedder(channels * 2)
            self.last_scale_shift_table = mx.random.normal((2, channels)) / channels**0.5

    def __call__(self, latents: mx.array, timestep: mx.array | None = None, key: mx.array | None = None) -> mx.array:
        """`timestep`: [B] decode timestep (0..1) for timestep-conditioned decoders.

        `key` seeds the blocks that inject spatial noise (none in 0.9.8).
        """
        for x in self.iter_blocks(latents, timestep, key):
            pass
        return x

    def iter_blocks(
        self, latents: mx.array, timestep: mx.array | None = None, key: mx.array | None = None
    ) -> Iterator[mx.array]:
        """The activations after each block, unevaluated; the last one is the pixels.

        A caller that evaluates each one bounds the working memory by a block rather than the
        whole decoder's graph, for a little more time (docs/PERFORMANCE.md has the numbers).
        """
        batch = latents.shape[0]
        x = self.conv_in(latents, causal=self.causal)
        yield x
        scaled_timestep = None
        if self.timestep_conditioning:
            if timestep is None:
                raise ValueError("This VAE decoder is timestep-conditioned: pass a decode timestep.")
            timestep = mx.broadcast_to(mx.array(timestep, dtype=mx.float32).reshape(-1), (batch,))
            scaled_timestep = timestep * self.timestep_scale_multiplier
        block_keys = mx.random.split(key, len(self.up_blocks)) if key is not None else None
        for index, block in enumerate(self.up_blocks):
            block_key = None if block_keys is None else block_keys[index]
            if isinstance(block, UNetMidBlock3D):
                for x in block.iter_blocks(x, causal=self.causal, scaled_timestep=scaled_timestep, key=block_key):
                    yield x
                continue
            if isinstance(block, ResnetBlock3D):
                x = block(x, causal=self.causal, key=block_key)
            else:
                x = block(x, causal=self.causal)
            yield x
        scale = shift = None
        if self.timestep_conditioning:
            embedded = self.last_time_embedder(scaled_timestep, x.dtype)
            ada = self.last_scale_shift_table[None] + embedded.reshape(batch, 2, -1)
            ada = ada[:, :, None, None, None, :]
            shift, scale = ada[:, 0], ada[:, 1]
        x = norm_activate(self.conv_norm_out, x, scale, shift)
        order = offset_major_order(self.conv_out.conv.weight.shape[0] // self.patch_size**2, self.patch_size)
        yield unpatchify_offset_major(self.conv_out(x, causal=self.causal, out_order=order), self.patch_size)

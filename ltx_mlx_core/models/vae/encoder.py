"""VAE encoder: pixels [B, 1+8k, H, W, 3] -> latent moments [B, 1+k, H/32, W/32, 2*C]."""
from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.vae.blocks import ResnetBlock3D, SpaceToDepthDownsample, UNetMidBlock3D
from ltx_mlx_core.models.vae.config import VAEConfig
from ltx_mlx_core.models.vae.layers import CausalConv3d, make_norm, norm_activate, patchify

_DOWNSAMPLE_STRIDES = {
    "compress_time_res": (2, 1, 1),
    "compress_space_res": (1, 2, 2),
    "compress_all_res": (2, 2, 2),
}


class Encoder(nn.Module):
    def __init__(self, config: VAEConfig):
        super().__init__()
        self.patch_size = config.patch_size
        self.latent_channels = config.latent_channels
        self.latent_log_var = config.latent_log_var
        padding = config.spatial_padding_mode
        channels = config.encoder_base_channels
        self.conv_in = CausalConv3d(
            config.in_channels * config.patch_size**2, channels, 3, spatial_padding_mode=padding
        )
        self.down_blocks = []
        for name, params in config.encoder_blocks:
            if name == "res_x":
                block = UNetMidBlock3D(
                    channels,
                    params["num_layers"],
                    norm_layer=config.norm_layer,
                    groups=config.norm_num_groups,
                    spatial_padding_mode=padding,
                )
            elif name == "res_x_y":
                out_channels = channels * params.get("multiplier", 2)
                block = ResnetBlock3D(
                    channels, out_channels, config.norm_layer, config.norm_num_groups, spatial_padding_mode=padding
                )
                channels = out_channels
            else:
                out_channels = channels * params.get("multiplier", 2)
                block = SpaceToDepthDownsample(channels, out_channels, _DOWNSAMPLE_STRIDES[name], padding)
                channels = out_channels
            self.down_blocks.append(block)
        self.conv_norm_out = make_norm(config.norm_layer, channels, config.norm_num_groups, 1e-6)
        out_channels = config.latent_channels
        if config.latent_log_var == "per_channel":
            out_channels *= 2
        else:  # "uniform" and "constant" predict one extra channel
            out_channels += 1
        self.conv_out = CausalConv3d(channels, out_channels, 3, spatial_padding_mode=padding)

    def __call__(self, pixels: mx.array) -> tuple[mx.array, mx.array]:
        """Return (mean, log-variance), each [B, F', H', W', latent_channels]."""
        x = self.conv_in(patchify(pixels, self.patch_size))
        for block in self.down_blocks:
            x = block(x)
        x = self.conv_out(norm_activate(self.conv_norm_out, x))
        c = self.latent_channels
        mean = x[..., :c]
        if self.latent_log_var == "per_channel":
            logvar = x[..., c:]
        elif self.latent_log_var == "uniform":
            logvar = mx.broadcast_to(x[..., c:], mean.shape)
        else:  # "constant": the reference's approximation of log(0)
            logvar = mx.full(mean.shape, -30.0, dtype=mean.dtype)
        return mean, logvar

"""The LTX-2 family's causal video VAE in MLX (channels-last), both generations.

Pixels are [B, 8k+1, H, W, 3] in [-1, 1] with H, W multiples of 32; latents are
[B, k+1, H/32, W/32, 128]. The blocks are the 0.9.x VAE's (same math: causal
convolutions, pixel norm, space-to-depth, depth-to-space); what changes is how the
reference (ltx-core) lays them out:

- the encoder's first width is the latent width, and its padding mode is its own;
- the decoder starts at 8x `decoder_base_channels` and every up-block divides the width
  by its `multiplier` (LTX-2.3 mixes space-only, time-only and x1 blocks), with the
  decoder's own padding mode (reflect in LTX-2, zeros in LTX-2.3).

So the encoder is the 0.9.x `Encoder` built from an equivalent config, the decoder keeps
the 0.9.x decoder's forward (`iter_blocks`) and builds its own blocks, and the autoencoder
keeps the 0.9.x interface that the tiled drivers in `pipeline/` use.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.models.common.norms import make_norm
from ltx_mlx_core.models.common.timestep import TimestepEmbedder
from ltx_mlx_core.models.ltx2.video_vae_config import DECODER_BLOCKS, VideoVAEConfig
from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder, VAEConfig
from ltx_mlx_core.models.ltxv.vae.autoencoder import Decoder, Encoder
from ltx_mlx_core.models.ltxv.vae.blocks import DepthToSpaceUpsample, UNetMidBlock3D
from ltx_mlx_core.models.ltxv.vae.layers import CausalConv3d

# The reference decoder's first width is 8x its base width whatever its blocks (three x2 levels).
DECODER_WIDTH_FACTOR = 8


def encoder_for(config: VideoVAEConfig) -> Encoder:
    """The 0.9.x encoder laid out as the LTX-2 reference's: first width = latent width, its own padding."""
    return Encoder(
        VAEConfig(
            encoder_blocks=config.encoder_blocks,
            in_channels=config.in_channels,
            out_channels=config.out_channels,
            latent_channels=config.latent_channels,
            patch_size=config.patch_size,
            norm_layer=config.norm_layer,
            latent_log_var=config.latent_log_var,
            spatial_padding_mode=config.encoder_spatial_padding_mode,
            encoder_base_channels=config.latent_channels,
            norm_num_groups=config.norm_num_groups,
        )
    )


class VideoDecoder(Decoder):
    """Latents [B, 1+k, h, w, C] -> pixels [B, 1+8k, 32h, 32w, 3]; the forward is the 0.9.x decoder's."""

    def __init__(self, config: VideoVAEConfig):
        # Not Decoder.__init__: that lays the blocks out as LTX-Video 0.9.x did.
        nn.Module.__init__(self)
        self.patch_size = config.patch_size
        self.causal = config.causal_decoder
        self.timestep_conditioning = config.timestep_conditioning
        padding = config.decoder_spatial_padding_mode
        channels = config.decoder_base_channels * DECODER_WIDTH_FACTOR
        self.conv_in = CausalConv3d(config.latent_channels, channels, 3, spatial_padding_mode=padding)
        self.up_blocks = []
        for name, params in reversed(config.decoder_blocks):
            if name == "res_x":
                self.up_blocks.append(
                    UNetMidBlock3D(
                        channels,
                        params["num_layers"],
                        norm_layer=config.norm_layer,
                        groups=config.norm_num_groups,
                        inject_noise=params.get("inject_noise", False),
                        timestep_conditioning=config.timestep_conditioning,
                        spatial_padding_mode=padding,
                    )
                )
                continue
            reduction = params.get("multiplier", 1)
            if channels % reduction:
                raise ValueError(f"The decoder block {name!r} cannot divide {channels} channels by {reduction}.")
            self.up_blocks.append(
                DepthToSpaceUpsample(
                    channels,
                    DECODER_BLOCKS[name],
                    residual=name == "compress_all" and params.get("residual", False),
                    out_channels_reduction_factor=reduction,
                    spatial_padding_mode=padding,
                )
            )
            channels //= reduction
        self.conv_norm_out = make_norm(config.norm_layer, channels, 1e-6, groups=config.norm_num_groups)
        self.conv_out = CausalConv3d(
            channels, config.out_channels * config.patch_size**2, 3, spatial_padding_mode=padding
        )
        if config.timestep_conditioning:
            self.timestep_scale_multiplier = mx.array(1000.0)
            self.last_time_embedder = TimestepEmbedder(channels * 2)
            self.last_scale_shift_table = mx.random.normal((2, channels)) / channels**0.5


class VideoAutoencoder(CausalVideoAutoencoder):
    """Encoder, decoder and the per-channel latent statistics; the 0.9.x VAE's interface.

    `encode`/`decode` work on raw latents; the transformer works on per-channel normalised
    latents (`normalize_latents`/`denormalize_latents`), which the reference's encoder
    returns and its decoder expects.
    """

    def __init__(self, config: VideoVAEConfig):
        # Not CausalVideoAutoencoder.__init__: the encoder and decoder are laid out differently.
        nn.Module.__init__(self)
        self.config = config
        self.encoder = encoder_for(config)
        self.decoder = VideoDecoder(config)
        self.mean_of_means = mx.zeros((config.latent_channels,))
        self.std_of_means = mx.ones((config.latent_channels,))

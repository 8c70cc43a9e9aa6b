"""LTX-Video's CausalVideoAutoencoder in MLX: encoder, decoder and the model around them.

Pixels are [B, F, H, W, 3] in [-1, 1] with F = 8k+1 and H, W multiples of 32;
latents are [B, k+1, H/32, W/32, 128]. `encode`/`decode` work on raw latents,
as the reference module does; the pipeline works on per-channel *normalised*
latents (`normalize_latents` / `denormalize_latents`), which is what the
transformer was trained on.
"""

from __future__ import annotations

from collections.abc import Iterator

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.common.fusion import fuse_elementwise_on_gpu
from ltx_mlx_core.models.common.norms import make_norm
from ltx_mlx_core.models.common.patchify import (
    offset_major_order,
    patchify_pixels,
    unpatchify_pixels_offset_major,
)
from ltx_mlx_core.models.common.timestep import TimestepEmbedder
from ltx_mlx_core.models.ltxv.vae.blocks import (
    DepthToSpaceUpsample,
    ResnetBlock3D,
    SpaceToDepthDownsample,
    UNetMidBlock3D,
)
from ltx_mlx_core.models.ltxv.vae.config import VAEConfig
from ltx_mlx_core.models.ltxv.vae.layers import CausalConv3d, norm_activate

_DOWNSAMPLE_STRIDES = {
    "compress_time_res": (2, 1, 1),
    "compress_space_res": (1, 2, 2),
    "compress_all_res": (2, 2, 2),
}
_UPSAMPLE_STRIDES = {"compress_time": (2, 1, 1), "compress_space": (1, 2, 2), "compress_all": (2, 2, 2)}


class Encoder(nn.Module):
    """Pixels [B, 1+8k, H, W, 3] -> latent moments [B, 1+k, H/32, W/32, 2*C]."""

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
        self.conv_norm_out = make_norm(config.norm_layer, channels, 1e-6, groups=config.norm_num_groups)
        out_channels = config.latent_channels
        if config.latent_log_var == "per_channel":
            out_channels *= 2
        else:  # "uniform" and "constant" predict one extra channel
            out_channels += 1
        self.conv_out = CausalConv3d(channels, out_channels, 3, spatial_padding_mode=padding)

    def __call__(self, pixels: mx.array) -> tuple[mx.array, mx.array]:
        """Return (mean, log-variance), each [B, F', H', W', latent_channels]."""
        x = self.conv_in(patchify_pixels(pixels, self.patch_size))
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
    """Latents [B, 1+k, h, w, C] -> pixels [B, 1+8k, 32h, 32w, 3]."""

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
        self.conv_norm_out = make_norm(config.norm_layer, channels, 1e-6, groups=config.norm_num_groups)
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
        for x in self.iter_blocks(latents, timestep, key):  # noqa: B007  (run to the end: the last is the output)
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
                for x in block.iter_blocks(x, causal=self.causal, scaled_timestep=scaled_timestep, key=block_key):  # noqa: B020
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
        pixels = self.conv_out.convolve(x, causal=self.causal, out_order=order)
        yield unpatchify_pixels_offset_major(pixels, self.patch_size, self.conv_out.output_bias(order))


class CausalVideoAutoencoder(nn.Module):
    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        # Per-channel latent statistics ("per_channel_statistics.*" in checkpoints).
        self.mean_of_means = mx.zeros((config.latent_channels,))
        self.std_of_means = mx.ones((config.latent_channels,))

    @property
    def spatial_compression(self) -> int:
        return self.config.spatial_compression

    @property
    def temporal_compression(self) -> int:
        return self.config.temporal_compression

    def check_pixel_shape(self, pixels: mx.array) -> None:
        """Raise InvalidRequest naming what to change if pixels cannot be encoded."""
        if pixels.ndim != 5 or pixels.shape[-1] != self.config.in_channels:
            raise InvalidRequest(
                f"The VAE encodes video shaped [batch, frames, height, width, {self.config.in_channels}]; "
                f"got shape {tuple(pixels.shape)}."
            )
        frames, height, width = pixels.shape[1:4]
        t, s = self.temporal_compression, self.spatial_compression
        if (frames - 1) % t != 0:
            lower = (frames - 1) // t * t + 1
            raise InvalidRequest(
                f"The video has {frames} frames but the VAE needs {t}k+1 frames: use {lower} or {lower + t} frames."
            )
        if height % s or width % s:
            raise InvalidRequest(
                f"The video is {width}x{height} but width and height must be multiples of {s}: "
                f"use {width // s * s or s}x{height // s * s or s}."
            )

    def check_latent_shape(self, latents: mx.array) -> None:
        if latents.ndim != 5 or latents.shape[-1] != self.config.latent_channels:
            raise InvalidRequest(
                f"The VAE decodes latents shaped [batch, frames, height, width, {self.config.latent_channels}]; "
                f"got shape {tuple(latents.shape)}."
            )

    def encode_moments(self, pixels: mx.array) -> tuple[mx.array, mx.array]:
        """Posterior (mean, log-variance) of raw latents, each [B, F', H', W', C]."""
        self.check_pixel_shape(pixels)
        return self.encoder(pixels)

    def encode(self, pixels: mx.array, key: mx.array | None = None) -> mx.array:
        """Raw latents: the posterior mean, or a sample from it when `key` is given.

        The reference pipeline's `vae_encode` samples (`latent_dist.sample()`); the
        posterior of the 0.9.8 VAE is very narrow, so the mean differs little.
        """
        mean, logvar = self.encode_moments(pixels)
        return mean if key is None else sample_posterior(mean, logvar, key)

    def decode(
        self, latents: mx.array, timestep: mx.array | float | None = None, key: mx.array | None = None
    ) -> mx.array:
        """Pixels in about [-1, 1] from raw latents; `timestep` is required by timestep-conditioned decoders."""
        for pixels in self.iter_decode(latents, timestep, key):  # noqa: B007  (run to the end: the last is the pixels)
            pass
        return pixels

    def iter_decode(
        self, latents: mx.array, timestep: mx.array | float | None = None, key: mx.array | None = None
    ) -> Iterator[mx.array]:
        """`decode` block by block: unevaluated activations after each decoder block, the pixels last."""
        self.check_latent_shape(latents)
        if timestep is not None and not isinstance(timestep, mx.array):
            timestep = mx.array(timestep, dtype=mx.float32)
        return self.decoder.iter_blocks(latents, timestep=timestep, key=key)

    def normalize_latents(self, latents: mx.array) -> mx.array:
        return normalize_latents(latents, self)

    def denormalize_latents(self, latents: mx.array) -> mx.array:
        return denormalize_latents(latents, self)


def sample_posterior(mean: mx.array, logvar: mx.array, key: mx.array) -> mx.array:
    """A draw from the diagonal Gaussian posterior (log-variance clipped as diffusers does)."""
    std = mx.exp(0.5 * mx.clip(logvar, -30.0, 20.0))
    return mean + std * mx.random.normal(mean.shape, key=key).astype(mean.dtype)


def normalize_latents(latents: mx.array, vae: CausalVideoAutoencoder) -> mx.array:
    """Raw VAE latents -> the per-channel standardised latents the transformer works on."""
    mean = vae.mean_of_means.astype(latents.dtype)
    std = vae.std_of_means.astype(latents.dtype)
    return (latents - mean) / std


def denormalize_latents(latents: mx.array, vae: CausalVideoAutoencoder) -> mx.array:
    """Inverse of `normalize_latents`."""
    return _scale_and_shift(latents, vae.std_of_means, vae.mean_of_means)


@fuse_elementwise_on_gpu
def _scale_and_shift(latents: mx.array, scale: mx.array, shift: mx.array) -> mx.array:
    return latents * scale.astype(latents.dtype) + shift.astype(latents.dtype)

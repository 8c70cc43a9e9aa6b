"""LTX-Video's CausalVideoAutoencoder in MLX.

Pixels are [B, F, H, W, 3] in [-1, 1] with F = 8k+1 and H, W multiples of 32;
latents are [B, k+1, H/32, W/32, 128]. `encode`/`decode` work on raw latents,
as the reference module does; the pipeline works on per-channel *normalised*
latents (`normalize_latents` / `denormalize_latents`), which is what the
transformer was trained on.
"""
from __future__ import annotations

from typing import Iterator

import mlx.core as mx
import mlx.nn as nn

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.vae.config import VAEConfig
from ltx_mlx_core.models.vae.decoder import Decoder
from ltx_mlx_core.models.vae.encoder import Encoder


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
                f"The video has {frames} frames but the VAE needs {t}k+1 frames: "
                f"use {lower} or {lower + t} frames."
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
        for pixels in self.iter_decode(latents, timestep, key):
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
    mean = vae.mean_of_means.astype(latents.dtype)
    std = vae.std_of_means.astype(latents.dtype)
    return latents * std + mean

"""LTX-Video causal video autoencoder (channels-last MLX)."""

from ltx_mlx_core.models.ltxv.vae.autoencoder import (
    CausalVideoAutoencoder,
    denormalize_latents,
    normalize_latents,
)
from ltx_mlx_core.models.ltxv.vae.config import (
    DEFAULT_DECODE_NOISE_SCALE,
    DEFAULT_DECODE_TIMESTEP,
    LTXV_098_VAE_CONFIG,
    VAEConfig,
    ltxv_098_vae_config,
)

__all__ = [
    "CausalVideoAutoencoder",
    "DEFAULT_DECODE_NOISE_SCALE",
    "DEFAULT_DECODE_TIMESTEP",
    "LTXV_098_VAE_CONFIG",
    "VAEConfig",
    "denormalize_latents",
    "ltxv_098_vae_config",
    "normalize_latents",
]

"""Latent previews: a fitted linear 128 -> 3 map, cached per VAE, uint8 frames out."""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder, VAEConfig
from ltx_mlx_core.pipeline.preview import LatentProjection, fit_latent_projection, load_or_fit_projection


def _tiny_vae() -> CausalVideoAutoencoder:
    config = VAEConfig(
        encoder_blocks=[["res_x", 1], ["compress_all_res", {"multiplier": 1}], ["res_x", 1]],
        decoder_blocks=[
            ["res_x", {"num_layers": 1}],
            ["compress_all", {"multiplier": 1}],
            ["res_x", {"num_layers": 1}],
        ],
        latent_channels=16,
        patch_size=4,
        encoder_base_channels=8,
        decoder_base_channels=8,
        norm_num_groups=4,
        timestep_conditioning=False,
    )
    vae = CausalVideoAutoencoder(config)
    mx.eval(vae.parameters())
    return vae


def test_projection_turns_latents_into_small_uint8_frames():
    projection = LatentProjection(matrix=np.eye(4, 3, dtype=np.float32), bias=np.zeros(3, np.float32))
    latents = mx.zeros((2, 3, 4, 6, 4))
    frames = projection.to_rgb_frames(latents, max_side=24)
    assert frames.dtype == np.uint8 and frames.shape == (3, 16, 24, 3)
    assert np.all(frames == 127)


class _BlockLinearVAE:
    """A VAE whose decoder paints each latent pixel's block with latents @ M + b (known answer)."""

    def __init__(self, matrix: np.ndarray, bias: np.ndarray, block: int = 8):
        self.config = VAEConfig(latent_channels=matrix.shape[0], timestep_conditioning=False)
        self.spatial_compression = block
        self.matrix, self.bias = mx.array(matrix), mx.array(bias)

    def denormalize_latents(self, latents):
        return latents

    def decode(self, latents, timestep=None):
        rgb = latents @ self.matrix + self.bias
        return mx.repeat(mx.repeat(rgb, self.spatial_compression, axis=2), self.spatial_compression, axis=3)


def test_fit_recovers_a_linear_decoders_colour_map():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(16, 3)).astype(np.float32) * 0.1
    bias = np.array([0.1, -0.2, 0.3], np.float32)
    projection = fit_latent_projection(_BlockLinearVAE(matrix, bias))
    assert np.abs(projection.matrix - matrix).max() < 1e-3
    assert np.abs(projection.bias - bias).max() < 1e-3


def test_fit_runs_on_a_real_tiny_vae():
    projection = fit_latent_projection(_tiny_vae())
    assert projection.matrix.shape == (16, 3) and np.isfinite(projection.matrix).all()


def test_projection_is_cached_per_key():
    vae = _tiny_vae()
    first = load_or_fit_projection(vae, "vae-a")
    # A different VAE under the same key returns the cached map (fitted once per checkpoint).
    second = load_or_fit_projection(_tiny_vae(), "vae-a")
    assert np.array_equal(first.matrix, second.matrix)

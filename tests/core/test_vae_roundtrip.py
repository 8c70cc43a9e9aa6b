"""Encode -> decode of a rendered synthetic clip keeps its shape and frame count."""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from ltx_mlx_core.models.ltxv.vae import CausalVideoAutoencoder, VAEConfig
from ltx_mlx_core.pipeline.decode import decode_video, encode_video
from ltx_mlx_core.pipeline.tiling import TilingConfig
from tests.parity.vae_helpers import tiny_vae_config


def render_moving_shapes(frames: int, height: int, width: int) -> np.ndarray:
    """uint8 [F, H, W, 3]: a red disc moving right and a green square moving down on a gradient."""
    rows, cols = np.mgrid[0:height, 0:width]
    video = np.zeros((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        frame = np.zeros((height, width, 3), dtype=np.float64)
        frame[..., 2] = 80 + 100 * cols / width
        cx, cy = 8 + t * (width - 16) / max(frames - 1, 1), height / 3
        frame[(rows - cy) ** 2 + (cols - cx) ** 2 < (height / 6) ** 2] = (230, 40, 40)
        top = int(4 + t * (height - 24) / max(frames - 1, 1))
        frame[top : top + 16, width // 2 : width // 2 + 16] = (40, 220, 60)
        video[t] = frame.astype(np.uint8)
    return video


def test_encode_decode_round_trip_keeps_shape_and_frame_count():
    vae = CausalVideoAutoencoder(VAEConfig.from_dict(tiny_vae_config()))
    frames = render_moving_shapes(25, 64, 96)
    assert frames[0, 21, 8, 0] == 230 and frames[-1, 21, 8, 0] != 230  # the disc moved
    pixels = mx.array(frames[None].astype(np.float32) / 127.5 - 1.0)
    tiling = TilingConfig(spatial_tile=2, spatial_overlap=1, temporal_tile=3, temporal_overlap=1)
    latents = encode_video(vae, pixels, tiling=tiling)
    assert latents.shape == (1, 4, 2, 3, 16)
    decoded = decode_video(vae, latents, timestep=0.05, noise_scale=0.025, key=mx.random.key(0))
    assert decoded.shape == (1, 25, 64, 96, 3)
    assert bool(mx.all(mx.isfinite(decoded)))
    restored = np.clip((np.array(decoded[0]) + 1.0) * 127.5, 0, 255).astype(np.uint8)
    assert restored.shape == frames.shape


def test_decode_is_deterministic_for_a_key_and_varies_with_it():
    vae = CausalVideoAutoencoder(VAEConfig.from_dict(tiny_vae_config()))
    latents = mx.random.normal((1, 2, 1, 2, 16), key=mx.random.key(4))
    first = decode_video(vae, latents, 0.05, 0.025, mx.random.key(1))
    again = decode_video(vae, latents, 0.05, 0.025, mx.random.key(1))
    other = decode_video(vae, latents, 0.05, 0.025, mx.random.key(2))
    assert np.array_equal(np.array(first), np.array(again))
    assert not np.array_equal(np.array(first), np.array(other))

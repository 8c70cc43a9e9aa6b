"""Token positions the LTX-2 transformer's rotary embeddings read, as the reference builds them.

Video tokens (1x1x1 latent patches, ordered frame, height, width) carry [start, end) bounds
on three axes: time in seconds, height and width in pixels. Audio tokens (one per latent
frame) carry [start, end) in seconds on one axis. The first latent frame of the causal VAEs
covers one pixel frame (one mel frame for audio), so time starts are shifted back and
clamped at zero. Computed on the host in float32 with the reference's operation order.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

VIDEO_SCALE_FACTORS = (8, 32, 32)


def video_positions(
    batch: int,
    frames: int,
    height: int,
    width: int,
    fps: float,
    scale_factors: tuple[int, int, int] = VIDEO_SCALE_FACTORS,
    causal: bool = True,
) -> mx.array:
    """[batch, 3, frames * height * width, 2] float32 bounds for a latent grid of that size."""
    grid = np.stack(np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), indexing="ij"))
    bounds = np.stack([grid, grid + 1], axis=-1).reshape(3, -1, 2)
    pixels = bounds * np.asarray(scale_factors).reshape(3, 1, 1)
    if causal:
        pixels[0] = np.maximum(pixels[0] + 1 - scale_factors[0], 0)
    pixels = pixels.astype(np.float32)
    pixels[0] = pixels[0] / np.float32(fps)
    return mx.array(np.broadcast_to(pixels, (batch, *pixels.shape)).copy())


def _audio_seconds(
    start: int, stop: int, sample_rate: int, hop_length: int, downsample: int, causal: bool
) -> np.ndarray:
    mel_frames = np.arange(start, stop, dtype=np.float32) * np.float32(downsample)
    if causal:
        mel_frames = np.maximum(mel_frames + np.float32(1) - np.float32(downsample), np.float32(0))
    return mel_frames * np.float32(hop_length) / np.float32(sample_rate)


def audio_positions(
    batch: int,
    frames: int,
    sample_rate: int = 16000,
    hop_length: int = 160,
    downsample: int = 4,
    causal: bool = True,
    shift: int = 0,
) -> mx.array:
    """[batch, 1, frames, 2] float32 bounds in seconds of audio latent frames shift .. shift + frames."""
    starts = _audio_seconds(shift, frames + shift, sample_rate, hop_length, downsample, causal)
    ends = _audio_seconds(shift + 1, frames + shift + 1, sample_rate, hop_length, downsample, causal)
    bounds = np.stack([starts, ends], axis=-1)[None, None]
    return mx.array(np.broadcast_to(bounds, (batch, 1, frames, 2)).copy())

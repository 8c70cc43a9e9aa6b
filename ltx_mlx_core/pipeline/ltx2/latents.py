"""Latent shapes, tokens and seeded noise of the LTX-2 family's two streams.

Video latents are channels-last [B, F, H, W, 128] (8x fewer frames after the first, 32x
smaller sides), tokens [B, F*H*W, 128] in (frame, row, column) order: the 0.9.x layout, so
its patchify serves. Audio latents keep the audio VAE's boundary layout [B, 8, T, 16]
(channels, latent frames, mel bins); a token is one latent frame, its 128 features ordered
channel-major as the reference's "b c t f -> b t (c f)". The audio runs at 25 latent frames
per second (16 kHz mel frames of hop 160, 4 per latent) and a clip of n frames at fps gets
round(n / fps * 25) of them, as the reference computes its length.

Every random draw of a generation comes from one key: each stage splits its own key, and
from it one key for the video noise, one for the audio noise and one per step (ancestral).
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.pipeline.latents import latent_grid

VIDEO_LATENT_CHANNELS = 128
AUDIO_LATENT_CHANNELS = 8
AUDIO_MEL_BINS = 16


@dataclass(frozen=True)
class AudioLatentLayout:
    """How audio latents map to time (the audio VAE's mel settings)."""

    channels: int = AUDIO_LATENT_CHANNELS
    mel_bins: int = AUDIO_MEL_BINS
    sample_rate: int = 16000
    hop_length: int = 160
    downsample: int = 4

    @property
    def latents_per_second(self) -> float:
        return float(self.sample_rate) / float(self.hop_length) / float(self.downsample)

    @property
    def token_channels(self) -> int:
        return self.channels * self.mel_bins

    def frames_for(self, num_frames: int, fps: float) -> int:
        """Audio latent frames of a clip of `num_frames` video frames (Python's round, as the reference)."""
        return round(float(num_frames) / float(fps) * self.latents_per_second)


@dataclass(frozen=True)
class VideoShape:
    """A clip's pixel size and the latent grid it encodes to."""

    num_frames: int
    height: int
    width: int

    @property
    def grid(self) -> tuple[int, int, int]:
        return latent_grid(self.num_frames, self.height, self.width)

    @property
    def tokens(self) -> int:
        frames, rows, cols = self.grid
        return frames * rows * cols

    def scaled(self, height: int, width: int) -> VideoShape:
        return VideoShape(self.num_frames, height, width)


def patchify_audio(latents: mx.array) -> mx.array:
    """[B, C, T, F] -> tokens [B, T, C*F]."""
    batch, channels, frames, bins = latents.shape
    return latents.transpose(0, 2, 1, 3).reshape(batch, frames, channels * bins)


def unpatchify_audio(tokens: mx.array, layout: AudioLatentLayout) -> mx.array:
    """tokens [B, T, C*F] -> [B, C, T, F]."""
    batch, frames, features = tokens.shape
    if features != layout.token_channels:
        raise ValueError(f"{features} audio token features cannot form {layout.channels}x{layout.mel_bins} latents.")
    return tokens.reshape(batch, frames, layout.channels, layout.mel_bins).transpose(0, 2, 1, 3)


@dataclass(frozen=True)
class StageKeys:
    """The random keys of one stage: its video noise, its audio noise, its steps."""

    video: mx.array
    audio: mx.array
    steps: mx.array

    @classmethod
    def for_stage(cls, key: mx.array, stage: int) -> StageKeys:
        """Keys of stage `stage` (0-based) of the generation seeded by `key`."""
        stage_key = mx.random.split(key, stage + 1)[stage]
        video, audio, steps = mx.random.split(stage_key, 3)
        return cls(video, audio, steps)

    def step_key(self, step: int, total: int) -> mx.array:
        return mx.random.split(self.steps, total)[step]


def noise_like(key: mx.array, tokens: mx.array) -> mx.array:
    """Standard normal noise of the tokens' shape, float32."""
    return mx.random.normal(tokens.shape, key=key)

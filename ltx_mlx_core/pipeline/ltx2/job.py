"""What one LTX-2 generation asks of the denoising core, checked once before anything runs.

The core takes the prompt's embeddings (the text path's output), conditioning media as
sources that give pixels at any stage's size, and audio latents (the audio VAE's output),
and returns latents. Visual conditions are placed as the reference pipelines place them:

- `Placement.AUTO` (the reference's `combined_image_conditionings`): media at frame 0
  replaces the first latent frames (image to video; the tail of a clip being extended),
  media elsewhere is appended as keyframe tokens;
- `Placement.KEYFRAME` (keyframe interpolation): always appended, at frame 0 too;
- `Placement.REPLACE`: replaces the latent frames from frame / 8 on (frame a multiple of 8).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.ltx2.conditioning import AppendKeyframe, ReplaceAudio, ReplaceLatents
from ltx_mlx_core.pipeline.ltx2.denoise import PromptEmbeddings
from ltx_mlx_core.pipeline.ltx2.guidance import DevGuidance
from ltx_mlx_core.pipeline.ltx2.latents import VIDEO_LATENT_CHANNELS, AudioLatentLayout, VideoShape

# (height, width) -> pixels [1, 8k+1, height, width, 3] in [-1, 1], prepared for that size.
MediaSource = Callable[[int, int], mx.array]
# Pixels [1, 8k+1, H, W, 3] -> normalised latents [1, k+1, H/32, W/32, C].
LatentEncoder = Callable[[mx.array], mx.array]
FRAMES_PER_LATENT = 8


class Placement(Enum):
    AUTO = "auto"
    KEYFRAME = "keyframe"
    REPLACE = "replace"


@dataclass(frozen=True)
class VisualCondition:
    """An image (one frame) or a clip (8k+1 frames) starting at pixel frame `frame`."""

    source: MediaSource
    frame: int = 0
    strength: float = 1.0
    placement: Placement = Placement.AUTO

    def latent_item(self, height: int, width: int, encode: LatentEncoder) -> ReplaceLatents | AppendKeyframe:
        pixels = self.source(height, width)
        if pixels.ndim != 5 or tuple(pixels.shape[2:]) != (height, width, 3) or pixels.shape[1] % 8 != 1:
            raise InvalidRequest(
                f"Conditioning media must come as [1, 8k+1, {height}, {width}, 3] pixels; got {tuple(pixels.shape)}."
            )
        latents = encode(pixels)
        if self.placement is Placement.KEYFRAME or (self.placement is Placement.AUTO and self.frame != 0):
            return AppendKeyframe(latents, self.frame, self.strength)
        return ReplaceLatents(latents, self.frame // FRAMES_PER_LATENT, self.strength)


@dataclass(frozen=True)
class AudioCondition:
    """Audio latents [1, C, t, F] held from audio latent frame `frame` on (25 per second)."""

    latents: mx.array
    frame: int = 0
    strength: float = 1.0

    def latent_item(self) -> ReplaceAudio:
        return ReplaceAudio(self.latents, self.frame, self.strength)


@dataclass(frozen=True)
class LTX2Job:
    num_frames: int
    height: int
    width: int
    fps: float
    seed: int
    positive: PromptEmbeddings
    negative: PromptEmbeddings | None = None
    visual: tuple[VisualCondition, ...] = ()
    audio: tuple[AudioCondition, ...] = ()
    audio_layout: AudioLatentLayout = AudioLatentLayout()
    latent_channels: int = VIDEO_LATENT_CHANNELS

    @property
    def shape(self) -> VideoShape:
        return VideoShape(self.num_frames, self.height, self.width)

    @property
    def audio_frames(self) -> int:
        return self.audio_layout.frames_for(self.num_frames, self.fps)

    def key(self) -> mx.array:
        return mx.random.key(self.seed)


def check_job(job: LTX2Job, side_multiple: int, guidance: list[DevGuidance | None]) -> None:
    """Every constraint of the request the model does not decide, with what to change: sizes (multiples of
    `side_multiple`: 64 when a half-size first stage runs), 8k+1 frames, conditioning inside the clip, the
    negative prompt guidance needs. (Whether the model takes sound is checked when a stage gets it.)"""
    if job.num_frames < 1 or job.num_frames % FRAMES_PER_LATENT != 1:
        raise InvalidRequest(f"The frame count must be 8k+1 (9, 17, ..., 121); got {job.num_frames}.")
    if job.height % side_multiple or job.width % side_multiple or min(job.height, job.width) < side_multiple:
        raise InvalidRequest(
            f"Width and height must be positive multiples of {side_multiple} for this pipeline; "
            f"got {job.width}x{job.height}."
        )
    if job.fps <= 0:
        raise InvalidRequest(f"The frame rate must be positive; got {job.fps}.")
    for condition in job.visual:
        if not 0 <= condition.frame < job.num_frames:
            raise InvalidRequest(
                f"A conditioning item at frame {condition.frame} falls outside the clip's frames 0-{job.num_frames - 1}."
            )
        if condition.placement is Placement.REPLACE and condition.frame % FRAMES_PER_LATENT:
            raise InvalidRequest(
                f"Media replacing latent frames must start on a multiple of 8 frames; {condition.frame} is not."
            )
        if not 0.0 <= condition.strength <= 1.0:
            raise InvalidRequest(f"A conditioning strength must be between 0 and 1; got {condition.strength}.")
    for condition in job.audio:
        if not 0 <= condition.frame < job.audio_frames:
            raise InvalidRequest(
                f"Audio conditioning from latent frame {condition.frame} starts outside the clip's "
                f"{job.audio_frames} audio latent frames."
            )
    if any(g is not None and g.uses_negative() for g in guidance) and job.negative is None:
        raise InvalidRequest("Classifier-free guidance needs a negative prompt's embeddings.")

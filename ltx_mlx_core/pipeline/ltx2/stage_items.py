"""Conditioning that belongs to one stage of a recipe rather than to the whole job.

A job's visual and audio conditions are placed in every stage (images, keyframes, held
sound). Some conditioning is a stage's own: IC-LoRA's reference (control) tokens go into the
first stage only, as ltx-pipelines' `ICLoraPipeline` places them, and retake's time-region
mask shapes the one stage it runs. A `StagePlan` carries such items; the stage applies each
one's `apply_video` after the job's visual conditions (encoding media through the stage's
video VAE, before the transformer is asked for) and its `apply_audio` after the job's audio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import mlx.core as mx

from ltx_mlx_core.pipeline.ltx2.conditioning import TokenState

# Pixels [1, 8k+1, H, W, 3] in [-1, 1] -> normalised latents [1, k+1, H/32, W/32, C].
PixelEncoder = Callable[[mx.array], mx.array]


@dataclass(frozen=True)
class StageGeometry:
    """What a stage item sees of its stage: the pixel size, the latent grid, the frame rate, the encoder."""

    height: int
    width: int
    grid: tuple[int, int, int]  # latent frames, rows, columns of the clip itself
    fps: float
    encode: PixelEncoder  # the stage's video VAE (loaded when first called)


class StageItem(Protocol):
    """Conditioning one stage applies to its token states before noise is mixed in."""

    def apply_video(self, state: TokenState, stage: StageGeometry) -> TokenState: ...

    def apply_audio(self, state: TokenState) -> TokenState: ...

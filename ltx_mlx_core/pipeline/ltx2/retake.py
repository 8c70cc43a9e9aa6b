"""Retake for the LTX-2 family: regenerate the stretch [start, end) seconds of an existing clip, picture and
sound, with a new prompt, holding the rest as it was, as ltx-pipelines' `RetakePipeline` runs it.

The clip is encoded (the video VAE here; its audio latents come from the audio VAE, trimmed or padded
with zeros to the clip's audio length) and the encoded latents are the stage's initial latents. A
time-region mask then sets each token's denoise mask by its time bounds (the positions the transformer
reads: seconds, the causal first frame included): 1 where the token's span overlaps [start, end), 0
elsewhere. Noise enters only masked tokens, and tokens at 0 are predicted as their clean values, so the
latents outside the region come back exactly as encoded. The region is snapped outwards to whole latent
frames: a video latent frame covers 8 pixel frames, an audio one 40 ms (`regenerated_frames` gives the
pixel frames that change). One stage at the clip's size: distilled (its sigmas, no guidance) or dev
(LTX2Scheduler's sigmas, guided).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import mlx.core as mx
import numpy as np

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.ltx2.positions import video_positions
from ltx_mlx_core.pipeline.decode import encode_video
from ltx_mlx_core.pipeline.events import StageStarted, StepDone
from ltx_mlx_core.pipeline.ltx2.conditioning import TokenState
from ltx_mlx_core.pipeline.ltx2.guidance import DevGuidance
from ltx_mlx_core.pipeline.ltx2.job import LTX2Job, MediaSource, check_job
from ltx_mlx_core.pipeline.ltx2.schedule import DISTILLED_SIGMAS, dev_sigmas
from ltx_mlx_core.pipeline.ltx2.stage_items import StageGeometry
from ltx_mlx_core.pipeline.ltx2.stages import (
    LTX2Latents,
    MediaModels,
    StageFinished,
    StagePlan,
    TransformerProvider,
    iter_stage,
)

Span = tuple[float, float]  # [start, end) in seconds


@dataclass(frozen=True)
class Retake:
    """What a retake job adds: the clip, the stretch to regenerate, and which streams change there."""

    clip: MediaSource  # the clip's pixels at the job's size: [1, num_frames, H, W, 3] in [-1, 1]
    start: float  # seconds, inclusive
    end: float  # seconds, exclusive
    audio: mx.array | None = None  # the clip's audio latents [1, C, t, F] (audio VAE); None: a silent clip
    regenerate_video: bool = True  # False: the picture is kept whole
    regenerate_audio: bool = True  # False: the sound is kept whole


def in_span(positions: mx.array, tokens: int, span: Span) -> mx.array:
    """[B, tokens] float32: 1 where a token's time bounds (axis 0 of [B, axes, T, 2] positions) overlap the span."""
    times = positions[:, 0, :tokens]
    start, end = mx.array(np.float32(span[0])), mx.array(np.float32(span[1]))
    return ((times[..., 1] > start) & (times[..., 0] < end)).astype(mx.float32)


def _masked(state: TokenState, span: Span) -> TokenState:
    target = state.target_tokens
    region = in_span(state.positions, target, span)
    return replace(state, denoise_mask=mx.concatenate([region, state.denoise_mask[:, target:]], axis=1))


@dataclass(frozen=True)
class RetakeRegion:
    """Stage item: the clip's own tokens regenerated inside a span and held outside it; a stream whose span is
    None is left as it is (fully generated: the silent clip's sound)."""

    video: Span | None
    audio: Span | None

    def apply_video(self, state: TokenState, stage: StageGeometry) -> TokenState:
        return state if self.video is None else _masked(state, self.video)

    def apply_audio(self, state: TokenState) -> TokenState:
        return state if self.audio is None else _masked(state, self.audio)


def regenerated_frames(job: LTX2Job, start: float, end: float) -> tuple[int, int]:
    """The pixel frames [first, stop) a retake of [start, end) seconds changes (whole latent frames);
    (0, 0) when no latent frame overlaps."""
    frames = job.shape.grid[0]
    positions = video_positions(1, frames, 1, 1, job.fps)
    region = np.array(in_span(positions, frames, (start, end)))[0].astype(bool)
    if not region.any():
        return 0, 0
    first, last = np.flatnonzero(region)[[0, -1]]
    # Latent frame 0 holds pixel frame 0; latent frame f >= 1 holds pixel frames 8f - 7 .. 8f.
    return (0 if first == 0 else 8 * int(first) - 7), 8 * int(last) + 1


def fit_audio(latents: mx.array, frames: int) -> mx.array:
    """Audio latents [1, C, t, F] cut or padded with zeros to `frames` (the reference's retake does the same)."""
    have = latents.shape[2]
    if have >= frames:
        return latents[:, :, :frames]
    pad = mx.zeros((*latents.shape[:2], frames - have, latents.shape[3]), dtype=latents.dtype)
    return mx.concatenate([latents, pad], axis=2)


def retake_plan(
    job: LTX2Job, transformer: TransformerProvider, guidance: DevGuidance | None = None, steps: int = 40
) -> StagePlan:
    """The one retake stage at the clip's size: distilled sigmas unguided, or with `guidance` `steps` dev steps."""
    if guidance is None:
        return StagePlan("retake", job.height, job.width, DISTILLED_SIGMAS, transformer)
    return StagePlan("retake", job.height, job.width, dev_sigmas(steps), transformer, guidance)


def check_retake(job: LTX2Job, retake: Retake) -> None:
    duration = job.num_frames / job.fps
    if not retake.start < retake.end:
        raise InvalidRequest(f"A retake's start ({retake.start} s) must come before its end ({retake.end} s).")
    if retake.start >= duration or retake.end <= 0:
        raise InvalidRequest(
            f"The retake [{retake.start}, {retake.end}) s falls outside the clip's {duration:.3f} seconds."
        )
    if job.visual or job.audio:
        raise InvalidRequest("A retake takes its conditioning from the clip itself; leave out other media.")


def iter_retake(
    job: LTX2Job, retake: Retake, plan: StagePlan, media: MediaModels
) -> Iterator[StageStarted | StepDone | StageFinished]:
    """Encode the clip, regenerate [start, end) of it in one stage; StageFinished carries the whole clip's
    latents (outside the region exactly as encoded).

    The job describes the clip: its frames, size and frame rate, the new prompt (and negative prompt for a
    guided plan), the seed.
    """
    check_job(job, 32, [plan.guidance])
    check_retake(job, retake)
    pixels = retake.clip(job.height, job.width)
    if tuple(pixels.shape) != (1, job.num_frames, job.height, job.width, 3):
        raise InvalidRequest(
            f"The clip to retake must come as [1, {job.num_frames}, {job.height}, {job.width}, 3] pixels; "
            f"got {tuple(pixels.shape)}."
        )
    video = encode_video(media.vae_that_encodes(), pixels, tiling=media.encode_tiling)
    audio = None if retake.audio is None else fit_audio(retake.audio, job.audio_frames)
    span = (retake.start, retake.end)
    region = RetakeRegion(
        video=span if retake.regenerate_video else (0.0, 0.0),
        # A silent clip's sound is generated whole (there is nothing to hold).
        audio=None if audio is None else (span if retake.regenerate_audio else (0.0, 0.0)),
    )
    yield from iter_stage(job, replace(plan, items=plan.items + (region,)), 0, 1, media, LTX2Latents(video, audio))

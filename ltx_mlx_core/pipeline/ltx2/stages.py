"""The LTX-2 family's stage recipes as generators of events, as ltx-pipelines runs them.

- Distilled two-stage (`DistilledPipeline`): stage 1 at half the size over the distilled
  sigmas, the video latents upsampled x2, stage 2 at full size re-noised to the first
  stage-2 sigma and refined; video and audio are denoised together in both.
- Dev two-stage (`TI2VidTwoStagesPipeline`, `KeyframeInterpolationPipeline`,
  `A2VidPipelineTwoStage`): stage 1 with multi-modal guidance over LTX2Scheduler's sigmas,
  stage 2 unguided over the stage-2 distilled sigmas with its own transformer (the dev
  model with the distilled LoRA: each stage takes a transformer provider).
- Dev one-stage (`TI2VidOneStagePipeline`): one guided stage at full size.

Each stage yields StageStarted, one StepDone per denoising step (after the step's single
`mx.eval`) followed by StepLatents for a live preview, and StageFinished with its latents (what
a stage checkpoint stores); a two-stage run resumes from given stage-1 latents. Components come from providers called when a
stage needs them, so the caller decides what stays loaded.

With step-cache settings (`step_cache_settings(request.step_cache, "ltx2")`) each denoising
stage gets a fresh cache (a resumed run recomputes its first step): StepDone says whether the
step reused the blocks' residual and how many steps of the stage did so far, and StageFinished
carries the cache's summary for the sidecar.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.models.common.patchify import unpatchify
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.models.ltx2.upsampler import LatentUpsampler
from ltx_mlx_core.models.ltx2.video_vae import VideoAutoencoder
from ltx_mlx_core.pipeline.decode import TilingConfig, encode_video
from ltx_mlx_core.pipeline.events import StageStarted, StepDone
from ltx_mlx_core.pipeline.ltx2.conditioning import TokenState, audio_state, noised, video_state
from ltx_mlx_core.pipeline.ltx2.denoise import iter_denoise
from ltx_mlx_core.pipeline.ltx2.guidance import DevGuidance
from ltx_mlx_core.pipeline.ltx2.job import LTX2Job, check_job
from ltx_mlx_core.pipeline.ltx2.latents import StageKeys, noise_like, unpatchify_audio
from ltx_mlx_core.pipeline.ltx2.schedule import (
    DISTILLED_SIGMAS,
    STAGE_2_DISTILLED_SIGMAS,
    AncestralStep,
    check_sigmas,
    dev_sigmas,
)
from ltx_mlx_core.pipeline.ltx2.stage_items import StageGeometry, StageItem
from ltx_mlx_core.pipeline.step_cache_ltx2 import LTX2StepCache
from ltx_mlx_core.pipeline.step_cache_rules import StepCacheSettings
from ltx_mlx_core.pipeline.upsample_tiled import UpsampleTiling, iter_upsample_tiled

TransformerProvider = Callable[[], LTX2Transformer]


@dataclass(frozen=True)
class LTX2Latents:
    """Normalised video latents [1, F, H, W, C] and audio latents [1, C, T, F] (None from a video-only model)."""

    video: mx.array
    audio: mx.array | None


@dataclass(frozen=True)
class StageFinished:
    name: str
    index: int
    latents: LTX2Latents
    # What the step cache did in this stage (`StepCache.summary`'s fields); None without one.
    step_cache: dict | None = None


@dataclass(frozen=True)
class StepLatents:
    """The video latents [1, F, H, W, C] after a denoising step (evaluated): what a live preview shows."""

    name: str
    step: int
    video: mx.array


StageEvent = StageStarted | StepDone | StepLatents | StageFinished


@dataclass(frozen=True)
class MediaModels:
    """The video VAE (encodes conditioning media; its statistics frame the upsampler) and the x2 upsampler."""

    vae: Callable[[], VideoAutoencoder]
    upsampler: Callable[[], LatentUpsampler] | None = None
    encode_tiling: TilingConfig | None = None
    upsample_tiling: UpsampleTiling | None = None
    # The VAE with its encoder, where `vae` may come without one (a text-to-video run drops it).
    encoding_vae: Callable[[], VideoAutoencoder] | None = None

    def vae_that_encodes(self) -> VideoAutoencoder:
        return (self.encoding_vae or self.vae)()


@dataclass(frozen=True)
class StagePlan:
    name: str
    height: int
    width: int
    sigmas: tuple[float, ...]
    transformer: TransformerProvider
    guidance: DevGuidance | None = None  # None: the conditional pass alone (distilled sigmas)
    noise_scale: float = 1.0  # < 1: the initial latents are re-noised to this level (stage 2)
    ancestral: AncestralStep | None = None  # None: Euler steps
    # This stage's own conditioning (IC-LoRA reference tokens, a retake's region), after the job's.
    items: tuple[StageItem, ...] = ()


def distilled_plans(
    job: LTX2Job,
    transformer: TransformerProvider,
    stage_2_transformer: TransformerProvider | None = None,
    ancestral: AncestralStep | None = None,
) -> tuple[StagePlan, StagePlan]:
    """The distilled two-stage recipe; with `ancestral`, stage 1 takes Euler-ancestral steps (diffusers'
    `LTXEulerAncestralRFScheduler`) instead of Euler ones."""
    first = StagePlan("first_pass", job.height // 2, job.width // 2, DISTILLED_SIGMAS, transformer, ancestral=ancestral)
    return first, _refine_plan(job, stage_2_transformer or transformer)


def dev_plans(
    job: LTX2Job,
    transformer: TransformerProvider,
    stage_2_transformer: TransformerProvider,
    steps: int,
    guidance: DevGuidance,
) -> tuple[StagePlan, StagePlan]:
    """The dev two-stage recipe: guided stage 1 at half size, stage 2 by `stage_2_transformer` (the distilled LoRA)."""
    first = StagePlan("first_pass", job.height // 2, job.width // 2, dev_sigmas(steps), transformer, guidance)
    return first, _refine_plan(job, stage_2_transformer)


def dev_one_stage_plan(job: LTX2Job, transformer: TransformerProvider, steps: int, guidance: DevGuidance) -> StagePlan:
    return StagePlan("denoise", job.height, job.width, dev_sigmas(steps), transformer, guidance)


def _refine_plan(job: LTX2Job, transformer: TransformerProvider) -> StagePlan:
    sigmas = STAGE_2_DISTILLED_SIGMAS
    return StagePlan("second_pass", job.height, job.width, sigmas, transformer, noise_scale=sigmas[0])


def iter_two_stage(
    job: LTX2Job,
    first: StagePlan,
    second: StagePlan,
    media: MediaModels,
    first_result: LTX2Latents | None = None,
    step_cache: StepCacheSettings | None = None,
) -> Iterator[StageEvent]:
    """Stage 1, the x2 upsample, stage 2; with `first_result` (a stage checkpoint) stage 1 is not run again.
    `step_cache` applies to both denoising stages, each with its own cache."""
    check_job(job, 64, [first.guidance, second.guidance])
    if media.upsampler is None:
        raise ValueError("A two-stage recipe needs the spatial upsampler.")
    if first_result is None:
        first_result = yield from iter_stage(job, first, 0, 3, media, step_cache=step_cache)
    upsampled = yield from iter_upsample(first_result, media, 1, 3)
    yield from iter_stage(job, second, 2, 3, media, initial=upsampled, step_cache=step_cache)


def iter_one_stage(
    job: LTX2Job,
    plan: StagePlan,
    media: MediaModels | None,
    step_cache: StepCacheSettings | LTX2StepCache | None = None,
) -> Iterator[StageEvent]:
    check_job(job, 32, [plan.guidance])
    yield from iter_stage(job, plan, 0, 1, media, step_cache=step_cache)


def final_latents(events: Iterator[object]) -> LTX2Latents:
    """Drain a recipe's events; the last stage's latents."""
    result = None
    for event in events:
        if isinstance(event, StageFinished):
            result = event.latents
    if result is None:
        raise ValueError("The recipe finished without a stage result.")
    return result


def iter_stage(
    job: LTX2Job,
    plan: StagePlan,
    index: int,
    total: int,
    media: MediaModels | None,
    initial: LTX2Latents | None = None,
    step_cache: StepCacheSettings | LTX2StepCache | None = None,
) -> Iterator[StageEvent]:
    """One denoising stage at the plan's size; returns (and announces in StageFinished) its latents.

    `step_cache`: settings (the stage makes a fresh cache), or a cache made for this stage alone
    (to read what it measured afterwards, e.g. a MagCache calibration).

    Conditioning media is encoded before the transformer is asked for (the reference frees the VAE
    encoder first); the audio stream runs when the transformer has one.
    """
    check_sigmas(plan.sigmas)
    yield StageStarted(plan.name, index, total, f"{plan.width}x{plan.height}, {len(plan.sigmas) - 1} steps")
    video, grid = _video_tokens(job, plan, media, initial)
    transformer = plan.transformer()
    _check_transformer(job, transformer)
    audio = _audio_tokens(job, plan, initial) if transformer.config.has_audio else None
    keys = StageKeys.for_stage(job.key(), index)
    video = noised(video, noise_like(keys.video, video.latent), plan.noise_scale)
    if audio is not None:
        audio = noised(audio, noise_like(keys.audio, audio.latent), plan.noise_scale)
    cache = step_cache
    if isinstance(step_cache, StepCacheSettings):
        cache = LTX2StepCache(step_cache, len(plan.sigmas) - 1)
    started = time.monotonic()
    steps = iter_denoise(
        transformer,
        video,
        audio,
        plan.sigmas,
        job.positive,
        job.negative,
        plan.guidance,
        plan.ancestral,
        keys,
        cache,
    )
    skipped = 0
    for step in steps:
        mx.eval(*step.pending)
        video, audio = step.video, step.audio
        elapsed = time.monotonic() - started
        done = step.index + 1
        cached = step.cache is not None and step.cache.skipped
        skipped += cached
        eta = elapsed / done * (step.total - done)
        yield StepDone(plan.name, done, step.total, elapsed, eta, cached=cached, skipped=skipped)
        yield StepLatents(plan.name, done, unpatchify(video.generated(), grid))
    latents = LTX2Latents(
        unpatchify(video.generated(), grid),
        None if audio is None else unpatchify_audio(audio.generated(), job.audio_layout),
    )
    yield StageFinished(plan.name, index, latents, None if cache is None else cache.summary())
    return latents


def _check_transformer(job: LTX2Job, transformer: LTX2Transformer) -> None:
    config = transformer.config
    if config.in_channels != job.latent_channels:
        raise ValueError(
            f"The transformer takes {config.in_channels} video latent channels; the job has {job.latent_channels}."
        )
    if not config.has_audio:
        if job.audio:
            raise InvalidRequest("This model makes silent video; it cannot be conditioned on audio.")
        return
    if job.positive.audio is None:
        raise InvalidRequest("This model makes sound: the prompt's audio embeddings are needed.")
    if config.audio_in_channels != job.audio_layout.token_channels:
        raise ValueError(
            f"The transformer takes {config.audio_in_channels} audio features per token; the audio latents "
            f"have {job.audio_layout.token_channels}."
        )


def _video_tokens(
    job: LTX2Job, plan: StagePlan, media: MediaModels | None, initial: LTX2Latents | None
) -> tuple[TokenState, tuple[int, int, int]]:
    """The video tokens at the plan's size with the job's visual conditioning and the plan's items applied,
    before noise."""
    grid = job.shape.scaled(plan.height, plan.width).grid
    video = video_state(1, grid, job.fps, None if initial is None else initial.video, job.latent_channels)
    if not job.visual and not plan.items:
        return video, grid
    vae: list[VideoAutoencoder] = []

    def encode(pixels: mx.array) -> mx.array:
        if media is None:
            raise ValueError("Conditioning media needs the video VAE to encode it.")
        if not vae:
            vae.append(media.vae_that_encodes())
        return encode_video(vae[0], pixels, tiling=media.encode_tiling)

    for condition in job.visual:
        video = condition.latent_item(plan.height, plan.width, encode).apply(video, grid, job.fps)
    geometry = StageGeometry(plan.height, plan.width, grid, job.fps, encode)
    for item in plan.items:
        video = item.apply_video(video, geometry)
    return video, grid


def _audio_tokens(job: LTX2Job, plan: StagePlan, initial: LTX2Latents | None) -> TokenState:
    audio = audio_state(1, job.audio_frames, job.audio_layout, None if initial is None else initial.audio)
    for condition in job.audio:
        audio = condition.latent_item().apply(audio)
    for item in plan.items:
        audio = item.apply_audio(audio)
    return audio


def iter_upsample(latents: LTX2Latents, media: MediaModels, index: int, total: int) -> Iterator[StageEvent]:
    """The video latents x2 in space (un-normalised around the upsampler, as the reference's `upsample_video`)."""
    yield StageStarted("upsample", index, total)
    vae, upsampler = media.vae(), media.upsampler()
    # In the upsampler's dtype, as the reference's bf16 latents reach it; the result comes back in ours.
    raw = vae.denormalize_latents(latents.video).astype(upsampler.dtype)
    started = time.monotonic()
    result = None
    for step in iter_upsample_tiled(upsampler, raw, media.upsample_tiling):
        mx.eval(*step.pending)
        result = step.result if step.result is not None else result
        elapsed = time.monotonic() - started
        yield StepDone("upsample", step.index, step.count, elapsed, elapsed / step.index * (step.count - step.index))
    video = vae.normalize_latents(result.astype(latents.video.dtype))
    mx.eval(video)
    upsampled = LTX2Latents(video, latents.audio)
    yield StageFinished("upsample", index, upsampled)
    return upsampled

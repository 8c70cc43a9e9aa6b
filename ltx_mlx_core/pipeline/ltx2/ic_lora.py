"""IC-LoRA control for the LTX-2 family: a control video (depth, pose, edges, motion tracks) guiding a
generation as in-context reference tokens, as ltx-pipelines' `ICLoraPipeline` runs it.

- The control clip is encoded by the video VAE at the first stage's size divided by the LoRA's
  `reference_downscale_factor` (safetensors metadata; IC-LoRAs trained on smaller references
  store it) and its tokens are appended after the clip's, with their spatial positions scaled
  back up by that factor so they line up with the clip's pixels (ltx-core's
  `VideoConditionByReferenceLatent`). The tokens are held clean by `strength` (1: never
  denoised) and are dropped after denoising.
- `attention` (the reference's conditioning attention strength, optionally times a pixel-space
  mask) weighs the attention between the clip's tokens and the reference tokens in both
  directions (ltx-core's `ConditioningItemAttentionStrengthWrapper`); other conditioning
  tokens never attend to the reference tokens.
- The IC-LoRA is fused into the transformer for the first stage only and removed before the
  second, which refines the upsampled latents with the plain distilled model and the job's
  image conditions alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import mlx.core as mx

from ltx_mlx_core.errors import CheckpointError, InvalidRequest, LoraError
from ltx_mlx_core.models.common.lora import AppliedLoras
from ltx_mlx_core.models.common.patchify import patchify
from ltx_mlx_core.models.ltx2.positions import video_positions
from ltx_mlx_core.models.ltx2.transformer import LTX2Transformer
from ltx_mlx_core.pipeline.events import StageStarted, StepDone
from ltx_mlx_core.pipeline.ltx2.conditioning import TokenState
from ltx_mlx_core.pipeline.ltx2.job import FRAMES_PER_LATENT, LTX2Job, MediaSource, check_job
from ltx_mlx_core.pipeline.ltx2.stage_items import StageGeometry
from ltx_mlx_core.pipeline.ltx2.stages import (
    LTX2Latents,
    MediaModels,
    StageFinished,
    StagePlan,
    TransformerProvider,
    distilled_plans,
    iter_stage,
    iter_upsample,
)
from ltx_mlx_core.weights.lora_mapping import (
    LTX2_TEXT_PATH,
    LoraSpec,
    apply_lora_files,
    ltx2_transformer_component,
)
from ltx_mlx_core.weights.safetensors_io import read_header

DOWNSCALE_METADATA_KEY = "reference_downscale_factor"
# (height, width) -> weights [1, 8k+1, height, width] in [0, 1] over the control clip's pixels.
MaskSource = Callable[[int, int], mx.array]


@dataclass(frozen=True)
class ControlVideo:
    """A control clip (8k+1 frames, at most the job's) given as pixels at any size asked of it."""

    source: MediaSource
    strength: float = 1.0  # 1: the reference tokens stay clean; below, they are partly denoised too
    attention: float = 1.0  # how strongly the clip and the reference attend to each other, 0..1
    attention_mask: MaskSource | None = None  # per-pixel weights, times `attention`


def reference_downscale_factor(paths: Sequence[str | Path]) -> int:
    """The reference downscale factor the IC-LoRA files were trained with (1 where none says)."""
    factor = 1
    for path in paths:
        try:
            metadata = read_header(path).metadata
        except CheckpointError as error:
            raise LoraError(f"The LoRA file '{path}' cannot be read: {error}") from None
        raw = metadata.get(DOWNSCALE_METADATA_KEY, "1")
        try:
            value = int(raw)
        except ValueError:
            raise LoraError(
                f"The LoRA file '{path}' gives {DOWNSCALE_METADATA_KEY} = {raw!r}; not a whole number."
            ) from None
        if value < 1:
            raise LoraError(f"The LoRA file '{path}' gives {DOWNSCALE_METADATA_KEY} = {value}; it must be >= 1.")
        if value != 1 and factor not in (1, value):
            raise LoraError(
                f"The IC-LoRA files disagree on their reference size: '{path}' wants references 1/{value} of the "
                f"output's size, another 1/{factor}. Use IC-LoRAs trained with the same reference size together."
            )
        factor = value if value != 1 else factor
    return factor


@dataclass(frozen=True)
class ICLoraControl:
    """What an IC-LoRA generation adds to a job: the control clip(s) and the IC-LoRA file(s) behind them."""

    videos: tuple[ControlVideo, ...]
    loras: tuple[LoraSpec, ...]  # fused into the first stage's transformer
    downscale: int = 1  # the LoRAs' reference downscale factor

    @classmethod
    def from_files(cls, videos: Sequence[ControlVideo], loras: Sequence[LoraSpec]) -> ICLoraControl:
        return cls(tuple(videos), tuple(loras), reference_downscale_factor([spec.path for spec in loras]))


@dataclass(frozen=True)
class ReferenceControl:
    """Stage item: one control clip appended as reference tokens (video only)."""

    video: ControlVideo
    downscale: int = 1
    max_frames: int | None = None  # the clip's pixel frames: a control clip may not run past them

    def apply_video(self, state: TokenState, stage: StageGeometry) -> TokenState:
        check_control(self.video, stage.height, stage.width, self.downscale)
        height, width = stage.height // self.downscale, stage.width // self.downscale
        pixels = self.video.source(height, width)
        frames = pixels.shape[1] if pixels.ndim == 5 else 0
        if pixels.ndim != 5 or tuple(pixels.shape[2:]) != (height, width, 3) or frames % FRAMES_PER_LATENT != 1:
            raise InvalidRequest(
                f"A control video must come as [1, 8k+1, {height}, {width}, 3] pixels; got {tuple(pixels.shape)}."
            )
        if self.max_frames is not None and frames > self.max_frames:
            raise InvalidRequest(
                f"The control video has {frames} frames; the clip has {self.max_frames}. Trim it to the clip."
            )
        latents = stage.encode(pixels)
        cross = self._cross_weights(latents.shape[1:4], height, width)
        return append_reference(state, latents, stage.fps, self.downscale, self.video.strength, cross)

    def apply_audio(self, state: TokenState) -> TokenState:
        return state

    def _cross_weights(self, latent_grid: tuple[int, int, int], height: int, width: int) -> mx.array | None:
        """[1, M] attention weights of the reference tokens, None for full attention without a mask."""
        if self.video.attention_mask is None:
            if self.video.attention >= 1.0:
                return None
            frames, rows, cols = latent_grid
            return mx.full((1, frames * rows * cols), self.video.attention, dtype=mx.float32)
        mask = self.video.attention_mask(height, width)
        return latent_mask(mask, latent_grid) * self.video.attention


def check_control(video: ControlVideo, height: int, width: int, downscale: int) -> None:
    if not 0.0 <= video.strength <= 1.0:
        raise InvalidRequest(f"A control video's strength must be between 0 and 1; got {video.strength}.")
    if not 0.0 <= video.attention <= 1.0:
        raise InvalidRequest(f"A control video's attention strength must be between 0 and 1; got {video.attention}.")
    if downscale < 1 or height % downscale or width % downscale:
        raise InvalidRequest(
            f"The IC-LoRA wants references 1/{downscale} of the size; {width}x{height} does not divide by it."
        )


def latent_mask(mask: mx.array, latent_grid: tuple[int, int, int]) -> mx.array:
    """Pixel weights [1, F, H, W] -> [1, f*h*w] per latent token: area means in space; in time the first
    frame alone (the causal VAE encodes it by itself), then means over each latent frame's pixel frames."""
    frames, rows, cols = latent_grid
    if mask.ndim != 4 or mask.shape[2] % rows or mask.shape[3] % cols:
        raise InvalidRequest(
            f"An attention mask must be [1, frames, H, W] with sides that divide into {rows}x{cols}; "
            f"got {tuple(mask.shape)}."
        )
    batch, pixel_frames, height, width = mask.shape
    spatial = mask.astype(mx.float32).reshape(batch, pixel_frames, rows, height // rows, cols, width // cols)
    spatial = spatial.mean(axis=(3, 5))
    parts = [spatial[:, :1]]
    if pixel_frames > 1 and frames > 1:
        if (pixel_frames - 1) % (frames - 1):
            raise InvalidRequest(
                f"An attention mask of {pixel_frames} frames does not fit a control clip of {frames} latent frames."
            )
        step = (pixel_frames - 1) // (frames - 1)
        parts.append(spatial[:, 1:].reshape(batch, frames - 1, step, rows, cols).mean(axis=2))
    return mx.concatenate(parts, axis=1).reshape(batch, -1)


def append_reference(
    state: TokenState,
    latents: mx.array,
    fps: float,
    downscale: int,
    strength: float,
    cross: mx.array | None,
) -> TokenState:
    """Reference latents [1, f, h, w, C] appended as tokens at the clip's own times, their pixel positions
    scaled by `downscale`; `cross` [1, M] weighs their attention with the clip's tokens (None: full)."""
    batch = state.latent.shape[0]
    count, rows, cols = latents.shape[1:4]
    tokens = mx.broadcast_to(
        patchify(latents).astype(state.latent.dtype), (batch, count * rows * cols, latents.shape[-1])
    )
    added = tokens.shape[1]
    positions = video_positions(batch, count, rows, cols, fps)
    if downscale != 1:
        positions = mx.concatenate([positions[:, :1], positions[:, 1:] * float(downscale)], axis=1)
    attention = state.attention_mask
    if cross is not None or attention is not None:
        weights = mx.ones((batch, added)) if cross is None else mx.broadcast_to(cross, (batch, added))
        attention = grow_attention(attention, state.latent.shape[1], state.target_tokens, weights)
    keyframes = state.keyframe_mask
    if keyframes is not None:
        # The first latent frame of a clip holds one pixel frame (the causal VAE), the others eight.
        first = mx.concatenate([mx.ones((batch, rows * cols)), mx.zeros((batch, added - rows * cols))], axis=1)
        keyframes = mx.concatenate([keyframes, first.astype(keyframes.dtype)], axis=1)
    return replace(
        state,
        latent=mx.concatenate([state.latent, tokens], axis=1),
        clean=mx.concatenate([state.clean, tokens], axis=1),
        denoise_mask=mx.concatenate(
            [state.denoise_mask, mx.full((batch, added), 1.0 - strength, dtype=mx.float32)], axis=1
        ),
        positions=mx.concatenate([state.positions, positions], axis=2),
        attention_mask=attention,
        keyframe_mask=keyframes,
    )


def grow_attention(existing: mx.array | None, tokens: int, noisy: int, cross: mx.array) -> mx.array:
    """A [B, N+M, N+M] self-attention mask for M new tokens after N (`noisy` of them the clip's own): the
    clip's tokens and the new ones attend to each other by `cross` [B, M], the new ones fully to themselves,
    not at all to or from earlier conditioning tokens; the old block is kept (all ones where there was none)."""
    batch, added = cross.shape
    cross = cross.astype(mx.float32)
    old = mx.ones((batch, tokens, tokens)) if existing is None else existing.astype(mx.float32)
    to_new = mx.concatenate(
        [mx.broadcast_to(cross[:, None, :], (batch, noisy, added)), mx.zeros((batch, tokens - noisy, added))], axis=1
    )
    from_new = mx.concatenate(
        [
            mx.broadcast_to(cross[:, :, None], (batch, added, noisy)),
            mx.zeros((batch, added, tokens - noisy)),
            mx.ones((batch, added, added)),
        ],
        axis=2,
    )
    return mx.concatenate([mx.concatenate([old, to_new], axis=2), from_new], axis=1)


def ic_lora_plans(
    job: LTX2Job,
    transformer: TransformerProvider,
    control: ICLoraControl,
    stage_2_transformer: TransformerProvider | None = None,
) -> tuple[StagePlan, StagePlan]:
    """The distilled two-stage recipe with the control clips as the first stage's reference tokens."""
    first, second = distilled_plans(job, transformer, stage_2_transformer)
    items = tuple(ReferenceControl(video, control.downscale, job.num_frames) for video in control.videos)
    return replace(first, items=first.items + items), second


@dataclass
class _LoraFusedProvider:
    """A transformer provider that fuses LoRAs into the model it hands out, until `remove()`."""

    provider: TransformerProvider
    loras: tuple[LoraSpec, ...]
    applied: list[AppliedLoras] = field(default_factory=list)

    def __call__(self) -> LTX2Transformer:
        model = self.provider()
        if self.loras and not self.applied:
            self.applied.append(apply_lora_files(self.loras, [ltx2_transformer_component(model)], LTX2_TEXT_PATH))
        return model

    def remove(self) -> None:
        while self.applied:
            self.applied.pop().remove()


def iter_ic_lora(
    job: LTX2Job,
    control: ICLoraControl,
    transformer: TransformerProvider,
    media: MediaModels,
    stage_2_transformer: TransformerProvider | None = None,
    first_result: LTX2Latents | None = None,
) -> Iterator[StageStarted | StepDone | StageFinished]:
    """IC-LoRA control, two distilled stages: stage 1 at half size with the IC-LoRA fused into the transformer
    and the control clips as reference tokens, the x2 upsample, stage 2 (the plain model, the job's images).

    `transformer` gives the distilled model (without the IC-LoRA: it is fused here for stage 1 and removed
    after it, also when the run is closed early); `first_result` (a stage checkpoint) skips stage 1.
    """
    if not control.videos:
        raise InvalidRequest("IC-LoRA control needs a control video.")
    if not control.loras:
        raise InvalidRequest("IC-LoRA control needs the IC-LoRA file that was trained for the control video.")
    fused = _LoraFusedProvider(transformer, control.loras)
    # Stage 2 runs the plain model: by default the same one, after the IC-LoRA is removed.
    first, second = ic_lora_plans(job, fused, control, stage_2_transformer or transformer)
    check_job(job, 64, [first.guidance, second.guidance])
    for video in control.videos:
        check_control(video, first.height, first.width, control.downscale)
    if media.upsampler is None:
        raise ValueError("A two-stage recipe needs the spatial upsampler.")
    if first_result is None:
        try:
            first_result = yield from iter_stage(job, first, 0, 3, media)
        finally:
            fused.remove()
    upsampled = yield from iter_upsample(first_result, media, 1, 3)
    yield from iter_stage(job, second, 2, 3, media, initial=upsampled)

"""The joint audio-video denoising loop: a generator of unevaluated states, one per step.

Each step asks the transformer for velocities, turns them into denoised (x0) predictions
with each token's own noise level (sigma x its denoise mask), guides them (dev models),
holds conditioned tokens at their clean values by their mask, and steps both streams to the
next sigma, as ltx-pipelines' `euler_denoising_loop` does. The guidance passes a step needs
run as one batched transformer call where they can (same enabled streams and context
shapes), so a streamed transformer is read once per step; the caller evaluates each yielded
step once (the progress point), and within a step the hidden states are evaluated every few
blocks (`eval_every_blocks`, pipeline/block_eval.py), which bounds the step's activations on a GPU.

With a step cache (pipeline/step_cache_ltx2.py, one per pass) every transformer call goes through
it: each guidance pass is a branch with its own cache state, video and audio decide together,
and each step's record (which passes ran their blocks, which reused their residual) comes with
the step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.models.ltx2.perturbations import Perturbation, Perturbations
from ltx_mlx_core.models.ltx2.transformer import AfterBlock, LTX2Transformer, ModalityInput
from ltx_mlx_core.pipeline.block_eval import block_evaluator
from ltx_mlx_core.pipeline.ltx2.conditioning import TokenState
from ltx_mlx_core.pipeline.ltx2.guidance import (
    UNGUIDED,
    DevGuidance,
    GuiderParams,
    Pass,
    guide,
    pass_perturbations,
    passes_for,
)
from ltx_mlx_core.pipeline.ltx2.latents import StageKeys, noise_like
from ltx_mlx_core.pipeline.ltx2.schedule import AncestralStep, euler_step
from ltx_mlx_core.pipeline.step_cache import StepRecord
from ltx_mlx_core.pipeline.step_cache_ltx2 import LTX2StepCache

# Chunks in flight by default (pipeline/block_eval.py): two. Since block intermediates are freed two
# operations at a time, the second chunk costs the LTX-2.3 22B step 0.04 GiB and saves 4.5 % of its
# time on the H200 (0.3878 s, 36.19 GiB against 0.4060 s, 36.15 GiB; docs/PERFORMANCE.md).
LTX2_IN_FLIGHT = 2


@dataclass(frozen=True)
class PromptEmbeddings:
    """One prompt's contexts for both streams (the text path's output); masks None attend to every token."""

    video: mx.array  # [1, L, D_video]
    audio: mx.array | None = None  # [1, L, D_audio]
    video_mask: mx.array | None = None
    audio_mask: mx.array | None = None


@dataclass(frozen=True)
class DenoiseStep:
    """The states after step `index` (0-based) of `total`, and the guided x0 predictions it stepped with."""

    index: int
    total: int
    video: TokenState
    audio: TokenState | None
    video_denoised: mx.array
    audio_denoised: mx.array | None
    # What the step cache did this step; None without a cache or when the step called no transformer.
    cache: StepRecord | None = None

    @property
    def pending(self) -> list[mx.array]:
        arrays = [self.video.latent, self.video_denoised]
        if self.audio is not None and self.audio_denoised is not None:
            arrays += [self.audio.latent, self.audio_denoised]
        return arrays


@dataclass(frozen=True)
class _Entry:
    """One guidance pass as the transformer sees it."""

    kind: Pass
    video_context: tuple[mx.array, mx.array | None]
    audio_context: tuple[mx.array, mx.array | None] | None
    perturbations: tuple[Perturbation, ...]
    video_enabled: bool
    audio_enabled: bool

    def group_key(self) -> tuple:
        shapes = [tuple(self.video_context[0].shape)]
        if self.audio_context is not None:
            shapes.append(tuple(self.audio_context[0].shape))
        masks = (self.video_context[1] is None, self.audio_context is None or self.audio_context[1] is None)
        return (self.video_enabled, self.audio_enabled, tuple(shapes), masks)


def iter_denoise(
    transformer: LTX2Transformer,
    video: TokenState,
    audio: TokenState | None,
    sigmas: Sequence[float],
    positive: PromptEmbeddings,
    negative: PromptEmbeddings | None = None,
    guidance: DevGuidance | None = None,
    ancestral: AncestralStep | None = None,
    keys: StageKeys | None = None,
    step_cache: LTX2StepCache | None = None,
    eval_every_blocks: int | None = None,
) -> Iterator[DenoiseStep]:
    """Denoise from sigmas[0] to sigmas[-1]; `guidance` None runs the conditional pass alone (distilled).
    `step_cache` (for this pass's len(sigmas) - 1 steps) lets steps reuse the blocks' residual;
    `eval_every_blocks`: the block-boundary evaluation's granularity (None: the default, 0: off)."""
    after_block = block_evaluator(eval_every_blocks, default_in_flight=LTX2_IN_FLIGHT)
    total = len(sigmas) - 1
    if step_cache is not None and step_cache.steps != total:
        raise ValueError(f"the step cache is for {step_cache.steps} steps; this pass has {total}")
    last_video: mx.array | None = None
    last_audio: mx.array | None = None
    for index in range(total):
        sigma, sigma_next = float(sigmas[index]), float(sigmas[index + 1])
        video_params = UNGUIDED if guidance is None else guidance.video.at(sigma)
        audio_params = UNGUIDED if guidance is None or audio is None else guidance.audio.at(sigma)
        skip_video = video_params.skips(index)
        skip_audio = audio is None or audio_params.skips(index)
        if skip_video and skip_audio:
            video_x0, audio_x0 = last_video, last_audio
        else:
            entries = _entries(
                video_params, audio_params, positive, negative, audio is not None, skip_video, skip_audio
            )
            predictions = _predict(transformer, entries, video, audio, sigma, index, step_cache, after_block)
            video_x0 = last_video if skip_video else guide(predictions[0], video_params)
            audio_x0 = last_audio if skip_audio else guide(predictions[1], audio_params)
        last_video, last_audio = video_x0, audio_x0
        step_key = None if keys is None or ancestral is None else keys.step_key(index, total)
        video = _step(video, video_x0, sigma, sigma_next, ancestral, step_key, 0)
        if audio is not None:
            audio = _step(audio, audio_x0, sigma, sigma_next, ancestral, step_key, 1)
        record = None if step_cache is None else step_cache.end_step()
        yield DenoiseStep(index, total, video, audio, video_x0, audio_x0, record)


def _entries(
    video_params: GuiderParams,
    audio_params: GuiderParams,
    positive: PromptEmbeddings,
    negative: PromptEmbeddings | None,
    has_audio: bool,
    skip_video: bool,
    skip_audio: bool,
) -> list[_Entry]:
    entries = []
    for kind in passes_for(video_params, audio_params):
        prompt = positive
        if kind is Pass.UNCONDITIONAL:
            if negative is None:
                raise ValueError("Classifier-free guidance needs the negative prompt's embeddings.")
            # A stream without a negative context keeps its positive one (the reference's guider without one).
            prompt = PromptEmbeddings(
                negative.video if negative.video is not None else positive.video,
                negative.audio if negative.audio is not None else positive.audio,
                negative.video_mask if negative.video is not None else positive.video_mask,
                negative.audio_mask if negative.audio is not None else positive.audio_mask,
            )
        conditional = kind is Pass.CONDITIONAL
        entries.append(
            _Entry(
                kind=kind,
                video_context=(prompt.video, prompt.video_mask),
                audio_context=(prompt.audio, prompt.audio_mask) if has_audio else None,
                perturbations=pass_perturbations(kind, video_params, audio_params),
                # A stream skipping this step sits out the conditional pass (the reference disables it there).
                video_enabled=not (conditional and skip_video),
                audio_enabled=not (conditional and skip_audio),
            )
        )
    return entries


def _predict(
    transformer: LTX2Transformer,
    entries: list[_Entry],
    video: TokenState,
    audio: TokenState | None,
    sigma: float,
    index: int = 0,
    step_cache: LTX2StepCache | None = None,
    after_block: AfterBlock | None = None,
) -> tuple[dict[Pass, mx.array], dict[Pass, mx.array]]:
    """x0 predictions of every pass for each stream, one transformer call per group of batchable passes."""
    groups: dict[tuple, list[_Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.group_key(), []).append(entry)
    video_x0: dict[Pass, mx.array] = {}
    audio_x0: dict[Pass, mx.array] = {}
    for group in groups.values():
        count = len(group)
        video_in = _modality(video, sigma, [e.video_context for e in group], group[0].video_enabled)
        audio_in = None
        if audio is not None:
            audio_in = _modality(audio, sigma, [e.audio_context for e in group], group[0].audio_enabled)
        batch = video.latent.shape[0]
        perturbations = Perturbations(tuple(e.perturbations for e in group for _ in range(batch)))
        if step_cache is None:
            video_v, audio_v = transformer(video_in, audio_in, perturbations, after_block)
        else:
            # Calls of one group key batch the same streams and context shapes from step to step.
            kinds = [e.kind for e in group]
            video_v, audio_v = step_cache(
                transformer, index, group[0].group_key(), kinds, video_in, audio_in, perturbations, after_block
            )
        for entry, part in zip(group, _split(_to_x0(video, video_v, sigma, count), count)):
            video_x0[entry.kind] = part
        if audio is not None:
            for entry, part in zip(group, _split(_to_x0(audio, audio_v, sigma, count), count)):
                audio_x0[entry.kind] = part
    return video_x0, audio_x0


def _split(x: mx.array, count: int) -> list[mx.array]:
    return [x] if count == 1 else mx.split(x, count, axis=0)


def _repeat(x: mx.array | None, count: int) -> mx.array | None:
    if x is None or count == 1:
        return x
    return mx.concatenate([x] * count, axis=0)


def _modality(
    state: TokenState, sigma: float, contexts: list[tuple[mx.array, mx.array | None]], enabled: bool
) -> ModalityInput:
    count, batch = len(contexts), state.latent.shape[0]
    context = mx.concatenate([mx.broadcast_to(c, (batch, *c.shape[1:])) for c, _ in contexts], axis=0)
    masks = [m for _, m in contexts]
    context_mask = None
    if masks[0] is not None:
        context_mask = mx.concatenate([mx.broadcast_to(m, (batch, *m.shape[1:])) for m in masks], axis=0)
    return ModalityInput(
        latent=_repeat(state.latent, count),
        sigma=mx.full((batch * count,), sigma, dtype=mx.float32),
        timesteps=_repeat(_noise_levels(state, sigma), count),
        positions=_repeat(state.positions, count),
        context=context,
        context_mask=context_mask,
        attention_mask=_repeat(state.attention_mask, count),
        keyframe_mask=_repeat(state.keyframe_mask, count),
        enabled=enabled,
    )


def _noise_levels(state: TokenState, sigma: float) -> mx.array:
    """Each token's noise level [B, T], or [B, 1] when every token is denoised alike (text to video):
    the same numbers, without the per-token modulation tables that would take 10 hidden states' worth
    of memory (0.9 GiB for LTX-2.3 at 768x512x121, docs/PERFORMANCE.md). One host read per call."""
    if mx.all(state.denoise_mask == 1).item():
        return mx.full((state.latent.shape[0], 1), sigma, dtype=mx.float32)
    return state.timesteps(sigma)


def _to_x0(state: TokenState, velocity: mx.array, sigma: float, count: int) -> mx.array:
    """x0 = x - v * (sigma x mask), per token, in float32 (the reference's `X0Model`)."""
    timesteps = _repeat(state.timesteps(sigma), count)[..., None]
    latent = _repeat(state.latent, count)
    return (latent.astype(mx.float32) - velocity.astype(mx.float32) * timesteps).astype(state.latent.dtype)


def _step(
    state: TokenState,
    denoised: mx.array,
    sigma: float,
    sigma_next: float,
    ancestral: AncestralStep | None,
    key: mx.array | None,
    stream: int,
) -> TokenState:
    mask = state.denoise_mask[..., None]
    # Conditioned tokens are predicted as their clean values, so they stay where they are.
    held = (denoised.astype(mx.float32) * mask + state.clean.astype(mx.float32) * (1 - mask)).astype(denoised.dtype)
    if ancestral is None:
        return state.with_latent(euler_step(state.latent, held, sigma, sigma_next))
    noise = None
    if ancestral.uses_noise:
        if key is None:
            raise ValueError("An ancestral step needs the stage's keys.")
        noise = noise_like(mx.random.split(key, 2)[stream], state.latent)
    stepped = ancestral(state.latent, held, sigma, sigma_next, noise)
    # The fresh noise lands on every token; conditioned tokens are blended back towards their clean values.
    latent = stepped.astype(mx.float32) * mask + state.clean.astype(mx.float32) * (1 - mask)
    return state.with_latent(latent.astype(state.latent.dtype))

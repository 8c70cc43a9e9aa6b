"""The denoising loop: a generator that yields the (unevaluated) latents after every step.

The caller evaluates once per step (the progress point); within a step the transformer's hidden
states are evaluated every few blocks (`eval_every_blocks`, pipeline/block_eval.py), which keeps the
step's activations to about two blocks' on a GPU. Conditioned tokens keep
their own timestep min(t, 1 - strength) and are not moved until the schedule
reaches it; hard-conditioned tokens (strength 1) get a little fresh noise each
step, scaled by t^2 (`image_cond_noise_scale`), which helps motion continue.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx

from ltx_mlx_core.models.common.attention import SkipLayerStrategy
from ltx_mlx_core.pipeline.block_eval import block_evaluator
from ltx_mlx_core.pipeline.conditioning import ConditionedTokens
from ltx_mlx_core.pipeline.guidance import StepGuidance, combine
from ltx_mlx_core.pipeline.schedule import T_EPS, euler_step, stochastic_step
from ltx_mlx_core.pipeline.step_cache import StepCache
from ltx_mlx_core.pipeline.step_cache_ltxv import cached_transformer_call


@dataclass
class TextConditioning:
    """Encoded prompt, and the negative prompt when any step uses CFG (zeros stand in otherwise)."""

    embeds: mx.array  # [1, L, D]
    mask: mx.array  # [1, L]
    negative_embeds: mx.array | None = None
    negative_mask: mx.array | None = None

    def batch(self, conditions: list[str]) -> tuple[mx.array, mx.array]:
        negative = self.negative_embeds if self.negative_embeds is not None else mx.zeros_like(self.embeds)
        negative_mask = self.negative_mask if self.negative_mask is not None else mx.zeros_like(self.mask)
        embeds = [negative if c == "uncond" else self.embeds for c in conditions]
        masks = [negative_mask if c == "uncond" else self.mask for c in conditions]
        return mx.concatenate(embeds), mx.concatenate(masks)


def branch_keys(step: StepGuidance) -> list[str]:
    """The step cache's branch per batched condition; a perturbed pass is named by the blocks it perturbs,
    so a change of STG blocks between steps starts that branch's cache afresh."""
    keys = []
    for condition in step.conditions:
        if condition == "perturbed" and step.skip_blocks:
            condition += "@" + ",".join(str(block) for block in step.skip_blocks)
        keys.append(condition)
    return keys


def iter_denoise(
    transformer,
    state: ConditionedTokens,
    timesteps: list[float],
    guidance: list[StepGuidance],
    text: TextConditioning,
    frame_rate: float,
    key: mx.array,
    stg_strategy: SkipLayerStrategy = SkipLayerStrategy.AttentionValues,
    image_cond_noise_scale: float = 0.15,
    stochastic: bool = False,
    step_cache: StepCache | None = None,
    eval_every_blocks: int | None = None,
) -> Iterator[mx.array]:
    """Yield the full token sequence [B, N_extra + N, C] after each step.

    With `step_cache` (one per pass), steps whose transformer input barely changed reuse the
    blocks' cached residual; the cache records which steps did (`step_cache.records`).
    `eval_every_blocks`: evaluate the hidden states every that many blocks (0: once per step;
    None: LTX_MLX_EVAL_EVERY_BLOCKS or the default, see pipeline/block_eval.py).
    """
    after_block = block_evaluator(eval_every_blocks)
    latents = state.tokens
    init_tokens = state.tokens
    mask = state.mask
    coords = state.coords(frame_rate)
    batch = latents.shape[0]
    step_keys = mx.random.split(key, 2 * len(timesteps))
    for i, (t, step) in enumerate(zip(timesteps, guidance)):
        conditions = step.conditions
        count = len(conditions)
        if mask is not None and image_cond_noise_scale > 0:
            noise = mx.random.normal(latents.shape, key=step_keys[2 * i]).astype(latents.dtype)
            hard = (mask > 1.0 - T_EPS)[..., None]
            latents = mx.where(hard, init_tokens + image_cond_noise_scale * noise * (t**2), latents)
        model_input = mx.concatenate([latents] * count) if count > 1 else latents
        token_t = mx.full((batch * count, 1), t, dtype=mx.float32)
        if mask is not None:
            token_t = mx.minimum(token_t, 1.0 - mx.concatenate([mask] * count))
        skip_mask = None
        if step.uses_stg and step.skip_blocks is not None:
            skip_mask = transformer.create_skip_layer_mask(batch, count, count - 1, step.skip_blocks)
        embeds, text_mask = text.batch(conditions)
        arguments = (
            model_input, mx.concatenate([coords] * count), embeds, text_mask, token_t,
            skip_mask, stg_strategy if skip_mask is not None else None,
        )  # fmt: skip
        if step_cache is None:
            prediction = transformer(*arguments, after_block=after_block)
        else:
            prediction, _ = cached_transformer_call(
                transformer, step_cache, i, branch_keys(step), *arguments, after_block=after_block
            )
        velocity = combine(prediction, step)
        step_t = token_t[:batch]
        if stochastic:
            stepped = stochastic_step(latents, velocity, step_t, timesteps, step_keys[2 * i + 1])
        else:
            stepped = euler_step(latents, velocity, step_t, timesteps)
        if mask is not None:
            moving = (t - T_EPS < (1.0 - mask))[..., None]
            stepped = mx.where(moving, stepped, latents)
        latents = stepped
        yield latents

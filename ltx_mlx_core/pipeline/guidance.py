"""Per-step guidance: classifier-free guidance, spatio-temporal guidance (STG) and rescaling.

Each step runs the transformer once over a batch of up to three conditions,
[unconditional, text, text-perturbed], keeping only the ones the step's scales
need: the distilled configs (guidance 1, STG 0) run a single pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlx.core as mx


@dataclass(frozen=True)
class StepGuidance:
    cfg: float
    stg: float
    rescale: float
    skip_blocks: list[int] | None
    cfg_star: bool = False

    @property
    def uses_cfg(self) -> bool:
        return self.cfg > 1.0

    @property
    def uses_stg(self) -> bool:
        return self.stg > 0.0

    @property
    def conditions(self) -> list[str]:
        names = (["uncond"] if self.uses_cfg else []) + ["text"]
        return names + (["perturbed"] if self.uses_stg else [])


def _per_step(value: Any, timesteps: list[float], mapping: list[int] | None) -> list:
    if not isinstance(value, list):
        return [value] * len(timesteps)
    if mapping is None:
        raise ValueError("A guidance value list needs guidance_timesteps to map it to steps.")
    return [value[mapping[i]] for i in range(len(timesteps))]


def guidance_schedule(pass_config: Any, timesteps: list[float]) -> list[StepGuidance]:
    """Expand a pass's scalar-or-list scales to one StepGuidance per timestep, as the reference maps them."""
    mapping = None
    if pass_config.guidance_timesteps:
        marks = pass_config.guidance_timesteps
        mapping = []
        for t in timesteps:
            indices = [i for i, mark in enumerate(marks) if mark <= t]
            mapping.append(indices[0] if indices else len(marks) - 1)
    cfg = _per_step(pass_config.guidance_scale, timesteps, mapping)
    stg = _per_step(pass_config.stg_scale, timesteps, mapping)
    rescale = _per_step(pass_config.rescaling_scale, timesteps, mapping)
    blocks = pass_config.skip_block_list
    if blocks is None:
        per_step_blocks = [None] * len(timesteps)
    elif len(blocks) == 0 or not isinstance(blocks[0], list):
        per_step_blocks = [list(blocks)] * len(timesteps)
    else:
        per_step_blocks = _per_step(blocks, timesteps, mapping)
    return [
        StepGuidance(float(c), float(s), float(r), b, bool(pass_config.cfg_star_rescale))
        for c, s, r, b in zip(cfg, stg, rescale, per_step_blocks)
    ]


def combine(prediction: mx.array, guidance: StepGuidance) -> mx.array:
    """Merge the batched predictions [conds * B, N, C] into one velocity [B, N, C]."""
    parts = dict(zip(guidance.conditions, mx.split(prediction, len(guidance.conditions), axis=0)))
    text = parts["text"]
    velocity = text
    if guidance.uses_cfg:
        uncond = parts["uncond"]
        if guidance.cfg_star:
            batch = text.shape[0]
            positive, negative = text.reshape(batch, -1), uncond.reshape(batch, -1)
            alpha = mx.sum(positive * negative, axis=1, keepdims=True) / (
                mx.sum(negative**2, axis=1, keepdims=True) + 1e-8
            )
            uncond = alpha.reshape(batch, 1, 1) * uncond
        velocity = uncond + guidance.cfg * (text - uncond)
    if guidance.uses_stg:
        velocity = velocity + guidance.stg * (text - parts["perturbed"])
        if guidance.rescale != 1.0:
            batch = text.shape[0]
            factor = mx.std(text.reshape(batch, -1), axis=1, ddof=1) / mx.std(
                velocity.reshape(batch, -1), axis=1, ddof=1
            )
            factor = guidance.rescale * factor + (1 - guidance.rescale)
            velocity = velocity * factor.reshape(batch, 1, 1)
    return velocity

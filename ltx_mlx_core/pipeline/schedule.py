"""Rectified-flow timesteps and the Euler step, as the reference `RectifiedFlowScheduler` does them.

Timesteps run from 1 (noise) towards 0 (clean). Distilled configs list them
explicitly; otherwise a sampler builds `num_inference_steps` of them, minus
skipped initial/final steps. A step moves each token from its timestep t to the
closest lower scheduled timestep: `x <- x - (t - t_lower) * v`. Tokens carry
their own t (conditioning tokens start lower), so dt is per token.
"""
from __future__ import annotations

from typing import Any, Optional

import mlx.core as mx
import numpy as np

from ltx_mlx_core.errors import InvalidRequest

T_EPS = 1e-6


def linear_quadratic_schedule(num_steps: int, threshold_noise: float = 0.025, linear_steps: Optional[int] = None) -> list[float]:
    if num_steps == 1:
        return [1.0]
    linear_steps = num_steps // 2 if linear_steps is None else linear_steps
    linear = [i * threshold_noise / linear_steps for i in range(linear_steps)]
    step_diff = linear_steps - threshold_noise * num_steps
    quadratic_steps = num_steps - linear_steps
    quadratic_coef = step_diff / (linear_steps * quadratic_steps**2)
    linear_coef = threshold_noise / linear_steps - 2 * step_diff / quadratic_steps**2
    const = quadratic_coef * linear_steps**2
    quadratic = [quadratic_coef * i**2 + linear_coef * i + const for i in range(linear_steps, num_steps)]
    sigmas = linear + quadratic + [1.0]
    return [1.0 - s for s in sigmas[:-1]]


def uniform_schedule(num_steps: int) -> list[float]:
    return [float(t) for t in np.linspace(1.0, 1.0 / num_steps, num_steps, dtype=np.float32)]


def timesteps_from_config(pass_config: Any, sampler: str = "linear-quadratic") -> list[float]:
    """The pass's timesteps: its explicit list, or a sampled schedule with skips applied."""
    if pass_config.timesteps:
        timesteps = [float(t) for t in pass_config.timesteps]
    else:
        steps = int(pass_config.num_inference_steps)
        if steps < 1:
            raise InvalidRequest(f"A pass needs at least one step; got {steps}.")
        timesteps = uniform_schedule(steps) if sampler.lower() == "uniform" else linear_quadratic_schedule(steps)
        start = int(getattr(pass_config, "skip_initial_inference_steps", 0) or 0)
        end = len(timesteps) - int(getattr(pass_config, "skip_final_inference_steps", 0) or 0)
        timesteps = timesteps[start:end]
    if not timesteps or any(not 0.0 < t <= 1.0 for t in timesteps) or sorted(timesteps, reverse=True) != timesteps:
        raise InvalidRequest(f"Timesteps must be decreasing values in (0, 1]; got {timesteps}.")
    return timesteps


def euler_step(latents: mx.array, velocity: mx.array, token_timesteps: mx.array, timesteps: list[float]) -> mx.array:
    """latents, velocity [B, N, C]; token_timesteps [B, N] (or [B, 1]) → latents at the next timestep."""
    padded = mx.array(list(timesteps) + [0.0], dtype=mx.float32)
    t = token_timesteps.astype(mx.float32)
    below = padded[:, None, None] < (t[None] - T_EPS)
    lower = mx.max(mx.where(below, padded[:, None, None], 0.0), axis=0)
    dt = (t - lower)[..., None]
    return (latents.astype(mx.float32) - dt * velocity.astype(mx.float32)).astype(latents.dtype)


def stochastic_step(latents: mx.array, velocity: mx.array, token_timesteps: mx.array, timesteps: list[float],
                    key: mx.array) -> mx.array:
    """Predict x0, then re-noise it to the next timestep with fresh noise (`stochastic_sampling`)."""
    padded = mx.array(list(timesteps) + [0.0], dtype=mx.float32)
    t = token_timesteps.astype(mx.float32)
    below = padded[:, None, None] < (t[None] - T_EPS)
    lower = mx.max(mx.where(below, padded[:, None, None], 0.0), axis=0)[..., None]
    x0 = latents.astype(mx.float32) - t[..., None] * velocity.astype(mx.float32)
    noise = mx.random.normal(latents.shape, key=key)
    return ((1 - lower) * x0 + lower * noise).astype(latents.dtype)

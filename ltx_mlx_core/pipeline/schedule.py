"""Rectified-flow timesteps and the Euler step, as the reference `RectifiedFlowScheduler` does them.

Timesteps run from 1 (noise) towards 0 (clean). Distilled configs list them
explicitly; otherwise a sampler builds `num_inference_steps` of them, minus
skipped initial/final steps. A step moves each token from its timestep t to the
closest lower scheduled timestep: `x <- x - (t - t_lower) * v`. Tokens carry
their own t (conditioning tokens start lower), so dt is per token.
"""

from __future__ import annotations

import math
from typing import Any

import mlx.core as mx
import numpy as np

from ltx_mlx_core.errors import InvalidRequest

T_EPS = 1e-6


def linear_quadratic_schedule(
    num_steps: int, threshold_noise: float = 0.025, linear_steps: int | None = None
) -> list[float]:
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


def _time_shift(mu: float, timesteps: np.ndarray) -> np.ndarray:
    return math.exp(mu) / (math.exp(mu) + (1.0 / timesteps - 1.0))


def shift_timesteps(
    timesteps: list[float],
    num_tokens: int,
    shifting: str | None,
    target_shift_terminal: float | None = None,
    base_resolution: int = 32 * 32,
) -> list[float]:
    """The scheduler's resolution-dependent shift ("SD3" or "SimpleDiffusion"); more tokens → later in the noise."""
    if not shifting:
        return list(timesteps)
    t = np.asarray(timesteps, dtype=np.float64)
    if shifting == "SD3":
        # Linear in the token count: shift 0.95 at 1024 tokens, 2.05 at 4096.
        slope = (2.05 - 0.95) / (4096 - 1024)
        shifted = _time_shift(slope * num_tokens + 0.95 - slope * 1024, t)
        if target_shift_terminal is not None:
            shifted = 1.0 - (1.0 - shifted) * (1.0 - target_shift_terminal) / (1.0 - shifted[-1])
    elif shifting == "SimpleDiffusion":
        with np.errstate(divide="ignore"):  # t = 1 has infinite SNR and stays at 1
            log_snr = 2.0 * np.log(t / (1.0 - t)) + 2.0 * math.log(num_tokens / base_resolution)
        shifted = 1.0 / (1.0 + np.exp(-0.5 * log_snr))
    else:
        raise InvalidRequest(f"Unknown timestep shifting '{shifting}' (use SD3 or SimpleDiffusion).")
    return [float(v) for v in shifted]


def sampled_schedule(steps: int, sampler: str, shift: float | None = None) -> list[float]:
    name = sampler.lower().replace("-", "").replace("_", "")
    if name == "uniform":
        return uniform_schedule(steps)
    if name == "constant":
        if shift is None:
            raise InvalidRequest("The constant sampler needs a shift value.")
        return [float(v) for v in _time_shift(shift, np.asarray(uniform_schedule(steps), dtype=np.float64))]
    # "from_checkpoint" (the yaml default) would read the checkpoint's scheduler metadata; we sample linear-quadratic,
    # the reference's own non-uniform choice. Distilled configs list their timesteps, so they never get here.
    if name in ("linearquadratic", "fromcheckpoint"):
        return linear_quadratic_schedule(steps)
    raise InvalidRequest(f"Unknown sampler '{sampler}' (use linear-quadratic, uniform or constant).")


def timesteps_from_config(
    pass_config: Any,
    sampler: str = "linear-quadratic",
    num_tokens: int | None = None,
    shifting: str | None = None,
    target_shift_terminal: float | None = None,
    shift: float | None = None,
) -> list[float]:
    """The pass's timesteps: its explicit list (never shifted, as the reference), or a sampled schedule,
    shifted for `num_tokens` latent tokens when the scheduler config names a `shifting`, with skips applied."""
    if pass_config.timesteps:
        timesteps = [float(t) for t in pass_config.timesteps]
    else:
        steps = int(pass_config.num_inference_steps)
        if steps < 1:
            raise InvalidRequest(f"A pass needs at least one step; got {steps}.")
        timesteps = sampled_schedule(steps, sampler, shift)
        if shifting:
            if num_tokens is None:
                raise InvalidRequest("A shifted schedule needs the latent token count.")
            timesteps = shift_timesteps(timesteps, num_tokens, shifting, target_shift_terminal)
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


def stochastic_step(
    latents: mx.array, velocity: mx.array, token_timesteps: mx.array, timesteps: list[float], key: mx.array
) -> mx.array:
    """Predict x0, then re-noise it to the next timestep with fresh noise (`stochastic_sampling`)."""
    padded = mx.array(list(timesteps) + [0.0], dtype=mx.float32)
    t = token_timesteps.astype(mx.float32)
    below = padded[:, None, None] < (t[None] - T_EPS)
    lower = mx.max(mx.where(below, padded[:, None, None], 0.0), axis=0)[..., None]
    x0 = latents.astype(mx.float32) - t[..., None] * velocity.astype(mx.float32)
    noise = mx.random.normal(latents.shape, key=key)
    return ((1 - lower) * x0 + lower * noise).astype(latents.dtype)

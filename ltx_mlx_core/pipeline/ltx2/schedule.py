"""Noise levels (sigmas) and steps of the LTX-2 family's pipelines, as ltx-pipelines computes them.

Sigmas run from 1 (noise) to 0 (clean) and end with 0; every step goes from one to the
next. The distilled models list theirs (ltx-pipelines' constants); the dev models take
LTX2Scheduler's: uniform sigmas shifted towards noise by the token count (the "SD3" shift
of the 0.9.x scheduler) and stretched to end at a terminal value. The reference pipelines
never pass the latents to that scheduler, so the shift is the one of its default token
count (4096), whatever the resolution. The reference computes them in float32, ours in
float64 rounded once: they agree to a few float32 ulps (tests/parity/test_ltx2_schedule).

Steps act on the denoised (x0) prediction: the Euler step moves the sample along the
velocity (sample - x0) / sigma to the next sigma. The ancestral step (diffusers'
`LTXEulerAncestralRFScheduler`, ComfyUI's `euler_ancestral_RF`) goes down past the next
sigma and adds fresh noise back up to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.schedule import shift_timesteps

DISTILLED_SIGMAS = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0)
# Stage 2 of the two-stage pipelines: the tail of the distilled schedule, from a re-noised start.
STAGE_2_DISTILLED_SIGMAS = (0.909375, 0.725, 0.421875, 0.0)
# LTX2Scheduler's token count when it is not given latents (as the reference pipelines call it).
DEFAULT_SHIFT_TOKENS = 4096
DEFAULT_TERMINAL = 0.1
# diffusers' guard against dividing by a zero noise level in the ancestral step.
_ANCESTRAL_EPS = 1e-12


def dev_sigmas(
    steps: int, tokens: int = DEFAULT_SHIFT_TOKENS, terminal: float | None = DEFAULT_TERMINAL
) -> tuple[float, ...]:
    """LTX2Scheduler's `steps + 1` sigmas: shifted for `tokens`, stretched to end at `terminal` (None: not
    stretched), then 0; computed in float64 and rounded once to float32."""
    if steps < 1 or (steps == 1 and terminal is not None):
        # One stretched step is 0/0 (the reference's float32 rounding happens to make it 0.1).
        raise InvalidRequest(f"A dev pass needs at least two steps; got {steps}.")
    uniform = [1.0 - i / steps for i in range(steps)]
    return as_float32((*shift_timesteps(uniform, tokens, "SD3", terminal), 0.0))


def as_float32(sigmas: tuple[float, ...] | list[float]) -> tuple[float, ...]:
    """Sigmas rounded to float32, the precision the reference holds them in."""
    return tuple(float(s) for s in np.asarray(sigmas, dtype=np.float32))


def check_sigmas(sigmas: tuple[float, ...]) -> None:
    if len(sigmas) < 2 or sigmas[-1] != 0.0 or any(not 0.0 <= s <= 1.0 for s in sigmas):
        raise InvalidRequest(f"Sigmas must run from at most 1 down to a final 0; got {list(sigmas)}.")
    if any(a <= b for a, b in zip(sigmas, sigmas[1:])):
        raise InvalidRequest(f"Sigmas must decrease at every step; got {list(sigmas)}.")


def euler_step(sample: mx.array, denoised: mx.array, sigma: float, sigma_next: float) -> mx.array:
    """x + (x - x0) / sigma * (sigma_next - sigma), in float32 (the reference's `EulerDiffusionStep`)."""
    sample32 = sample.astype(mx.float32)
    velocity = (sample32 - denoised.astype(mx.float32)) / float(np.float32(sigma))
    dt = float(np.float32(sigma_next) - np.float32(sigma))
    return (sample32 + velocity * dt).astype(sample.dtype)


@dataclass(frozen=True)
class AncestralStep:
    """Euler-ancestral in the rectified-flow parametrisation; eta 0 is the deterministic DDIM-like step."""

    eta: float = 1.0
    s_noise: float = 1.0

    @property
    def uses_noise(self) -> bool:
        return self.eta > 0.0 and self.s_noise > 0.0

    def __call__(
        self, sample: mx.array, denoised: mx.array, sigma: float, sigma_next: float, noise: mx.array | None
    ) -> mx.array:
        sample32, denoised32 = sample.astype(mx.float32), denoised.astype(mx.float32)
        if abs(sigma_next) < 1e-8:
            return denoised32.astype(sample.dtype)
        # Scalars in float32 as the reference holds them; passed on as Python floats so MLX keeps the arrays.
        f32, one = np.float32, np.float32(1.0)
        sigma, sigma_next = f32(sigma), f32(sigma_next)
        sigma_down = sigma_next * (one + (sigma_next / sigma - one) * f32(self.eta))
        alpha_next, alpha_down = one - sigma_next, one - sigma_down
        ratio = sigma_down / sigma
        x = float(ratio) * sample32 + float(one - ratio) * denoised32
        if self.uses_noise:
            if noise is None:
                raise ValueError("An ancestral step with eta > 0 needs noise.")
            eps = f32(_ANCESTRAL_EPS)
            variance = sigma_next**2 - sigma_down**2 * alpha_next**2 / (alpha_down**2 + eps)
            renoise = np.sqrt(max(variance, f32(0.0)), dtype=np.float32)
            x = float(alpha_next / (alpha_down + eps)) * x + noise.astype(mx.float32) * float(
                renoise * f32(self.s_noise)
            )
        return x.astype(sample.dtype)

"""When a denoising step may reuse the last computed residual: the three published rules.

Each guidance branch (the unconditional, text and perturbed passes) keeps its own
`BranchState`; a rule reads the branch's state and this step's measurement and says
whether the transformer's blocks must run. The rules are the published ones, step for step:

TeaCache (TeaCache4LTX-Video, ComfyUI-TeaCache's `ltxv`): the relative L1 change of the first
    block's modulated input since the previous step, rescaled by a polynomial fitted per model,
    is accumulated; the blocks run when the sum reaches the threshold (and it restarts from 0),
    and on the first and last steps. The previous input is updated every step.
First-block cache (ParaAttention's FBCache, diffusers' `apply_first_block_cache`): the first
    block always runs; the relative L1 change of its residual against the residual of the last
    step that ran the blocks decides (blocks run when it exceeds the threshold).
MagCache (diffusers' `apply_mag_cache`): a calibrated table of residual magnitude ratios per
    step; after the first `retention_ratio` of the steps, the ratios are multiplied up and
    |1 - product| summed; the blocks are skipped while that error stays within the threshold and
    at most `max_skip_steps` steps in a row. The decision needs no measurement at all.

A change that is not finite (a zero reference) always runs the blocks.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from enum import Enum

import mlx.core as mx
import numpy as np

# Probes and residuals are tuples: one array per stream (video, audio) that decides together.
Arrays = tuple[mx.array, ...]


class CacheRule(Enum):
    TEACACHE = "teacache"
    FIRST_BLOCK = "first_block"
    MAGCACHE = "magcache"

    @property
    def probe(self) -> str | None:
        """What the decision measures: the first block's modulated input, its residual, or nothing."""
        return {CacheRule.TEACACHE: "modulated_input", CacheRule.FIRST_BLOCK: "first_block_residual"}.get(self)


# TeaCache's rescaling polynomial for LTX-Video (highest power first), from TeaCache4LTX-Video
# and ComfyUI-TeaCache's "ltxv" entry; fitted on LTX-Video 0.9.1.
LTXV_TEACACHE_COEFFICIENTS = (2.14700694e01, -1.28016453e01, 2.31279151e00, 7.92487521e-01, 9.69274326e-03)


@dataclass(frozen=True)
class StepCacheSettings:
    """One rule and its parameters. A threshold of 0 never skips a step."""

    rule: CacheRule
    threshold: float
    # Most steps skipped in a row (None: no limit; MagCache's K).
    max_skip_steps: int | None = None
    # The last step always runs the blocks (TeaCache's rule has this built in).
    compute_last_step: bool = True
    coefficients: tuple[float, ...] = LTXV_TEACACHE_COEFFICIENTS
    # MagCache: residual magnitude ratio per step (resampled to the pass's length), and the share
    # of the first steps never skipped.
    mag_ratios: tuple[float, ...] | None = None
    retention_ratio: float = 0.2
    # MagCache: skip nothing and measure the ratios instead (StepCache.calibration_ratios).
    calibrate: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.threshold) and self.threshold >= 0):
            raise ValueError(f"a step-cache threshold must be a finite number >= 0; got {self.threshold}")
        if self.rule is CacheRule.MAGCACHE and self.mag_ratios is None and not self.calibrate:
            raise ValueError("MagCache needs the model's magnitude ratios (mag_ratios) or calibrate=True.")

    def describe(self) -> dict:
        return {"rule": self.rule.value, "threshold": self.threshold, "max_skip_steps": self.max_skip_steps}


@dataclass
class BranchState:
    """What one guidance branch remembers between steps."""

    layout: Hashable = None  # what its probes and residuals cover (e.g. which streams)
    previous_probe: Arrays | None = None
    residual: Arrays | None = None
    accumulated: float = 0.0  # TeaCache: rescaled distance since the last computed step
    consecutive_skips: int = 0
    mag_ratio: float = 1.0  # MagCache accumulators
    mag_error: float = 0.0
    mag_steps: int = 0
    calibration: list[mx.array] = field(default_factory=list)


def relative_l1(current: Arrays, previous: Arrays) -> mx.array:
    """mean|current - previous| / mean|previous| in float32; with several streams, the largest."""
    changes = [
        mx.mean(mx.abs(now.astype(mx.float32) - before.astype(mx.float32))) / mx.mean(mx.abs(before.astype(mx.float32)))
        for now, before in zip(current, previous)
    ]
    return changes[0] if len(changes) == 1 else mx.max(mx.stack(changes))


def resampled_ratios(ratios: Sequence[float], steps: int) -> list[float]:
    """A ratio table stretched to `steps` entries by nearest neighbour (diffusers' nearest_interp)."""
    if len(ratios) == steps:
        return list(ratios)
    if steps == 1:
        return [float(ratios[-1])]
    scale = (len(ratios) - 1) / (steps - 1)
    indices = np.round(np.arange(steps, dtype=np.float32) * np.float32(scale)).astype(int)
    return [float(ratios[i]) for i in indices]


def teacache(
    state: BranchState, settings: StepCacheSettings, step: int, steps: int, change: float | None, forced: bool
) -> bool:
    """TeaCache's decision (True: run the blocks). `change`: relative L1 of the modulated input."""
    if forced or change is None or step in (0, steps - 1) or not math.isfinite(change):
        state.accumulated = 0.0
        return True
    if settings.max_skip_steps is not None and state.consecutive_skips >= settings.max_skip_steps:
        state.accumulated = 0.0
        return True
    state.accumulated += float(np.polyval(settings.coefficients, change))
    if state.accumulated < settings.threshold:
        return False
    state.accumulated = 0.0
    return True


def first_block(
    state: BranchState, settings: StepCacheSettings, step: int, steps: int, change: float | None, forced: bool
) -> bool:
    """The first-block cache's decision. `change`: relative L1 of the first block's residual."""
    del step, steps
    if forced or change is None or not math.isfinite(change):
        return True
    if settings.max_skip_steps is not None and state.consecutive_skips >= settings.max_skip_steps:
        return True
    return change > settings.threshold


def magcache(
    state: BranchState, settings: StepCacheSettings, step: int, steps: int, change: float | None, forced: bool
) -> bool:
    """MagCache's decision from the calibrated ratios alone."""
    del change
    if settings.calibrate:
        return True
    ratios = resampled_ratios(settings.mag_ratios, steps)
    if step < int(settings.retention_ratio * steps + 0.5):
        return True
    state.mag_ratio *= ratios[step] if step < len(ratios) else 1.0
    state.mag_steps += 1
    state.mag_error += abs(1.0 - state.mag_ratio)
    within = state.mag_error <= settings.threshold
    within &= settings.max_skip_steps is None or state.mag_steps <= settings.max_skip_steps
    if state.residual is not None and within and not forced:
        return False
    state.mag_ratio, state.mag_steps, state.mag_error = 1.0, 0, 0.0
    return True


DECIDE = {CacheRule.TEACACHE: teacache, CacheRule.FIRST_BLOCK: first_block, CacheRule.MAGCACHE: magcache}

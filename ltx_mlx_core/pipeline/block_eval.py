"""Evaluation at transformer block boundaries: one step's activations held to about two blocks'.

MLX builds a denoising step as one lazy graph. Evaluated in one piece on a GPU, the host encodes
every block's kernels long before the GPU has run them, and each kernel's inputs and outputs stay
allocated until its command buffer completes: the whole step's intermediates are alive at once
(measured on an H200: 4.9 GiB of activations for a 2B step at 4,992 tokens, where the PyTorch
reference holds about 0.3 GiB). A single evaluation of a large model's whole forward at
full resolution is also long enough to trip macOS's GPU watchdog.

`BlockEvaluator` is the transformers' `after_block` hook: every `every` blocks it schedules the
hidden states (`mx.async_eval`). With `in_flight` 1 it first waits for the previous chunk, so only
one chunk's intermediates are allocated at a time (the GPU idles while the host launches a chunk);
with 2 it waits for the previous chunk after launching this one (the GPU never waits, two chunks'
intermediates are allocated). The models take the hook and never evaluate themselves; the denoise
loops pass it, and the sound decode passes one to the vocoders (a "block" there is a residual pair).

The granularity: `eval_every_blocks` in the denoise loops, else the environment variable
LTX_MLX_EVAL_EVERY_BLOCKS, else DEFAULT_EVERY (1: every block). 0 restores one evaluation per step.
LTX_MLX_EVAL_POINTS_PER_BLOCK 2 adds a point inside each evaluated LTX-2 block, between the
attentions and the feed-forwards (`within_block`; LTX-Video's blocks are one compiled graph and
ignore it): a chunk is then half a block, so two in flight hold about what one block held.
LTX_MLX_EVAL_IN_FLIGHT (1 or 2) overrides the chunks in flight; 1 trades speed for memory
(H200, LTX-Video 2B step: 0.57 instead of 0.90 GiB of activations, 33 % slower). Within a block,
how soon MLX frees intermediates is set by MLX_MAX_OPS_PER_BUFFER, which `ltx_mlx_core.gpu_commands`
sets to 2 on import (a user's value is kept). docs/PERFORMANCE.md ("Activation memory", "Operations
per command buffer") has the measurements behind the defaults.
"""

from __future__ import annotations

import logging
import os

import mlx.core as mx

from ltx_mlx_core.errors import InvalidRequest

log = logging.getLogger(__name__)

EVERY_ENV = "LTX_MLX_EVAL_EVERY_BLOCKS"
IN_FLIGHT_ENV = "LTX_MLX_EVAL_IN_FLIGHT"
POINTS_ENV = "LTX_MLX_EVAL_POINTS_PER_BLOCK"
# Evaluate after every block: on the H200 faster than one evaluation per step (docs/PERFORMANCE.md).
DEFAULT_EVERY = 1
# Chunks whose intermediates may be allocated at once (1 or 2): with 2 the step is as fast as one
# graph per step; both loops use it (pipeline/ltx2/denoise.py gives the LTX-2 measurements).
DEFAULT_IN_FLIGHT = 2
DEFAULT_POINTS_PER_BLOCK = 1


def _from_env(name: str, default: int, allowed: range, meaning: str) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value not in allowed:
        raise InvalidRequest(f"{name} must be {meaning}; got '{text}'.")
    return value


def eval_every_blocks(value: int | None = None) -> int:
    """The granularity to use: `value` when given, else LTX_MLX_EVAL_EVERY_BLOCKS, else DEFAULT_EVERY."""
    if value is None:
        return _from_env(EVERY_ENV, DEFAULT_EVERY, range(0, 1 << 16), "a whole number of blocks, 0 or more (0: off)")
    if value < 0:
        raise ValueError(f"eval_every_blocks must be >= 0, got {value}")
    return value


def _one_or_two(value: int | None, name: str, env: str, default: int, meaning: str) -> int:
    """`value` when given (1 or 2), else the environment variable `env`, else `default`."""
    if value is None:
        return _from_env(env, default, range(1, 3), meaning)
    if value not in (1, 2):
        raise ValueError(f"{name} must be 1 or 2, got {value}")
    return value


def chunks_in_flight(value: int | None = None, default: int = DEFAULT_IN_FLIGHT) -> int:
    """`value` when given, else LTX_MLX_EVAL_IN_FLIGHT, else `default` (a family's own)."""
    return _one_or_two(value, "in_flight", IN_FLIGHT_ENV, default, "1 (least memory) or 2 (fastest)")


def points_per_block(value: int | None = None, default: int = DEFAULT_POINTS_PER_BLOCK) -> int:
    """`value` when given, else LTX_MLX_EVAL_POINTS_PER_BLOCK, else `default` (a family's own)."""
    return _one_or_two(value, "points_per_block", POINTS_ENV, default, "1 (after each block) or 2 (also inside it)")


class BlockEvaluator:
    """The `after_block` hook: schedule the hidden states every `every` blocks, `in_flight` chunks at most.

    One evaluator may serve many forwards (steps, guidance groups); `finish` waits for what is in
    flight and forgets it (the denoise loops call it when a step's velocities are built).
    """

    def __init__(
        self,
        every: int | None = None,
        in_flight: int | None = None,
        default_in_flight: int = DEFAULT_IN_FLIGHT,
        points: int | None = None,
        default_points: int = DEFAULT_POINTS_PER_BLOCK,
    ):
        self.every = eval_every_blocks(every)
        self.in_flight = chunks_in_flight(in_flight, default_in_flight)
        self.points = points_per_block(points, default_points)
        self._in_flight: list[mx.array] = []
        self.scheduled = 0  # how many chunks were scheduled (tests read it)
        # The models call `within_block(index, *states)` inside a block when it is set.
        self.within_block = self._schedule_at if self.points == 2 else None

    @property
    def enabled(self) -> bool:
        return self.every > 0

    def __call__(self, index: int, *states: mx.array | None) -> None:
        """After block `index` (0-based) with the streams' hidden states (None: an absent stream)."""
        self._schedule_at(index, *states)

    def _schedule_at(self, index: int, *states: mx.array | None) -> None:
        if not self.enabled or (index + 1) % self.every:
            return
        arrays = [state for state in states if state is not None]
        if self.in_flight == 1:
            self.finish()
        mx.async_eval(*arrays)
        self.scheduled += 1
        # Waiting for the chunk before this one (already running) keeps the GPU fed while bounding memory.
        self.finish()
        self._in_flight = arrays

    def finish(self) -> None:
        """Wait for the last scheduled chunk and drop the references to it."""
        if self._in_flight:
            mx.eval(*self._in_flight)
        self._in_flight = []


def block_evaluator(
    every: int | None = None,
    in_flight: int | None = None,
    default_in_flight: int = DEFAULT_IN_FLIGHT,
    points: int | None = None,
    default_points: int = DEFAULT_POINTS_PER_BLOCK,
) -> BlockEvaluator | None:
    """An evaluator for the requested granularity; None when it is 0 (one evaluation per step)."""
    evaluator = BlockEvaluator(every, in_flight, default_in_flight, points, default_points)
    return evaluator if evaluator.enabled else None

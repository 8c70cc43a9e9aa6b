"""Timing that respects MLX laziness: evaluate inside the timed region, report medians."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx


@dataclass
class Timing:
    """Seconds per repeat (after warm-up) and the peak memory seen while timing."""

    samples: list[float] = field(default_factory=list)
    peak_memory_bytes: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median: how much repeats disagree."""
        return (max(self.samples) - min(self.samples)) / self.median if self.samples else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "median_s": self.median,
            "min_s": min(self.samples),
            "max_s": max(self.samples),
            "repeats": len(self.samples),
            "peak_memory_bytes": self.peak_memory_bytes,
        }


def time_mlx(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> Timing:
    """Run `fn` (which returns arrays or a pytree of them) and evaluate its result.

    The evaluation is inside the timed region: with lazy MLX, timing only the
    call would time graph construction, not the work.
    """
    for _ in range(warmup):
        mx.eval(fn())
    mx.synchronize()
    mx.reset_peak_memory()
    timing = Timing()
    for _ in range(repeats):
        start = time.perf_counter()
        mx.eval(fn())
        mx.synchronize()
        timing.samples.append(time.perf_counter() - start)
    timing.peak_memory_bytes = int(mx.get_peak_memory())
    return timing

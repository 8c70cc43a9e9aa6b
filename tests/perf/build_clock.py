"""Seconds a whole generation spends building its modules (random weights here, file reads in use).

Both whole-generation workloads build every module inside the timed call, as the pipelines do with
real checkpoints; the clock wraps the loader's methods so the reports can also give the time
without that part, which is where the two engines' generation work is compared.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any


class BuildClock:
    """Wraps `names` of `loader` (an instance) to add up the seconds spent in them, per generation."""

    def __init__(self, loader: Any, names: Iterable[str], sync: Callable[[], None]):
        self._sync = sync
        self._current = 0.0
        self.per_generation: list[float] = []
        for name in names:
            setattr(loader, name, self._timed(getattr(loader, name)))

    def _timed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._sync()
            start = time.perf_counter()
            result = method(*args, **kwargs)
            self._sync()
            self._current += time.perf_counter() - start
            return result

        return timed

    def start(self) -> None:
        self._current = 0.0

    def stop(self) -> None:
        self.per_generation.append(self._current)

    def median_of_last(self, count: int) -> float:
        """The median build seconds of the last `count` generations (the timed ones)."""
        return statistics.median(self.per_generation[-count:])

"""Seconds a whole generation spends building its modules (random weights here, file reads in use),
and, for the reference's, each stage's seconds without that.

Both whole-generation workloads build every module inside the timed call, as the pipelines do with
real checkpoints; the clock wraps the loader's methods so the reports can also give the time
without that part, which is where the two engines' generation work is compared.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any


class BuildClock:
    """Wraps `names` of `loader` (an instance) to add up the seconds spent in them, per generation."""

    def __init__(self, loader: Any, names: Iterable[str], sync: Callable[[], None]):
        self._sync = sync
        self.current = 0.0  # seconds spent building in the generation under way
        self.by_module: dict[str, float] = {}  # the same, per builder
        self.per_generation: list[float] = []
        for name in names:
            setattr(loader, name, self._timed(name, getattr(loader, name)))

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._sync()
            start = time.perf_counter()
            result = method(*args, **kwargs)
            self._sync()
            seconds = time.perf_counter() - start
            self.current += seconds
            self.by_module[name] = self.by_module.get(name, 0.0) + seconds
            return result

        return timed

    def start(self) -> None:
        self.current = 0.0
        self.by_module = {}

    def stop(self) -> None:
        self.per_generation.append(self.current)

    def median_of_last(self, count: int) -> float:
        """The median build seconds of the last `count` generations (the timed ones)."""
        return statistics.median(self.per_generation[-count:])


class StageClock:
    """Seconds per named stage of one generation, without the module building the stage did inside."""

    def __init__(self, builds: BuildClock, sync: Callable[[], None]):
        self._builds, self._sync = builds, sync
        self.current: dict[str, float] = {}
        self.per_generation: list[dict[str, float]] = []

    def timed(self, names: Iterable[str] | str, function: Callable[..., Any]) -> Callable[..., Any]:
        """`function` timed as the stage `names` gives: one name, or one per successive call in a
        generation (a function the pipeline calls for two stages)."""
        names = [names] if isinstance(names, str) else list(names)

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            calls = sum(1 for name in names if name in self.current)
            with self.measure(names[min(calls, len(names) - 1)]):
                return function(*args, **kwargs)

        return timed

    @contextlib.contextmanager
    def measure(self, name: str) -> Iterator[None]:
        self._sync()
        built, start = self._builds.current, time.perf_counter()
        yield
        self._sync()
        elapsed = time.perf_counter() - start - (self._builds.current - built)
        self.current[name] = self.current.get(name, 0.0) + elapsed

    def start(self) -> None:
        self.current = {}

    def stop(self) -> None:
        self.per_generation.append(self.current)

    def medians_of_last(self, count: int) -> dict[str, float]:
        runs = self.per_generation[-count:]
        return {name: statistics.median(run.get(name, 0.0) for run in runs) for name in runs[-1]}


class GcClock:
    """Seconds Python's cyclic garbage collector ran (explicit `gc.collect` calls and automatic
    passes alike) between `start` and `stop`, through `gc.callbacks`; both engines' pipelines
    collect between stages, and a heap with torch and a 12B model in it makes each pass slow."""

    def __init__(self) -> None:
        self.current = 0.0
        self.per_generation: list[float] = []
        self._mark: float | None = None

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._mark = time.perf_counter()
        elif self._mark is not None:
            self.current += time.perf_counter() - self._mark
            self._mark = None

    def start(self) -> None:
        self.current, self._mark = 0.0, None
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        self.per_generation.append(self.current)

    def median_of_last(self, count: int) -> float:
        return statistics.median(self.per_generation[-count:])

    def around(self, function: Callable[[], Any]) -> Callable[[], Any]:
        """`function`, with this clock running while it does."""

        @functools.wraps(function)
        def timed() -> Any:
            self.start()
            try:
                return function()
            finally:
                self.stop()

        return timed

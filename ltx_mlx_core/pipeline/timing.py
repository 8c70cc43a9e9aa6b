"""Wall-clock seconds per stage of one generation, with component loads counted apart.

A component may load inside any stage (the transformer before the first pass, the VAE
again for decoding once a streaming mode released it). Its load time is reported once,
under 'load', and not as part of the stage that happened to need the component, so a
stage's time is its own work and the same whichever residency mode ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class StageTimer:
    """Seconds per named stage; spans inside `load()` count under 'load' wherever they happen."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._stages: dict[str, float] = {}
        self._loading = 0.0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the span's time, less the loads inside it, to stage `name` (which may run several times)."""
        mark, loads_before = self._clock(), self._loading
        try:
            yield
        finally:
            loads = self._loading - loads_before
            self._stages[name] = self._stages.get(name, 0.0) + self._clock() - mark - loads

    @contextmanager
    def load(self) -> Iterator[None]:
        """A component load: counted under 'load', not in the stage around it."""
        mark = self._clock()
        try:
            yield
        finally:
            self._loading += self._clock() - mark

    def timings(self) -> dict[str, float]:
        """Seconds per stage in the order they first ran; 'load' holds the load stage's own work and
        every component load, 'total' the time since the timer was made."""
        timings = dict(self._stages)
        timings["load"] = timings.get("load", 0.0) + self._loading
        timings["total"] = self._clock() - self._started
        return timings

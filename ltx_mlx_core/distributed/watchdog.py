"""A group whose peer stops answering ends the run; it must not hang it.

MLX's ring backend (0.32) raises when a peer closes its socket, but only in the transfers pending
at that moment: its socket thread then exits, and a collective queued after that one waits
forever. With blocks evaluated two in flight, or two collectives in one block, one often is
(seen on localhost: a killed rank left the other waiting in 2 of 6 runs). A peer that vanishes
without closing its connection (a Mac put to sleep, a cable pulled) is never reported at all.

So while the transformer runs, the steps are timed. When no step has finished for longer than
`StallWatchdog.limit()` (STALL_FACTOR times the longest step so far, at least
LTX_MLX_GROUP_STALL_S seconds, default 60), `on_stall` runs on the watchdog's thread: the
process says which machine stopped answering and exits, as if the error had been raised.
The first step of a run also loads the weights and compiles, so until one step is timed the limit
is FIRST_STEP_FACTOR times the floor. Stages without collectives (decode, text encoding) are
not watched.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.events import Event, Finished, StageStarted, StepDone

log = logging.getLogger(__name__)

STALL_ENV = "LTX_MLX_GROUP_STALL_S"
DEFAULT_STALL_S = 60.0
STALL_FACTOR = 20.0
FIRST_STEP_FACTOR = 10.0
# The stages whose steps run the split transformer, i.e. wait on the other machines.
DENOISING_STAGES = frozenset({"first_pass", "second_pass", "denoise"})
_POLL_S = 0.1


def stall_floor_s(value: float | None = None) -> float:
    """`value` when given, else LTX_MLX_GROUP_STALL_S, else DEFAULT_STALL_S."""
    if value is not None:
        if value <= 0:
            raise ValueError(f"the stall floor must be > 0 seconds, got {value}")
        return value
    text = os.environ.get(STALL_ENV, "").strip()
    if not text:
        return DEFAULT_STALL_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise InvalidRequest(f"{STALL_ENV} must be a number of seconds above 0; got '{text}'.")
    return seconds


class StallWatchdog:
    """Times the denoising steps it is shown (`observe`); calls `on_stall(waited_s)` once if they stop."""

    def __init__(self, on_stall: Callable[[float], None], floor_s: float | None = None):
        self.on_stall = on_stall
        self.floor_s = stall_floor_s(floor_s)
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._armed_at: float | None = None  # when the step being waited for began; None: not watching
        self._stage = ""
        self._longest_step: float | None = None
        self._thread = threading.Thread(target=self._watch, name="group-stall-watchdog", daemon=True)
        self._thread.start()

    def limit(self) -> float:
        """Seconds the current step may take before the group counts as stalled."""
        if self._longest_step is None:
            return FIRST_STEP_FACTOR * self.floor_s
        return max(self.floor_s, STALL_FACTOR * self._longest_step)

    def observe(self, event: Event) -> None:
        now = time.monotonic()
        with self._lock:
            if isinstance(event, StageStarted):
                self._stage = event.name
                self._armed_at = now if event.name in DENOISING_STAGES else None
            elif isinstance(event, StepDone) and event.stage in DENOISING_STAGES and event.stage == self._stage:
                if self._armed_at is not None:
                    took = now - self._armed_at
                    self._longest_step = took if self._longest_step is None else max(self._longest_step, took)
                self._armed_at = None if event.step >= event.total else now
            elif isinstance(event, Finished):
                self._armed_at = None

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stopped.wait(_POLL_S):
            with self._lock:
                waited = None if self._armed_at is None else time.monotonic() - self._armed_at
                over = waited is not None and waited > self.limit()
            if over:
                log.error("no step of '%s' finished for %.1f s: the group stopped answering", self._stage, waited)
                self.on_stall(waited)
                return

"""Where playback is, in seconds of media: the picture shows the frame at `PlaybackClock.position()`.

With sound, the sound output is the master: it plays samples at its own crystal's rate, stops
when it runs dry (the GUI thread stalled and did not feed it) and starts a little after it was
told to. The picture follows it, so neither a rate error nor an underrun can make the two drift
apart. Its position comes in steps (every 10-40 ms, each reading a little late), so the clock runs
on the system's monotonic clock between readings and is pulled towards each new reading by a
fraction of the error (a small error is slewed away without a visible jump; a large one, after an
underrun or a seek, is taken at once). Until the sound has started, the picture waits for it (at
most `START_TIMEOUT` seconds, then it plays on without). Without sound, the system clock alone
drives the picture: frames are never counted by timer ticks, which would run slow.

No Qt here: the time source and the sound's readings are passed in, so tests can run 60 s of
playback with a simulated sound card in a moment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

SLEW = 0.2  # share of an error taken per reading
JUMP = 0.1  # seconds: an error this large is taken at once
START_TIMEOUT = 3.0  # seconds to wait for the sound to start before the picture plays on without


class PlaybackClock:
    def __init__(self, now: Callable[[], float]):
        """`now()`: the system's monotonic time in seconds."""
        self._now = now
        self._media = 0.0  # media position at `_wall`
        self._wall = 0.0
        self.running = False
        self.waiting = False  # for the sound to start
        self._first_reading: float | None = None
        self._last_reading: float | None = None

    def start(self, position: float, with_sound: bool = False) -> None:
        """Run from `position`; `with_sound`: hold the picture until the sound output moves."""
        self._media, self._wall = position, self._now()
        self.running = True
        self.waiting = with_sound
        self._first_reading = self._last_reading = None

    def stop(self) -> None:
        """Pause where the clock is now."""
        self._media, self._wall = self.position(), self._now()
        self.running = self.waiting = False

    def seek(self, position: float) -> None:
        self._media, self._wall = position, self._now()

    def position(self) -> float:
        if not self.running or self.waiting:
            return self._media
        return self._media + (self._now() - self._wall)

    def observe_sound(self, sound_position: float | None) -> None:
        """A reading of the media position the sound output has played to (None: sound is not playing).

        Call it as often as the picture updates; only readings that changed are taken.
        """
        if not self.running or sound_position is None or sound_position == self._last_reading:
            if self.waiting and self._now() - self._wall > START_TIMEOUT:
                log.warning(
                    "The sound output did not start within %.0f s; the picture plays on without it.", START_TIMEOUT
                )
                self.start(self._media)
            return
        self._last_reading = sound_position
        if self.waiting:
            if self._first_reading is None:  # the first reading is taken before the device moves
                self._first_reading = sound_position
                return
            self.waiting = False
            self._media, self._wall = sound_position, self._now()
            return
        error = sound_position - self.position()
        if abs(error) >= JUMP:
            self._media, self._wall = sound_position, self._now()
        else:
            self._media += error * SLEW

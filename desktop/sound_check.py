"""The self-test's sound check: the clip it generated (picture and sound) played through the preview player.

It proves the bundle holds what playing sound needs (QtMultimedia, its plugins, the decoder)
and says whether this machine has a sound output: a machine without one (a CI runner) still
passes when the picture plays, and the report says the sound could not be heard and why.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

from desktop.sound_output import output_name
from desktop.widgets.preview_player import PreviewPlayer

log = logging.getLogger(__name__)

PLAYED_FRAMES = 4  # half a second of the self-test's 8 fps clip (and of its sound, where it can be heard)
TIMEOUT_MS = 20_000


class SoundCheck(QObject):
    """`start()` loads the clip in the player; `finished(played, report)` once half a second has played."""

    finished = Signal(bool, str)

    def __init__(self, player: PreviewPlayer, clip: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.player, self.clip = player, clip
        self._clock = QElapsedTimer()
        self._heard = 0.0  # how far the sound output has played
        self._poll = QTimer(self, interval=20)
        self._poll.timeout.connect(self._check)
        player.clip_loaded.connect(self._loaded)
        player.load_failed.connect(lambda message: self._finish(False, f"could not play the clip: {message}"))

    def start(self) -> None:
        self._clock.start()
        self.player.load_video(self.clip)

    def _loaded(self, path: str) -> None:
        if Path(path) == self.clip:
            self._poll.start()

    def _check(self) -> None:
        position = self.player.sound.position()
        self._heard = max(self._heard, position or 0.0)
        if self.player.current >= PLAYED_FRAMES:
            self._finish(True, self._report())
        elif self._clock.elapsed() > TIMEOUT_MS:
            self._finish(False, f"the picture did not play within {TIMEOUT_MS // 1000} s")

    def _report(self) -> str:
        problem = self.player.sound.problem
        if problem is not None:
            return f"played {self.clip.name} without sound: audio output unavailable ({problem})"
        device = output_name()
        if self._heard <= 0.0:
            return f"played {self.clip.name}, but the sound output '{device}' did not start"
        return f"played {self.clip.name} with sound: audio output available ('{device}')"

    def _finish(self, played: bool, report: str) -> None:
        self._poll.stop()
        self.player.stop()
        log.info("sound check: %s", report)
        self.finished.emit(played, report)

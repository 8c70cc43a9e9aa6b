"""The timeline's preview: the film frame under the playhead, and playback from it with the film's sound.

Playback plays the film's mix (desktop.timeline.film_sound: the export's mixer, so crossfades,
gain and mute sound as they will be exported) through one sound output, and moves the
playhead to the frame at the playback clock, which follows that sound (desktop.playback_clock).
One stream of samples cut by frame positions, rather than a player per clip started at each
cut, keeps the sound within a frame of the picture over any length of film (a minute of 30 fps
holds 1800 frames and dozens of cuts; per-clip players would each add their start latency).
A film whose mix is still being made plays its picture at once and its sound from when the
mix arrives.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from desktop.playback_clock import PlaybackClock
from desktop.project import Project
from desktop.sound_output import SoundOutput
from desktop.timeline.film_sound import FilmSound
from desktop.timeline.playback import FrameCache
from desktop.timeline.view import to_pixmap
from desktop.widgets.volume_control import VolumeControl

TICK_MS = 10
NO_SOUND_IN_FILM = "no clip on the timeline has sound"


class FilmPreview(QLabel):
    """Shows what the export will contain at a frame (crossfades blended); `play()` advances the playhead."""

    playing_changed = Signal(bool)
    sound_problem = Signal(object)  # why playback has no sound (str), or None when it has

    def __init__(
        self,
        project: Callable[[], Project],
        playhead: Callable[[], int],
        set_playhead: Callable[[int], None],
        parent=None,
    ):
        super().__init__(parent, alignment=Qt.AlignCenter)
        self._project, self._playhead, self._set_playhead = project, playhead, set_playhead
        self.setMinimumSize(240, 135)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)
        self.setStyleSheet("background: #000; color: #777;")
        self.cache = FrameCache(height=270)
        self.clock = PlaybackClock(time.monotonic)
        self.sound = SoundOutput(self)
        self.film_sound = FilmSound(self)
        self.film_sound.ready.connect(self._on_mix_ready)
        self._loaded: object | None = None  # the mix the sound output holds
        self._expected = -1  # the playhead frame playback last set (any other is a seek by the user)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)

    def reset(self) -> None:
        """A different project: drop decoded frames."""
        self.stop()
        self.cache = FrameCache(height=270)

    def prepare_sound(self) -> None:
        """Start mixing the film as it is now (after an edit), so that Play has its sound at once."""
        if self._project().clips:
            self.film_sound.samples(self._project())

    def show_frame(self, frame: int) -> None:
        project = self._project()
        image = self.cache.film_frame(project, frame) if project.clips else None
        if image is None:
            self.clear()
            self.setText("No clips yet")
            return
        self.setPixmap(to_pixmap(image).scaled(self.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation))

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def toggle(self) -> None:
        self.stop() if self.is_playing() else self.play()

    def play(self) -> None:
        project = self._project()
        if not project.total_frames:
            return
        if self._playhead() >= project.total_frames - 1:
            self._set_playhead(0)
        self._start(self._playhead() / project.fps)
        self._timer.start(TICK_MS)
        self.playing_changed.emit(True)

    def stop(self) -> None:
        self.clock.stop()
        self.sound.stop()
        if self._timer.isActive():
            self._timer.stop()
            self.playing_changed.emit(False)

    def _start(self, position: float) -> None:
        """Play picture and sound from `position` seconds into the film."""
        project = self._project()
        samples = self.film_sound.samples(project)
        if samples is not self._loaded:
            self.sound.set_samples(samples)
            self._loaded = samples
        with_sound = self.sound.play(position)
        self.clock.start(position, with_sound=with_sound)
        self._expected = int(position * project.fps + 1e-6)
        if with_sound:
            self.sound_problem.emit(None)
        elif self.film_sound.known(project):
            self.sound_problem.emit(self.sound.problem if samples is not None else NO_SOUND_IN_FILM)

    def _on_mix_ready(self) -> None:
        if self.is_playing():  # the sound joins where the picture is
            self._start(self.clock.position())

    def follow_playhead(self, frame: int) -> None:
        """The playhead moved: when the user moved it during playback, play on from there."""
        if self.is_playing() and frame != self._expected:
            self._start(frame / self._project().fps)

    def _tick(self) -> None:
        project = self._project()
        self.clock.observe_sound(self.sound.position())
        frame = int(self.clock.position() * project.fps + 1e-6)
        if frame >= project.total_frames:
            self._expected = max(0, project.total_frames - 1)
            self._set_playhead(self._expected)
            self.stop()
            return
        if frame != self._playhead():
            self._expected = frame
            self._set_playhead(frame)


class FilmScreen(QWidget):
    """The preview with the playback volume under it (greyed out, with the reason, when there is no sound)."""

    sound_unavailable = Signal(str)  # why a film with sound plays without it (once per reason)

    def __init__(
        self,
        project: Callable[[], Project],
        playhead: Callable[[], int],
        set_playhead: Callable[[int], None],
        parent=None,
    ):
        super().__init__(parent)
        self.preview = FilmPreview(project, playhead, set_playhead, self)
        self.volume = VolumeControl()
        self.volume.volume_changed.connect(self.preview.sound.set_volume)
        self.volume.muted_changed.connect(self.preview.sound.set_muted)
        self.preview.sound.set_volume(self.volume.volume())
        self.preview.sound_problem.connect(self._on_sound_problem)
        self._told: set[str] = set()
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.preview, 1)
        column.addWidget(self.volume, 0, Qt.AlignLeft)

    def _on_sound_problem(self, reason: str | None) -> None:
        self.volume.set_unavailable(reason)
        if reason and reason != NO_SOUND_IN_FILM and reason not in self._told:
            self._told.add(reason)
            self.sound_unavailable.emit(reason)

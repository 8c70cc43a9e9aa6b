"""The timeline's preview: the film frame under the playhead, and playback from it at the project's rate."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy

from desktop.project import Project
from desktop.timeline.playback import FrameCache
from desktop.timeline.view import to_pixmap


class FilmPreview(QLabel):
    """Shows what the export will contain at a frame (crossfades blended); `play()` advances the playhead."""

    playing_changed = Signal(bool)

    def __init__(self, project: Callable[[], Project], playhead: Callable[[], int],
                 set_playhead: Callable[[int], None], parent=None):
        super().__init__(parent, alignment=Qt.AlignCenter)
        self._project, self._playhead, self._set_playhead = project, playhead, set_playhead
        self.setMinimumSize(240, 135)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)
        self.setStyleSheet("background: #000; color: #777;")
        self.cache = FrameCache(height=270)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._advance)

    def reset(self) -> None:
        """A different project: drop decoded frames."""
        self.stop()
        self.cache = FrameCache(height=270)

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
        self._timer.start(max(1, round(1000 / project.fps)))
        self.playing_changed.emit(True)

    def stop(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.playing_changed.emit(False)

    def _advance(self) -> None:
        if self._playhead() + 1 >= self._project().total_frames:
            self.stop()
            return
        self._set_playhead(self._playhead() + 1)

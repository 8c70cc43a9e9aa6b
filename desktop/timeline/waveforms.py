"""Clips' waveforms on the timeline: peaks computed once in the background, drawn under the filmstrip.

`WaveformStore.sound(path)` answers at once: the file's `ClipSound` (peaks and frame rate), None
for a file without sound, or PENDING while its peaks are computed on the thread pool
(desktop.background); `ready` fires when they arrive. Peaks are kept on disk beside the
project's media (media/.waveforms/; a never-saved timeline keeps them in the app's cache
folder), so a project opens with its waveforms without decoding its clips again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QLineF, QObject, QRectF, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from desktop.background import run_in_thread_pool
from desktop.project import MEDIA_DIR, Project
from ltx_mlx_core import paths
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.video.probe import probe_media
from ltx_mlx_core.video.waveform import Peaks, cached_peaks

logger = logging.getLogger(__name__)

WAVEFORM_FOLDER = ".waveforms"
WAVE_HEIGHT = 26
WAVE_COLOUR = "#5ec8a0"
MUTED_COLOUR = "#6b6f76"
PENDING = "pending"


@dataclass(frozen=True)
class ClipSound:
    peaks: Peaks
    fps: float  # the file's frame rate: where its frames are in its sound


def waveform_cache(project: Project) -> Path:
    """Where a project's waveforms are kept: beside its media, or the app's cache for an unsaved one."""
    if project.folder is not None:
        return project.folder / MEDIA_DIR / WAVEFORM_FOLDER
    return paths.cache_dir() / "waveforms"


def load_clip_sound(path: Path, cache: Path) -> ClipSound | None:
    """On a pool thread: the file's peaks (from the cache when there) and frame rate; None without sound."""
    peaks = cached_peaks(path, cache)
    return None if peaks is None else ClipSound(peaks, probe_media(path).fps)


class WaveformStore(QObject):
    ready = Signal(str)  # a file's sound (or the news that it has none) is known

    def __init__(self, cache: Callable[[], Path], parent: QObject | None = None):
        super().__init__(parent)
        self._cache = cache
        self._known: dict[str, ClipSound | None] = {}
        self._pending: set[str] = set()

    def sound(self, path: Path) -> ClipSound | None | str:
        key = str(path)
        if key in self._known:
            return self._known[key]
        if key not in self._pending:
            self._pending.add(key)
            cache = self._cache()
            run_in_thread_pool(
                lambda progress: load_clip_sound(Path(key), cache),
                self,
                name=f"waveform {path.name}",
                on_result=lambda sound: self._arrived(key, sound),
                on_error=lambda error: self._failed(key, error),
                expected=(LtxMlxError, OSError),
            )
        return PENDING

    def _arrived(self, key: str, sound: ClipSound | None) -> None:
        self._pending.discard(key)
        self._known[key] = sound
        self.ready.emit(key)

    def _failed(self, key: str, error: BaseException) -> None:
        logger.warning("no waveform for %s: %s", key, error)
        self._arrived(key, None)


class WaveformItem(QGraphicsItem):
    """A clip's sound under its filmstrip: peaks over the clip's kept frames, scaled by its gain."""

    def __init__(
        self,
        sound: ClipSound,
        first_frame: int,
        frames: int,
        width: float,
        gain: float,
        muted: bool,
        parent: QGraphicsItem,
    ):
        super().__init__(parent)
        self.sound, self.first_frame, self.frames = sound, first_frame, frames
        self.width, self.gain, self.muted = width, gain, muted

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.width, WAVE_HEIGHT)

    def columns(self) -> np.ndarray:
        """(low, high) per pixel column, gain applied, clipped to full scale."""
        start = self.first_frame / self.sound.fps
        end = (self.first_frame + self.frames) / self.sound.fps
        count = max(1, int(self.width))
        return np.clip(self.sound.peaks.columns(start, end, count) * self.gain, -1.0, 1.0)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.fillRect(self.boundingRect(), QColor(0, 0, 0, 110))
        middle = WAVE_HEIGHT / 2
        painter.setPen(QPen(QColor(MUTED_COLOUR if self.muted else WAVE_COLOUR), 1))
        scale = middle - 1
        painter.drawLines(
            [
                QLineF(x + 0.5, middle - high * scale, x + 0.5, middle - low * scale + 0.5)
                for x, (low, high) in enumerate(self.columns())
            ]
        )

"""The conditioning strip's sound row: a dropped or pasted audio file, its waveform, where it starts.

The sound guides an LTX-2 generation (the request's `audio_path`, from `audio_start` seconds into
the file); its waveform is computed on the thread pool (desktop.background) and drawn once it
arrives, so a long file never holds the window up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QLineF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QDoubleSpinBox, QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from desktop.background import run_in_thread_pool
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.video.waveform import Peaks, file_peaks

WAVE_SIZE = (150, 56)
WAVE_COLOUR = "#3aa37f"


def waveform_pixmap(peaks: Peaks, width: int, height: int, colour: str = WAVE_COLOUR) -> QPixmap:
    """The whole sound's peaks as a picture (each column its low and high), on a transparent ground."""
    pixmap = QPixmap(width, height)
    pixmap.fill(Qt.GlobalColor.transparent)
    columns = np.clip(peaks.columns(0.0, max(peaks.duration, 1e-3), width), -1.0, 1.0)
    middle, scale = height / 2, height / 2 - 1
    painter = QPainter(pixmap)
    painter.setPen(QPen(QColor(colour), 1))
    painter.drawLines(
        [
            QLineF(x + 0.5, middle - high * scale, x + 0.5, middle - low * scale + 0.5)
            for x, (low, high) in enumerate(columns)
        ]
    )
    painter.end()
    return pixmap


class AudioRow(QFrame):
    """One sound: waveform, name and length, the second it starts from, remove button."""

    removed = Signal(object)
    waveform_ready = Signal()

    def __init__(self, path: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.path = path
        self.peaks: Peaks | None = None
        self.unused_reason: str | None = None  # why the chosen model does not follow this sound
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        self.waveform = QLabel("♪ …")
        self.waveform.setFixedSize(*WAVE_SIZE)
        self.waveform.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.waveform.setToolTip("The sound's waveform")
        layout.addWidget(self.waveform)
        self.name_label = QLabel(f"{Path(path).name}\nsound")
        layout.addWidget(self.name_label, 1)
        layout.addWidget(QLabel("from"))
        self.start_spin = QDoubleSpinBox(minimum=0.0, maximum=3600.0, singleStep=0.5, decimals=2, suffix=" s")
        self.start_spin.setToolTip("Where in the sound the video starts (LTX-2 models follow the sound from here)")
        layout.addWidget(self.start_spin)
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: self.removed.emit(self))
        layout.addWidget(remove)
        run_in_thread_pool(
            lambda progress: file_peaks(path),
            self,
            name=f"waveform {Path(path).name}",
            on_result=self._show_peaks,
            on_error=self._no_peaks,
            expected=(LtxMlxError, OSError),
        )

    def start(self) -> float:
        return self.start_spin.value()

    def set_unused(self, reason: str | None) -> None:
        """Grey the sound out and say why when the chosen model cannot follow it (it stays on the strip,
        for when an LTX-2 model is chosen again; Remove still works)."""
        self.unused_reason = reason
        for widget in (self.waveform, self.name_label, self.start_spin):
            widget.setEnabled(reason is None)
        self.setToolTip(f"Not used: {reason}" if reason else "")
        self._describe()

    def _describe(self) -> None:
        length = f" · {self.peaks.duration:.1f} s" if self.peaks is not None else ""
        unused = " · not used by this model" if self.unused_reason else ""
        self.name_label.setText(f"{Path(self.path).name}\nsound{length}{unused}")

    def _show_peaks(self, peaks: Peaks | None) -> None:
        if peaks is None:
            self._no_peaks(None)
            return
        self.peaks = peaks
        self.waveform.setPixmap(waveform_pixmap(peaks, *WAVE_SIZE))
        self._describe()
        self.start_spin.setMaximum(max(0.0, peaks.duration - 0.01))
        self.waveform_ready.emit()

    def _no_peaks(self, error: BaseException | None) -> None:
        self.waveform.setText("no sound")
        self.waveform.setToolTip(str(error) if error else "The file holds no sound")
        self.waveform_ready.emit()

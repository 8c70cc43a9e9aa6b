"""The preview pane: live denoising previews, then the finished clip played in a loop.

Frames are uint8 [F, H, W, 3] arrays (previews from the worker, or the MP4
decoded with imageio); a QTimer steps through them at the clip's frame rate,
and a slider scrubs.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider, QVBoxLayout, QWidget,
)

from desktop.background import run_in_thread_pool
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.video.io import read_video

log = logging.getLogger(__name__)


def frame_to_image(frame: np.ndarray) -> QImage:
    frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
    height, width, _ = frame.shape
    return QImage(frame.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


class PreviewPlayer(QWidget):
    clip_loaded = Signal(str)  # path, once its frames are decoded and playing
    load_failed = Signal(str)  # message

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.frames: Optional[np.ndarray] = None
        self.fps = 24.0
        self.current = 0
        self.source: Optional[Path] = None
        self._image: Optional[QImage] = None
        self._load_number = 0

        self.screen = QLabel("The preview appears here while a video is generated.")
        self.screen.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.screen.setMinimumSize(320, 200)
        self.screen.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.screen.setStyleSheet("background: black; color: #aaa;")

        self.play_button = QPushButton("Pause")
        self.play_button.setEnabled(False)
        self.play_button.clicked.connect(self.toggle_playing)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self.show_frame)
        self.slider.sliderPressed.connect(self._pause_for_scrub)
        self.loop_box = QCheckBox("Loop")
        self.loop_box.setChecked(True)
        self.position_label = QLabel("")

        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.position_label)
        controls.addWidget(self.loop_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.screen, 1)
        layout.addLayout(controls)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self._advance)

    # ----- live previews -----
    def show_preview(self, frames: np.ndarray) -> None:
        """A denoising preview: show its middle frame, no playback controls."""
        self.stop()
        self._load_number += 1
        self.source = None
        self.frames = None
        self.slider.setEnabled(False)
        self.play_button.setEnabled(False)
        frames = np.asarray(frames)
        self._set_image(frame_to_image(frames[len(frames) // 2]))
        self.position_label.setText("preview")

    def show_message(self, text: str) -> None:
        self.stop()
        self._load_number += 1
        self._image = None
        self.screen.setPixmap(QPixmap())
        self.screen.setText(text)

    # ----- playback -----
    def load_video(self, path: str | Path) -> None:
        """Decode the clip in a thread (starting ffmpeg takes ~0.2 s), then play it."""
        self._load_number += 1
        number = self._load_number
        run_in_thread_pool(lambda progress: read_video(path), self, name=f"decode {Path(path).name}",
                           on_result=lambda decoded: self._on_decoded(*decoded, str(path), number),
                           on_error=lambda error: self._on_decode_failed(str(path), error),
                           expected=(LtxMlxError, OSError))

    def _on_decoded(self, frames: np.ndarray, fps: float, path: str, number: int) -> None:
        if number != self._load_number:
            return  # a newer clip (or a live preview) replaced this one meanwhile
        self.source = Path(path)
        self.play(frames, fps)
        self.clip_loaded.emit(path)

    def _on_decode_failed(self, path: str, error: BaseException) -> None:
        log.warning("Cannot play %s: %s", path, error)
        self.load_failed.emit(f"Cannot play {Path(path).name}: {error}")

    def play(self, frames: np.ndarray, fps: float) -> None:
        self.frames = np.asarray(frames)
        self.fps = float(fps) if fps > 0 else 24.0
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.frames) - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(True)
        self.play_button.setEnabled(True)
        self.show_frame(0)
        self.timer.start(max(1, int(round(1000.0 / self.fps))))
        self.play_button.setText("Pause")

    def is_playing(self) -> bool:
        return self.timer.isActive()

    def stop(self) -> None:
        self.timer.stop()
        self.play_button.setText("Play")

    def toggle_playing(self) -> None:
        if self.frames is None:
            return
        if self.timer.isActive():
            self.stop()
        else:
            if self.current >= len(self.frames) - 1:
                self.current = -1
            self.timer.start(max(1, int(round(1000.0 / self.fps))))
            self.play_button.setText("Pause")

    def _pause_for_scrub(self) -> None:
        self.stop()

    def _advance(self) -> None:
        if self.frames is None:
            return
        following = self.current + 1
        if following >= len(self.frames):
            if not self.loop_box.isChecked():
                self.stop()
                return
            following = 0
        self.slider.setValue(following)  # drives show_frame

    def show_frame(self, index: int) -> None:
        if self.frames is None or not 0 <= index < len(self.frames):
            return
        self.current = index
        self._set_image(frame_to_image(self.frames[index]))
        self.position_label.setText(f"{index + 1}/{len(self.frames)}")

    def _set_image(self, image: QImage) -> None:
        self._image = image
        self._rescale()

    def _rescale(self) -> None:
        if self._image is None:
            return
        pixmap = QPixmap.fromImage(self._image).scaled(
            self.screen.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
        )
        self.screen.setPixmap(pixmap)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

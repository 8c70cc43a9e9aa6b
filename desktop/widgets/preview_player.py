"""The preview pane: live denoising previews, then the finished clip played in a loop, with its sound.

Frames are uint8 [F, H, W, 3] arrays (previews from the worker, or the MP4 decoded with
imageio) and the clip's sound float PCM (decoded with it, in the background). The sound
plays through desktop.sound_output, and the frame shown is the one at the playback clock
(desktop.playback_clock), which follows the sound: picture and sound stay together however
long the clip loops. A slider scrubs; the space bar plays and pauses; volume and mute sit
beside them, greyed out with the reason when the clip or the machine has no sound.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from desktop.background import run_in_thread_pool
from desktop.playback_clock import PlaybackClock
from desktop.sound_output import SoundOutput, to_int16
from desktop.widgets.volume_control import VolumeControl
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.video.audio import read_audio
from ltx_mlx_core.video.io import read_video

log = logging.getLogger(__name__)

TICK_MS = 10  # how often the picture looks at the clock; frames come from the clock, not the ticks
NO_SOUND_IN_CLIP = "this clip has no sound"


def frame_to_image(frame: np.ndarray) -> QImage:
    frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
    height, width, _ = frame.shape
    return QImage(frame.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def decode_clip(path: str | Path) -> tuple[np.ndarray, float, bytes | None]:
    """(frames, fps, sound as the output's 16-bit samples, or None) of a clip: what the player shows and plays."""
    frames, fps = read_video(path)
    sound = read_audio(path)
    return frames, fps, None if sound is None else to_int16(sound)


class PreviewPlayer(QWidget):
    clip_loaded = Signal(str)  # path, once its frames are decoded and playing
    load_failed = Signal(str)  # message
    sound_unavailable = Signal(str)  # why a clip with sound plays without it (once per reason)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.frames: np.ndarray | None = None
        self.fps = 24.0
        self.current = 0
        self.source: Path | None = None
        self._image: QImage | None = None
        self._load_number = 0
        self._told: set[str] = set()  # the reasons for no sound already told
        self.clock = PlaybackClock(time.monotonic)
        self.sound = SoundOutput(self)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # a click on the picture gives the space bar to it

        self.screen = QLabel("The preview appears here while a video is generated.")
        self.screen.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.screen.setMinimumSize(320, 200)
        self.screen.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.screen.setStyleSheet("background: black; color: #aaa;")

        self.play_button = QPushButton("Pause")
        self.play_button.setEnabled(False)
        self.play_button.setToolTip("Play or pause (space bar)")
        self.play_button.clicked.connect(self.toggle_playing)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._on_slider)
        self.slider.sliderPressed.connect(self._pause_for_scrub)
        self.loop_box = QCheckBox("Loop")
        self.loop_box.setChecked(True)
        self.loop_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the space bar plays, never unticks Loop
        self.position_label = QLabel("")
        self.volume = VolumeControl()
        self.volume.volume_changed.connect(self.sound.set_volume)
        self.volume.muted_changed.connect(self.sound.set_muted)
        self.sound.set_volume(self.volume.volume())

        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.position_label)
        controls.addWidget(self.volume)
        controls.addWidget(self.loop_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.screen, 1)
        layout.addLayout(controls)

        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)

    # ----- live previews -----
    def show_preview(self, frames: np.ndarray) -> None:
        """A denoising preview (video only): show its middle frame, no playback controls."""
        self.stop()
        self._load_number += 1
        self.source = None
        self.frames = None
        self.sound.set_samples(None)
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
        """Decode the clip and its sound in a thread (starting ffmpeg takes ~0.2 s), then play it."""
        self._load_number += 1
        number = self._load_number
        run_in_thread_pool(
            lambda progress: decode_clip(path),
            self,
            name=f"decode {Path(path).name}",
            on_result=lambda decoded: self._on_decoded(*decoded, str(path), number),
            on_error=lambda error: self._on_decode_failed(str(path), error),
            expected=(LtxMlxError, OSError),
        )

    def _on_decoded(self, frames: np.ndarray, fps: float, sound: bytes | None, path: str, number: int) -> None:
        if number != self._load_number:
            return  # a newer clip (or a live preview) replaced this one meanwhile
        self.source = Path(path)
        self.play(frames, fps, sound)
        self.clip_loaded.emit(path)

    def _on_decode_failed(self, path: str, error: BaseException) -> None:
        log.warning("Cannot play %s: %s", path, error)
        self.load_failed.emit(f"Cannot play {Path(path).name}: {error}")

    def play(self, frames: np.ndarray, fps: float, sound: np.ndarray | bytes | None = None) -> None:
        """Play `frames` at `fps` from the start, with `sound` (float PCM at the mix rate, or its
        `to_int16` bytes) if given."""
        self.frames = np.asarray(frames)
        self.fps = float(fps) if fps > 0 else 24.0
        self.sound.set_samples(sound)
        self.volume.set_unavailable(None if sound is not None else NO_SOUND_IN_CLIP)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.frames) - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(True)
        self.play_button.setEnabled(True)
        self.show_frame(0)
        self._start_at(0)

    def _start_at(self, frame: int) -> None:
        position = frame / self.fps
        with_sound = self.sound.play(position)
        if self.sound.has_sound:
            self.volume.set_unavailable(None if with_sound else self.sound.problem)
            if not with_sound and self.sound.problem and self.sound.problem not in self._told:
                self._told.add(self.sound.problem)
                self.sound_unavailable.emit(self.sound.problem)
        self.clock.start(position, with_sound=with_sound)
        self.timer.start(TICK_MS)
        self.play_button.setText("Pause")

    def is_playing(self) -> bool:
        return self.timer.isActive()

    def stop(self) -> None:
        self.timer.stop()
        self.clock.stop()
        self.sound.stop()
        self.play_button.setText("Play")

    def toggle_playing(self) -> None:
        if self.frames is None:
            return
        if self.timer.isActive():
            self.stop()
        else:
            self._start_at(0 if self.current >= len(self.frames) - 1 else self.current)

    def _pause_for_scrub(self) -> None:
        self.stop()

    def _tick(self) -> None:
        if self.frames is None:
            return
        self.clock.observe_sound(self.sound.position())
        frame = int(self.clock.position() * self.fps + 1e-6)
        if frame >= len(self.frames):
            if not self.loop_box.isChecked():
                self._show_playing(len(self.frames) - 1)
                self.stop()
                return
            self._show_playing(0)
            self._start_at(0)
            return
        if frame != self.current:
            self._show_playing(frame)

    def _show_playing(self, index: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.show_frame(index)

    def _on_slider(self, index: int) -> None:
        self.show_frame(index)
        if self.timer.isActive():  # a click on the groove while playing: play on from there
            self._start_at(index)

    def show_frame(self, index: int) -> None:
        if self.frames is None or not 0 <= index < len(self.frames):
            return
        self.current = index
        self._set_image(frame_to_image(self.frames[index]))
        self.position_label.setText(f"{index + 1}/{len(self.frames)}")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.toggle_playing()
            event.accept()
            return
        super().keyPressEvent(event)

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

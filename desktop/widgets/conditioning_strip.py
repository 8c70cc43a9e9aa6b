"""The conditioning strip: images and clips that pin frames of the generated video, and a sound to follow.

Files dropped from the file manager (or images and files pasted from the clipboard)
become `ConditioningItem`s. Each row shows a thumbnail (decoded as the pipeline
decodes the image: upright, in the right bit depth, reduced while decoding), the
file name and a frame position the user can move; a sound file (WAV, MP3, M4A,
FLAC) becomes the strip's one sound row, with its waveform (desktop.widgets.audio_item),
which an LTX-2 model follows. Unsupported files are refused with a message saying
which kinds are accepted, unreadable images with the reason the probe gives.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.widgets.audio_item import AudioRow
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.request import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    ConditioningItem,
    check_media_size,
    media_kind,
)
from ltx_mlx_core.video.audio import AUDIO_SUFFIXES
from ltx_mlx_core.video.images import decode_image
from ltx_mlx_core.video.probe import probe_image

log = logging.getLogger(__name__)

THUMB = 56
HINT = (
    "Drop images or video clips here (or paste an image) to condition frames of the video, "
    "or a sound (WAV, MP3, M4A, FLAC) for an LTX-2 model to follow."
)


def unsupported_message(paths: list[str]) -> str:
    names = ", ".join(Path(p).name for p in paths)
    accepted = ", ".join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES | AUDIO_SUFFIXES))
    return f"Cannot use {names} as conditioning: only images, videos and sounds are accepted ({accepted})."


def qimage_to_frames(image: QImage) -> np.ndarray:
    """A QImage -> uint8 [1, H, W, 3] (what ConditioningItem.frames holds)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = rgb.width(), rgb.height()
    row = np.frombuffer(rgb.constBits(), dtype=np.uint8).reshape(height, rgb.bytesPerLine())
    return row[:, : width * 3].reshape(1, height, width, 3).copy()


def frames_to_pixmap(frames: np.ndarray, side: int) -> QPixmap:
    frame = np.ascontiguousarray(frames[0])
    height, width, _ = frame.shape
    image = QImage(frame.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(
        side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


class ConditioningRow(QFrame):
    """One item: thumbnail, name, frame position, remove button."""

    removed = Signal(object)

    def __init__(self, item: ConditioningItem, max_frame: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.item = item
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._load_thumbnail()
        layout.addWidget(self.thumb)
        name = Path(item.path).name if item.path else "Pasted image"
        self.name_label = QLabel(f"{name}\n{item.kind}")
        layout.addWidget(self.name_label, 1)
        layout.addWidget(QLabel("at frame"))
        self.frame_spin = QSpinBox()
        self.frame_spin.setRange(0, max(0, max_frame))
        self.frame_spin.setValue(min(item.frame, max(0, max_frame)))
        self.frame_spin.setToolTip("Where this image or clip's first frame lands in the video")
        self.frame_spin.valueChanged.connect(self._set_frame)
        layout.addWidget(self.frame_spin)
        self.strength_spin = QDoubleSpinBox()
        self.strength_spin.setRange(0.0, 1.0)
        self.strength_spin.setSingleStep(0.1)
        self.strength_spin.setValue(item.strength)
        self.strength_spin.setToolTip("How strictly the video follows this image or clip (1 = exactly)")
        self.strength_spin.valueChanged.connect(self._set_strength)
        layout.addWidget(QLabel("strength"))
        layout.addWidget(self.strength_spin)
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: self.removed.emit(self))
        layout.addWidget(remove)

    def _set_frame(self, frame: int) -> None:
        self.item.frame = frame

    def _set_strength(self, strength: float) -> None:
        self.item.strength = strength

    def set_max_frame(self, max_frame: int) -> None:
        self.frame_spin.setMaximum(max(0, max_frame))

    def _load_thumbnail(self) -> None:
        if self.item.frames is not None:
            self.thumb.setPixmap(frames_to_pixmap(self.item.frames, THUMB))
        elif self.item.kind == "image":
            try:
                frame = decode_image(self.item.path, cover=(THUMB, THUMB))
            except InvalidRequest as error:
                log.warning("no thumbnail for %s: %s", self.item.path, error)
                self.thumb.setText("?")
                return
            self.thumb.setPixmap(frames_to_pixmap(frame[None], THUMB))
        else:
            self.thumb.setText("▶ clip")


class ConditioningStrip(QFrame):
    """Accepts drops; `items()` gives the request's conditioning list."""

    items_changed = Signal()
    rejected = Signal(str)  # a message for the user

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumHeight(THUMB + 24)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(6, 6, 6, 6)
        self.hint = QLabel(HINT)
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setEnabled(False)  # drawn in the palette's disabled (placeholder) colour
        self._layout.addWidget(self.hint)
        self.rows: list[ConditioningRow] = []
        self.audio_row: AudioRow | None = None
        self.max_frame = 96
        self.sound_unused_reason: str | None = None  # why the chosen model cannot follow a sound

    def items(self) -> list[ConditioningItem]:
        return [row.item for row in self.rows]

    def audio(self) -> tuple[str, float] | None:
        """(sound file, the second the video starts at in it), or None (also while the chosen model cannot
        follow a sound: the row says so)."""
        if self.audio_row is None or self.sound_unused_reason is not None:
            return None
        return self.audio_row.path, self.audio_row.start()

    def set_sound_unused(self, reason: str | None) -> None:
        """The chosen model cannot follow a sound (`reason` says why) or can (None)."""
        self.sound_unused_reason = reason
        if self.audio_row is not None:
            self.audio_row.set_unused(reason)

    def set_audio(self, path: str, start: float = 0.0) -> AudioRow:
        """The sound the generation follows; a second sound replaces the first."""
        if self.audio_row is not None:
            self.remove_audio()
        row = self.audio_row = AudioRow(str(path), self)
        row.start_spin.setValue(start)
        row.set_unused(self.sound_unused_reason)
        row.removed.connect(lambda _: self.remove_audio())
        self._layout.addWidget(row)
        self.hint.setVisible(False)
        self.items_changed.emit()
        return row

    def remove_audio(self) -> None:
        if self.audio_row is None:
            return
        row, self.audio_row = self.audio_row, None
        row.setParent(None)
        row.deleteLater()
        self.hint.setVisible(not self.rows)
        self.items_changed.emit()

    def set_max_frame(self, max_frame: int) -> None:
        self.max_frame = max_frame
        for row in self.rows:
            row.set_max_frame(max_frame)

    def add_item(self, item: ConditioningItem) -> ConditioningRow:
        row = ConditioningRow(item, self.max_frame, self)
        row.removed.connect(self.remove_row)
        self.rows.append(row)
        self._layout.addWidget(row)
        self.hint.setVisible(False)
        self.items_changed.emit()
        return row

    def remove_row(self, row: ConditioningRow) -> None:
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self.hint.setVisible(not self.rows and self.audio_row is None)
        self.items_changed.emit()

    def clear(self) -> None:
        for row in list(self.rows):
            self.remove_row(row)
        self.remove_audio()

    def add_paths(self, paths: list[str]) -> list[ConditioningRow]:
        """Add every usable file; report the others in one message."""
        added, refused, unreadable = [], [], []
        for path in paths:
            kind = media_kind(path)
            if kind is None or not Path(path).is_file():
                refused.append(path)
                continue
            if kind == "audio":
                self.set_audio(path)
                continue
            if kind == "image":
                # Header and checksums only; videos are probed when the generation is validated.
                try:
                    check_media_size(path, *probe_image(path))
                except InvalidRequest as error:
                    unreadable.append(str(error))
                    continue
            # The first item pins frame 0; later ones default to the end (keyframes).
            frame = 0 if not self.rows else self.max_frame
            added.append(self.add_item(ConditioningItem(path=str(path), frame=frame)))
        messages = ([unsupported_message(refused)] if refused else []) + [
            text[0].upper() + text[1:] for text in unreadable
        ]
        if messages:
            self.rejected.emit(" ".join(messages))
        return added

    def add_image(self, image: QImage) -> ConditioningRow | None:
        if image.isNull():
            self.rejected.emit("The clipboard holds no image to paste.")
            return None
        frame = 0 if not self.rows else self.max_frame
        return self.add_item(ConditioningItem(frames=qimage_to_frames(image), frame=frame))

    def paste(self, mime: QMimeData) -> None:
        """The clipboard's files (copied in a file manager) or its image."""
        paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []
        if paths:
            self.add_paths(paths)
        else:
            self.add_image(QImage(mime.imageData()) if mime.hasImage() else QImage())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls():
            paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
            self.add_paths(paths)
        elif mime.hasImage():
            self.add_image(QImage(mime.imageData()))
        event.acceptProposedAction()

"""History / gallery of past generations: play one again, load and re-run its request, or add it to the timeline.

Each entry shows the clip's first frame. Frames are decoded off the GUI thread
(starting ffmpeg takes a fraction of a second per file), only while the panel is
shown, and cached by file and modification time, so refreshing after every
generation decodes only the new clip.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from desktop.background import run_in_thread_pool
from desktop.history import HistoryEntry, scan_history
from desktop.widgets.preview_player import frame_to_image
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.video.io import read_frames

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = QSize(96, 64)


class HistoryPanel(QWidget):
    open_requested = Signal(object)  # HistoryEntry: play it
    rerun_requested = Signal(object)  # HistoryEntry: load its settings and generate again
    add_to_timeline_requested = Signal(object)  # HistoryEntry: append it to the timeline as a clip
    thumbnails_ready = Signal()  # every entry of the last refresh has its thumbnail (or none could be read)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.list.setIconSize(THUMBNAIL_SIZE)
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setMinimumWidth(300)
        self.list.itemDoubleClicked.connect(lambda item: self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.open_button = QPushButton("Play")
        self.rerun_button = QPushButton("Re-run")
        self.timeline_button = QPushButton("Add to Timeline")
        self.timeline_button.setVisible(False)  # shown when the window has a timeline
        self.open_button.clicked.connect(lambda: self._emit_selected(self.open_requested))
        self.rerun_button.clicked.connect(lambda: self._emit_selected(self.rerun_requested))
        self.timeline_button.clicked.connect(lambda: self._emit_selected(self.add_to_timeline_requested))
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.rerun_button)
        buttons.addWidget(self.timeline_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.entries: list[HistoryEntry] = []
        self._icons: dict[tuple[str, float], QIcon] = {}
        self._refresh_number = 0
        self._missing: list[tuple[str, float]] = []

    def enable_timeline(self, enabled: bool) -> None:
        self.timeline_button.setVisible(enabled)

    def refresh(self, output_dir: Path) -> None:
        self.entries = scan_history(output_dir)
        self.list.clear()
        missing = []
        for entry in self.entries:
            item = QListWidgetItem(f"{entry.title}\n{entry.subtitle}")
            item.setData(Qt.ItemDataRole.UserRole, entry)
            item.setToolTip(str(entry.video))
            icon = self._icons.get((str(entry.video), entry.created))
            if icon is not None:
                item.setIcon(icon)
            else:
                missing.append((str(entry.video), entry.created))
            self.list.addItem(item)
        if self.entries:
            self.list.setCurrentRow(0)
        self._refresh_number += 1
        self._missing = missing
        if self.isVisible():  # a hidden panel decodes nothing (ffmpeg would compete with a generation)
            self._decode_missing()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._decode_missing()

    def _decode_missing(self) -> None:
        missing, self._missing = self._missing, []
        if missing:
            self._decode_thumbnails(missing, self._refresh_number)
        else:
            self._on_thumbnails_done(self._refresh_number)

    def _decode_thumbnails(self, videos: list[tuple[str, float]], number: int) -> None:
        """First frames arrive as progress: (path, mtime, uint8 frame [H, W, 3]); the result is `number`."""

        def decode(progress) -> int:
            for path, mtime in videos:
                try:
                    frame = read_frames(path, 0, 1)[0]
                except (LtxMlxError, OSError, IndexError) as error:
                    log.warning("No thumbnail for %s: %s", path, error)
                    continue
                progress((path, mtime, frame))
            return number

        run_in_thread_pool(
            decode,
            self,
            name="history thumbnails",
            on_progress=lambda item: self._on_thumbnail(*item),
            on_result=self._on_thumbnails_done,
        )

    def _on_thumbnail(self, path: str, mtime: float, frame: np.ndarray) -> None:
        pixmap = QPixmap.fromImage(frame_to_image(frame)).scaled(
            THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        icon = QIcon(pixmap)
        self._icons[(path, mtime)] = icon
        for row in range(self.list.count()):
            entry = self.list.item(row).data(Qt.ItemDataRole.UserRole)
            if str(entry.video) == path and entry.created == mtime:
                self.list.item(row).setIcon(icon)

    def _on_thumbnails_done(self, number: int) -> None:
        if number == self._refresh_number:
            self.thumbnails_ready.emit()

    def has_thumbnail(self, entry: HistoryEntry) -> bool:
        return (str(entry.video), entry.created) in self._icons

    def _emit_selected(self, signal) -> None:
        item = self.list.currentItem()
        if item is not None:
            signal.emit(item.data(Qt.ItemDataRole.UserRole))

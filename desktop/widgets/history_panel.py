"""History / gallery of past generations: play one again, or load and re-run its request."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from desktop.history import HistoryEntry, scan_history


class HistoryPanel(QWidget):
    open_requested = Signal(object)  # HistoryEntry: play it
    rerun_requested = Signal(object)  # HistoryEntry: load its settings and generate again
    add_to_timeline_requested = Signal(object)  # HistoryEntry: append it to the timeline as a clip

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.list.itemDoubleClicked.connect(lambda item: self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.open_button = QPushButton("Play")
        self.rerun_button = QPushButton("Re-run")
        self.timeline_button = QPushButton("Add to Timeline")
        self.timeline_button.setVisible(False)  # shown when the window has a timeline
        self.timeline_button.clicked.connect(lambda: self._emit_selected(self.add_to_timeline_requested))
        self.open_button.clicked.connect(lambda: self._emit_selected(self.open_requested))
        self.rerun_button.clicked.connect(lambda: self._emit_selected(self.rerun_requested))
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.rerun_button)
        buttons.addWidget(self.timeline_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.entries: list[HistoryEntry] = []

    def enable_timeline(self, enabled: bool) -> None:
        self.timeline_button.setVisible(enabled)

    def refresh(self, output_dir: Path) -> None:
        self.entries = scan_history(output_dir)
        self.list.clear()
        for entry in self.entries:
            item = QListWidgetItem(f"{entry.title}\n{entry.subtitle}")
            item.setData(Qt.ItemDataRole.UserRole, entry)
            item.setToolTip(str(entry.video))
            self.list.addItem(item)
        if self.entries:
            self.list.setCurrentRow(0)

    def _emit_selected(self, signal) -> None:
        item = self.list.currentItem()
        if item is not None:
            signal.emit(item.data(Qt.ItemDataRole.UserRole))

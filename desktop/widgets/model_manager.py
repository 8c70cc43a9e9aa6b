"""Model manager: installed and available models, download (progress, cancel), remove, make tiny.

Downloads and the tiny-model build run in a Python thread; progress crosses
back to the GUI thread through a queued Qt signal.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Optional

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton,
    QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from ltx_mlx_core.weights.catalog import CATALOG, is_installed
from ltx_mlx_core.weights.registry import MANIFEST, TINY_ID, tiny_model_dir

log = logging.getLogger(__name__)


def human_size(num_bytes: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if num_bytes >= size:
            return f"{num_bytes / size:.1f} {unit}"
    return f"{num_bytes} B"


def tiny_installed() -> bool:
    return (tiny_model_dir() / MANIFEST).is_file()


def folder_size(path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def installed_models() -> list[tuple[str, str]]:
    """(model id, label) of every model ready to generate with."""
    models = [(mid, entry.label) for mid, entry in CATALOG.items() if is_installed(entry)]
    if tiny_installed():
        models.append((TINY_ID, "Tiny test model (noise, for trials)"))
    return models


class _Task(QObject):
    """Runs a function in a thread; reports progress, success and failure as signals."""

    progress = Signal(int, int, str)  # done, total, text
    done = Signal(str)  # "" on success, else the message
    cancelled = Signal()

    def __init__(self, fn: Callable[["_Task", threading.Event], None]):
        super().__init__()
        self.cancel_event = threading.Event()
        self._fn = fn
        self._thread = threading.Thread(target=self._run, daemon=True, name="model-task")

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from desktop.worker import import_generation_modules
        from ltx_mlx_core.weights.download import DownloadCancelled

        try:
            import_generation_modules()  # the generation worker may be importing them right now
            self._fn(self, self.cancel_event)
            self.done.emit("")
        except DownloadCancelled:
            self.cancelled.emit()
        except Exception as error:  # shown to the user; the dialog stays usable
            log.exception("Model task failed")
            self.done.emit(str(error) or type(error).__name__)


class ModelManager(QDialog):
    models_changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowTitle("Model Manager")
        self.resize(760, 380)
        self.task: Optional[_Task] = None
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Model", "Size", "Status"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.download_button = QPushButton("Download")
        self.remove_button = QPushButton("Remove")
        self.tiny_button = QPushButton("Make Tiny Test Model")
        self.tiny_button.setToolTip("A small random-weight model for offline trials (its output is noise)")
        self.cancel_button = QPushButton("Cancel Download")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        self.download_button.clicked.connect(self.download_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.tiny_button.clicked.connect(self.make_tiny)
        self.cancel_button.clicked.connect(self.cancel_task)
        self.close_button.clicked.connect(self.accept)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("Models are stored in the Hugging Face cache and shared with other tools.")
        self.status.setWordWrap(True)
        self.licence = QLabel()
        self.licence.setWordWrap(True)

        buttons = QHBoxLayout()
        for button in (self.download_button, self.cancel_button, self.remove_button, self.tiny_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.licence)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.refresh()

    # ----- table -----
    def refresh(self) -> None:
        rows: list[tuple[str, str, int, bool]] = [
            (mid, entry.label, entry.approx_bytes, is_installed(entry)) for mid, entry in CATALOG.items()
        ]
        tiny_dir = tiny_model_dir()
        rows.append((TINY_ID, "Tiny test model (random weights: its output is noise)",
                     folder_size(tiny_dir) if tiny_installed() else 0, tiny_installed()))
        self.table.setRowCount(len(rows))
        for row, (model_id, label, size, installed) in enumerate(rows):
            name = QTableWidgetItem(label)
            name.setData(Qt.ItemDataRole.UserRole, model_id)
            name.setToolTip(model_id)
            self.table.setItem(row, 0, name)
            size_text = human_size(size) if size else "—"
            if model_id != TINY_ID:
                size_text = f"≈ {size_text}"
            self.table.setItem(row, 1, QTableWidgetItem(size_text))
            self.table.setItem(row, 2, QTableWidgetItem("Installed" if installed else "Available"))
        self.table.resizeColumnsToContents()
        self._update_buttons()

    def selected_model(self) -> Optional[str]:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole) if rows else None

    def select_model(self, model_id: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == model_id:
                self.table.selectRow(row)

    def _installed(self, model_id: Optional[str]) -> bool:
        if model_id == TINY_ID:
            return tiny_installed()
        return model_id in CATALOG and is_installed(CATALOG[model_id])

    def _update_buttons(self) -> None:
        model_id = self.selected_model()
        busy = self.task is not None
        installed = self._installed(model_id)
        self.download_button.setEnabled(not busy and model_id in CATALOG and not installed)
        self.remove_button.setEnabled(not busy and model_id is not None and installed)
        self.tiny_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        entry = CATALOG.get(model_id or "")
        self.licence.setText(f"Licence: {entry.licence}" if entry else "")

    # ----- tasks -----
    def _start(self, fn, text: str) -> _Task:
        self.task = _Task(fn)
        self.task.progress.connect(self._on_progress)
        self.task.done.connect(self._on_done)
        self.task.cancelled.connect(self._on_cancelled)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.status.setText(text)
        self._update_buttons()
        self.task.start()
        return self.task

    def download_selected(self) -> Optional[_Task]:
        model_id = self.selected_model()
        if model_id not in CATALOG:
            return None

        def work(task: _Task, cancel: threading.Event) -> None:
            from ltx_mlx_core.weights.download import download_model

            def report(p) -> None:
                task.progress.emit(int(p.done_bytes), int(p.total_bytes),
                                   f"{p.filename} ({p.file_index}/{p.file_count})")

            download_model(model_id, progress=report, cancel=cancel)

        return self._start(work, f"Downloading {model_id}…")

    def make_tiny(self) -> _Task:
        def work(task: _Task, cancel: threading.Event) -> None:
            from ltx_mlx_core.weights.tiny import make_tiny_model

            make_tiny_model(overwrite=True)

        return self._start(work, "Making the tiny test model…")

    def cancel_task(self) -> None:
        if self.task is not None:
            self.task.cancel_event.set()
            self.status.setText("Cancelling…")

    def remove_selected(self) -> None:
        model_id = self.selected_model()
        if not self._installed(model_id):
            return
        answer = QMessageBox.question(self, "Remove model", f"Delete the files of '{model_id}' from disk?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.remove_model(model_id)

    def remove_model(self, model_id: str) -> None:
        if model_id == TINY_ID:
            import shutil

            folder = tiny_model_dir()
            freed = folder_size(folder)
            if folder.is_symlink():
                folder.unlink()  # a linked model folder: drop the link, never the files it points to
                freed = 0
            else:
                shutil.rmtree(folder)
        else:
            from ltx_mlx_core.weights.download import remove_model

            freed = remove_model(model_id)
        self.status.setText(f"Removed {model_id} ({human_size(freed)} freed).")
        self.refresh()
        self.models_changed.emit()

    def _on_progress(self, done: int, total: int, text: str) -> None:
        if total > 0:
            # QProgressBar holds ints: count in kB so multi-GB files fit.
            self.progress.setRange(0, max(1, total // 1024))
            self.progress.setValue(done // 1024)
        self.status.setText(f"Downloading {text}: {human_size(done)} of {human_size(total)}")

    def _finish_task(self, message: str) -> None:
        self.task = None
        self.progress.setVisible(False)
        self.status.setText(message)
        self.refresh()
        self.models_changed.emit()

    def _on_done(self, error: str) -> None:
        self._finish_task(f"Failed: {error}" if error else "Done.")

    def _on_cancelled(self) -> None:
        self._finish_task("Download cancelled; finished files were kept.")

    def reject(self) -> None:
        self.cancel_task()
        super().reject()

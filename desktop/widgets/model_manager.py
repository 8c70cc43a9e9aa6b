"""Model manager: installed and available models, download (progress, cancel), remove, make tiny.

Downloads and the tiny-model build run on the thread pool (desktop.background);
progress, the outcome and failures come back to the GUI thread as its signals.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.background import Progress, TaskDispatcher, run_in_thread_pool
from desktop.warm_up import import_generation_modules
from ltx_mlx_core.weights import download
from ltx_mlx_core.weights.catalog import CATALOG, is_installed
from ltx_mlx_core.weights.download import DownloadCancelled, DownloadProgress
from ltx_mlx_core.weights.registry import MANIFEST, TINY_ID, tiny_model_dir
from ltx_mlx_core.weights.tiny import make_tiny_model

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


# A model task: work(progress, cancel) on the thread pool.
ModelWork = Callable[[Progress, threading.Event], None]


class ModelManager(QDialog):
    models_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Model Manager")
        self.resize(760, 380)
        self.task: TaskDispatcher | None = None
        self._cancel = threading.Event()
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Model", "Size", "Status"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # The name takes what the size and status leave: the columns fill the dialog after every refresh
        # (resizeColumnsToContents after a refresh shrank them to their text and left the right side empty).
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
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
        # The thread pool is waited for when the app exits: a download must not hold the quit up.
        QCoreApplication.instance().aboutToQuit.connect(self.cancel_task)

    # ----- table -----
    def refresh(self) -> None:
        rows: list[tuple[str, str, int, bool]] = [
            (mid, entry.label, entry.approx_bytes, is_installed(entry)) for mid, entry in CATALOG.items()
        ]
        tiny_dir = tiny_model_dir()
        rows.append(
            (
                TINY_ID,
                "Tiny test model (random weights: its output is noise)",
                folder_size(tiny_dir) if tiny_installed() else 0,
                tiny_installed(),
            )
        )
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
        self._update_buttons()

    def selected_model(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole) if rows else None

    def select_model(self, model_id: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == model_id:
                self.table.selectRow(row)

    def _installed(self, model_id: str | None) -> bool:
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
    def _start(self, work: ModelWork, text: str) -> TaskDispatcher:
        cancel = self._cancel = threading.Event()

        def run(progress: Progress) -> None:
            import_generation_modules()  # the generation worker may be importing them right now
            work(progress, cancel)

        self.task = run_in_thread_pool(
            run,
            self,
            name=text,
            on_progress=self._on_progress,
            on_result=lambda _: self._on_done(""),
            on_error=self._on_failed,
            expected=(DownloadCancelled,),
        )
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.status.setText(text)
        self._update_buttons()
        return self.task

    def download_selected(self) -> TaskDispatcher | None:
        model_id = self.selected_model()
        if model_id not in CATALOG:
            return None

        def work(progress: Progress, cancel: threading.Event) -> None:
            download.download_model(model_id, progress=progress, cancel=cancel)

        return self._start(work, f"Downloading {model_id}…")

    def make_tiny(self) -> TaskDispatcher:
        return self._start(lambda progress, cancel: make_tiny_model(overwrite=True), "Making the tiny test model…")

    def cancel_task(self) -> None:
        if self.task is not None:
            self._cancel.set()
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
            folder = tiny_model_dir()
            freed = folder_size(folder)
            if folder.is_symlink():
                folder.unlink()  # a linked model folder: drop the link, never the files it points to
                freed = 0
            else:
                shutil.rmtree(folder)
        else:
            freed = download.remove_model(model_id)
        self.status.setText(f"Removed {model_id} ({human_size(freed)} freed).")
        self.refresh()
        self.models_changed.emit()

    def _on_progress(self, report: DownloadProgress) -> None:
        done, total = int(report.done_bytes), int(report.total_bytes)
        text = f"{report.filename} ({report.file_index}/{report.file_count})"
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

    def _on_failed(self, error: BaseException) -> None:
        if isinstance(error, DownloadCancelled):
            self._on_cancelled()
        else:  # shown to the user; the dialog stays usable
            self._on_done(str(error) or type(error).__name__)

    def _on_cancelled(self) -> None:
        self._finish_task("Download cancelled; finished files were kept.")

    def reject(self) -> None:
        self.cancel_task()
        super().reject()

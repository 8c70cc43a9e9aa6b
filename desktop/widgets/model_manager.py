"""Model manager: every model by family (size, installed or not, what it can do), download (progress,
cancel), remove, and the two tiny test models (LTX-Video and LTX-2).

Downloads and the tiny-model build run on the thread pool (desktop.background);
progress, the outcome and failures come back to the GUI thread as its signals.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QFont
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
from desktop.model_choices import ModelChoice, human_size, model_choices
from desktop.warm_up import import_generation_modules
from ltx_mlx_core.weights import download
from ltx_mlx_core.weights.catalog import CATALOG, is_installed
from ltx_mlx_core.weights.download import DownloadCancelled, DownloadProgress
from ltx_mlx_core.weights.registry import LTX2, LTXV, MANIFEST, TINY_ID, TINY_LTX2_ID, tiny_model_dir
from ltx_mlx_core.weights.tiny import make_tiny_model
from ltx_mlx_core.weights.tiny_ltx2 import make_tiny_ltx2_model

log = logging.getLogger(__name__)


TINY_FAMILY = {TINY_ID: LTXV, TINY_LTX2_ID: LTX2}
COLUMNS = ("Model", "Size", "Status", "Can do")


def tiny_installed(family: str = LTXV) -> bool:
    return (tiny_model_dir(family) / MANIFEST).is_file()


def folder_size(path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def installed_models() -> list[tuple[str, str]]:
    """(model id, label) of every model ready to generate with."""
    return [(choice.model_id, choice.label) for choice in model_choices() if choice.installed]


# A model task: work(progress, cancel) on the thread pool.
ModelWork = Callable[[Progress, threading.Event], None]


class ModelManager(QDialog):
    models_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Model Manager")
        self.resize(1000, 640)  # every family and its models without scrolling
        self.task: TaskDispatcher | None = None
        self._cancel = threading.Event()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # The name and what it can do share what the size and status leave: the columns fill the dialog
        # after every refresh (resizeColumnsToContents after a refresh shrank them to their text and left
        # the right side empty).
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            mode = QHeaderView.ResizeMode.ResizeToContents if column in (1, 2) else QHeaderView.ResizeMode.Stretch
            header.setSectionResizeMode(column, mode)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.download_button = QPushButton("Download")
        self.remove_button = QPushButton("Remove")
        self.tiny_button = QPushButton("Make Tiny Test Model")
        self.tiny_button.setToolTip("A small random-weight LTX-Video model for offline trials (its output is noise)")
        self.tiny_ltx2_button = QPushButton("Make Tiny LTX-2 Model")
        self.tiny_ltx2_button.setToolTip(
            "A small random-weight LTX-2 model, video with sound, for offline trials (its picture and sound are noise)"
        )
        self.cancel_button = QPushButton("Cancel Download")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        self.download_button.clicked.connect(self.download_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.tiny_button.clicked.connect(lambda: self.make_tiny())
        self.tiny_ltx2_button.clicked.connect(lambda: self.make_tiny(LTX2))
        self.cancel_button.clicked.connect(self.cancel_task)
        self.close_button.clicked.connect(self.accept)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("Models are stored in the Hugging Face cache and shared with other tools.")
        self.status.setWordWrap(True)
        self.licence = QLabel()
        self.licence.setWordWrap(True)

        buttons = QHBoxLayout()
        for button in (
            self.download_button,
            self.cancel_button,
            self.remove_button,
            self.tiny_button,
            self.tiny_ltx2_button,
        ):
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
        """One heading row per family (LTX-Video 0.9.8, LTX-2, LTX-2.3, LTX-2.5, the test models), then its models."""
        choices = model_choices()
        selected = self.selected_model()
        self.table.clearSpans()
        self.table.setRowCount(0)
        group = None
        for choice in choices:
            if choice.group != group:
                group = choice.group
                self._add_heading(group)
            self._add_model(choice)
        if selected is not None:
            self.select_model(selected)  # the rows are new: the selection goes on with its model
        self._update_buttons()

    def _add_heading(self, text: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        heading = QTableWidgetItem(text)
        heading.setFlags(Qt.ItemFlag.ItemIsEnabled)  # not selectable: a heading, not a model
        font = QFont(heading.font())
        font.setBold(True)
        heading.setFont(font)
        self.table.setItem(row, 0, heading)
        self.table.setSpan(row, 0, 1, len(COLUMNS))

    def _add_model(self, choice: ModelChoice) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        name = QTableWidgetItem(f"  {choice.label}")
        name.setData(Qt.ItemDataRole.UserRole, choice.model_id)
        name.setToolTip(choice.model_id)
        self.table.setItem(row, 0, name)
        size = choice.approx_bytes
        if choice.is_test_model and choice.installed:
            size = folder_size(tiny_model_dir(TINY_FAMILY[choice.model_id]))
        size_text = human_size(size) if size else "—"
        self.table.setItem(row, 1, QTableWidgetItem(size_text if choice.is_test_model else f"≈ {size_text}"))
        self.table.setItem(row, 2, QTableWidgetItem("Installed" if choice.installed else "Available"))
        abilities = QTableWidgetItem(choice.abilities)
        abilities.setToolTip(choice.abilities)
        self.table.setItem(row, 3, abilities)

    def selected_model(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole) if rows else None

    def select_model(self, model_id: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == model_id:
                self.table.selectRow(row)

    def _installed(self, model_id: str | None) -> bool:
        if model_id in TINY_FAMILY:
            return tiny_installed(TINY_FAMILY[model_id])
        return model_id in CATALOG and is_installed(CATALOG[model_id])

    def _update_buttons(self) -> None:
        model_id = self.selected_model()
        busy = self.task is not None
        installed = self._installed(model_id)
        self.download_button.setEnabled(not busy and model_id in CATALOG and not installed)
        self.remove_button.setEnabled(not busy and model_id is not None and installed)
        self.tiny_button.setEnabled(not busy)
        self.tiny_ltx2_button.setEnabled(not busy)
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

    def make_tiny(self, family: str = LTXV) -> TaskDispatcher:
        """Make (or make again) the tiny test model of a family: LTX-Video's, or LTX-2's with sound."""
        if family == LTX2:
            return self._start(
                lambda progress, cancel: make_tiny_ltx2_model(tiny_model_dir(LTX2), overwrite=True),
                "Making the tiny LTX-2 test model…",
            )
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
        if model_id in TINY_FAMILY:
            folder = tiny_model_dir(TINY_FAMILY[model_id])
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

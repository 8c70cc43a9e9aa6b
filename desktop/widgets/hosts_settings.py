"""File → Settings → Hosts: the host file, its hosts and their check, and the switch to use them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.background import run_in_thread_pool
from desktop.hosts import HostFile, HostStatus, check_hosts, read_host_file
from ltx_mlx_core.errors import LtxMlxError

COLUMNS = ("Rank", "Host", "Addresses", "Status")


class HostsSection(QGroupBox):
    """Edits `hosts_file` and `hosts_enabled`; `check()` asks every host whether it answers and has `model`."""

    checked = Signal(list)  # [HostStatus], once a check is over

    def __init__(self, host_file: str | None, enabled: bool, model: str | None, parent: QWidget | None = None):
        super().__init__("Hosts", parent)
        self.model = model
        self.host_file: HostFile | None = None
        self.file_edit = QLineEdit(host_file or "")
        self.file_edit.setPlaceholderText("An mlx.launch host file (JSON); the first host is this machine")
        self.file_edit.editingFinished.connect(lambda: self.load(self.file_edit.text()))
        choose = QPushButton("Choose…")
        choose.clicked.connect(self.browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(choose)

        self.table = QTreeWidget()
        self.table.setHeaderLabels(COLUMNS)
        self.table.setRootIsDecorated(False)
        self.table.setMinimumHeight(96)
        self.check_button = QPushButton("Check hosts")
        self.check_button.setToolTip(
            "Start a tiny job on every host: does it answer, reach the others, have the model?"
        )
        self.check_button.clicked.connect(self.check)
        self.status = QLabel()
        self.status.setWordWrap(True)
        check_row = QHBoxLayout()
        check_row.addWidget(self.check_button)
        check_row.addWidget(self.status, 1)
        self.enabled_box = QCheckBox("Run generations across these hosts")
        self.enabled_box.setToolTip(
            "Generations run on every host at once (mlx.launch), the model split between them; "
            "every host needs ltx-mlx and the model installed"
        )
        self.enabled_box.setChecked(enabled)

        layout = QVBoxLayout(self)
        layout.addLayout(file_row)
        layout.addWidget(self.table)
        layout.addLayout(check_row)
        layout.addWidget(self.enabled_box)
        self.load(host_file or "")

    def browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Host file", self.file_edit.text(), "Host file (*.json)")
        if name:
            self.load(name)

    def load(self, path: str) -> None:
        """Read the host file and list its hosts; a file that cannot be used says why and cannot be switched on."""
        self.file_edit.setText(path)
        self.table.clear()
        self.host_file = None
        if path.strip():
            try:
                self.host_file = read_host_file(path.strip())
            except LtxMlxError as error:
                self.status.setText(str(error))
        else:
            self.status.setText("No host file: generations run on this machine.")
        if self.host_file is not None:
            for host in self.host_file.hosts:
                item = QTreeWidgetItem([str(host.rank), host.ssh, ", ".join(host.ips), "not checked"])
                item.setTextAlignment(0, Qt.AlignmentFlag.AlignCenter)
                self.table.addTopLevelItem(item)
            self.status.setText(f"{len(self.host_file.hosts)} hosts; rank 0 writes the video.")
        usable = self.host_file is not None
        self.check_button.setEnabled(usable and bool(self.model))
        self.enabled_box.setEnabled(usable)
        if not usable:
            self.enabled_box.setChecked(False)

    def check(self) -> None:
        if self.host_file is None or not self.model:
            return
        host_file, model = self.host_file, self.model
        self.check_button.setEnabled(False)
        self.status.setText(f"Checking {len(host_file.hosts)} hosts for '{model}'…")
        for index in range(self.table.topLevelItemCount()):
            self.table.topLevelItem(index).setText(3, "checking…")
        run_in_thread_pool(
            lambda progress: check_hosts(host_file, model),
            self,
            name="check hosts",
            on_result=self._show_check,
            on_error=lambda error: self._check_failed(str(error)),
        )

    def _show_check(self, statuses: list[HostStatus]) -> None:
        for status in statuses:
            item = self.table.topLevelItem(status.rank)
            if item is not None:
                item.setText(3, ("✓ " if status.ok else "✗ ") + status.summary)
                item.setToolTip(3, status.summary)
        good = sum(status.ok for status in statuses)
        self.status.setText(
            f"All {good} hosts are ready." if good == len(statuses) else f"{good} of {len(statuses)} hosts are ready."
        )
        self.check_button.setEnabled(True)
        self.checked.emit(statuses)

    def _check_failed(self, message: str) -> None:
        self.status.setText(f"The check could not run: {message}")
        self.check_button.setEnabled(True)
        self.checked.emit([])

    def values(self) -> dict:
        text = self.file_edit.text().strip()
        return {
            "hosts_file": str(Path(text).expanduser()) if text else None,
            "hosts_enabled": self.enabled_box.isChecked() and self.host_file is not None,
        }

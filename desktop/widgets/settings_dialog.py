"""File → Settings: where videos are saved, how finely they are encoded, and the hosts a generation may share."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from desktop.settings import AppSettings
from desktop.widgets.hosts_settings import HostsSection

# libx264's constant-rate factor: 0 is lossless, 18 looks lossless, 51 is the coarsest.
CRF_RANGE = (0, 51)


class SettingsDialog(QDialog):
    """Edits a copy of the values; `apply()` (OK) writes them to the settings file."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None, model: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.output_edit = QLineEdit(str(settings.output_dir()))
        self.output_edit.setToolTip("Each video is saved here with its request JSON beside it")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self.browse_output_dir)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.output_edit, 1)
        folder_row.addWidget(browse)
        self.crf_spin = QSpinBox()
        self.crf_spin.setRange(*CRF_RANGE)
        self.crf_spin.setValue(int(settings.get("video_crf")))
        self.crf_spin.setToolTip("H.264 quality (CRF): lower is better and larger; 18 looks lossless")

        form = QFormLayout()
        form.addRow("Output folder", folder_row)
        form.addRow("Video quality (CRF)", self.crf_spin)
        # The check asks the hosts for the model the window has chosen (else the last one generated with).
        self.hosts = HostsSection(
            settings.get("hosts_file"), bool(settings.get("hosts_enabled")), model or settings.get("model")
        )
        form.addRow(self.hosts)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setLayout(form)
        self.setMinimumWidth(520)
        self.accepted.connect(self.apply)

    def browse_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output_edit.text())
        if folder:
            self.output_edit.setText(folder)

    def apply(self) -> None:
        text = self.output_edit.text().strip()
        self.settings.set("output_dir", str(Path(text).expanduser()) if text else None)
        self.settings.set("video_crf", self.crf_spin.value())
        self.settings.update(self.hosts.values())
        self.settings.save()

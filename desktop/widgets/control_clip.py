"""The IC-LoRA control clip: a video (depth, pose, edges…) the generation follows, with a strength.

A clip is dropped here or chosen with Choose…; with one set, the request carries it as
`control_path`/`control_strength`, and the LoRA list must hold the IC-LoRA it was made for
(`missing_lora_message` says so before Generate). Only distilled LTX-2 models run IC-LoRA
control; for other models the slot is disabled and says why.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ltx_mlx_core.pipeline.request_ltx2 import VIDEO_SUFFIXES

EMPTY_TEXT = "No control clip: drop a video (depth, pose, edges…) here or Choose… one."
MISSING_LORA = (
    "The control clip needs the IC-LoRA it was made for: add that LoRA file to the LoRA list above "
    "and switch it on (or clear the control clip)."
)


def refused_message(paths: list[str]) -> str:
    names = ", ".join(Path(p).name for p in paths)
    return f"Cannot use {names} as a control clip: it must be a video ({', '.join(sorted(VIDEO_SUFFIXES))})."


class ControlClipSlot(QGroupBox):
    changed = Signal()
    rejected = Signal(str)  # a sentence for the user

    def __init__(self, parent: QWidget | None = None):
        super().__init__("IC-LoRA control clip", parent)
        self.setAcceptDrops(True)
        self.path: str | None = None
        self.unavailable: str | None = None
        self.last_folder = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        self.name_label = QLabel(EMPTY_TEXT)
        self.name_label.setWordWrap(True)
        row.addWidget(self.name_label, 1)
        row.addWidget(QLabel("strength"))
        self.strength_spin = QDoubleSpinBox()
        self.strength_spin.setRange(0.0, 1.0)
        self.strength_spin.setSingleStep(0.05)
        self.strength_spin.setValue(1.0)
        self.strength_spin.setToolTip("How closely the video follows the control clip (1 = fully)")
        row.addWidget(self.strength_spin)
        self.choose_button = QPushButton("Choose…")
        self.choose_button.setToolTip("Choose the control clip (a video)")
        self.choose_button.clicked.connect(self.choose_file)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Generate without a control clip")
        self.clear_button.clicked.connect(lambda: self.set_path(None))
        row.addWidget(self.choose_button)
        row.addWidget(self.clear_button)
        layout.addLayout(row)
        self.warning = QLabel(MISSING_LORA)
        self.warning.setWordWrap(True)
        layout.addWidget(self.warning)
        self.strength_spin.valueChanged.connect(self.changed)
        self._has_lora = False
        self._refresh()

    def set_path(self, path: str | None) -> None:
        self.path = str(path) if path else None
        if self.path:
            self.last_folder = str(Path(self.path).parent)
        self._refresh()
        self.changed.emit()

    def add_paths(self, paths: list[str]) -> bool:
        """The last video among `paths` becomes the control clip; anything else is refused in a sentence."""
        videos = [p for p in paths if Path(p).suffix.lower() in VIDEO_SUFFIXES and Path(p).is_file()]
        refused = [p for p in paths if p not in videos]
        if refused:
            self.rejected.emit(refused_message(refused))
        if videos:
            self.set_path(videos[-1])
        return bool(videos)

    def choose_file(self) -> bool:
        patterns = " ".join(f"*{suffix}" for suffix in sorted(VIDEO_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(self, "Control clip", self.last_folder, f"Videos ({patterns})")
        return self.add_paths([path]) if path else False

    def set_has_lora(self, has_lora: bool) -> None:
        """Whether the LoRA list has a LoRA switched on (the IC-LoRA a control clip needs)."""
        self._has_lora = has_lora
        self._refresh()

    def set_unavailable(self, reason: str | None) -> None:
        """The chosen model cannot run IC-LoRA control (`reason` says why) or can (None); the clip is kept."""
        self.unavailable = reason
        self.setEnabled(reason is None)
        self.setToolTip(reason or "Generate following this clip's structure, with the IC-LoRA made for it")
        self._refresh()

    def _refresh(self) -> None:
        self.name_label.setText(Path(self.path).name if self.path else EMPTY_TEXT)
        self.name_label.setToolTip(self.path or "")
        self.clear_button.setEnabled(self.path is not None)
        self.warning.setVisible(self.missing_lora_message() is not None)

    def control(self) -> tuple[str, float] | None:
        """(clip, strength) for the request, or None (none set, or the model cannot use one)."""
        if self.path is None or self.unavailable is not None:
            return None
        return self.path, round(self.strength_spin.value(), 2)

    def missing_lora_message(self) -> str | None:
        """The sentence shown before Generate when a control clip is set but no LoRA is switched on."""
        return MISSING_LORA if self.control() is not None and not self._has_lora else None

    # ----- persistence -----
    def values(self) -> dict:
        return {"control_path": self.path, "control_strength": round(self.strength_spin.value(), 2)}

    def set_values(self, values: dict) -> None:
        path, strength = values.get("control_path"), values.get("control_strength")
        self.strength_spin.setValue(1.0 if strength is None else float(strength))
        self.set_path(path if path and Path(path).is_file() else None)

    # ----- drops -----
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.add_paths([url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()])
        event.acceptProposedAction()

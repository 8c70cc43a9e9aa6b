"""The LoRA list: LoRA files fused into an LTX-2 model, each with a strength and an on/off box.

Files come from Add… (a file dialog) or a drop from the file manager; anything that is not a
.safetensors file is refused with a sentence. Whether a file really is a LoRA for the chosen
model is the engine's to say (it reads the tensors when the model loads): its message reaches
the window and the list stays as it was. For LTX-Video 0.9.x models the list is disabled and
says why; its entries are kept for when an LTX-2 model is chosen again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ltx_mlx_core.pipeline.request import LoraRef
from ltx_mlx_core.pipeline.request_ltx2 import LORA_SUFFIX

log = logging.getLogger(__name__)

STRENGTH_RANGE = (-2.0, 2.0)
SLIDER_STEPS = 100  # slider ticks per unit of strength
HINT = "Drop LoRA files (.safetensors) here, or Add… them; each has a strength and an on/off box."


def refused_message(paths: list[str]) -> str:
    names = ", ".join(Path(p).name for p in paths)
    return f"Cannot use {names} as a LoRA: a LoRA is a {LORA_SUFFIX} file."


class LoraRow(QFrame):
    """One file: on/off box with its name, strength slider and spin box, Remove."""

    removed = Signal(object)
    changed = Signal()

    def __init__(self, path: str, strength: float = 1.0, enabled: bool = True, parent: QWidget | None = None):
        super().__init__(parent)
        self.path = str(path)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        self.enabled_box = QCheckBox(Path(path).stem)
        self.enabled_box.setChecked(enabled)
        self.enabled_box.setToolTip(f"{self.path}\nOn: fused into the model for the next generation")
        layout.addWidget(self.enabled_box, 1)
        low, high = STRENGTH_RANGE
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(int(low * SLIDER_STEPS), int(high * SLIDER_STEPS))
        self.slider.setMinimumWidth(80)
        self.slider.setToolTip("Strength: 1 is as trained, 0 is off, negative pushes away from it")
        self.spin = QDoubleSpinBox()
        self.spin.setRange(low, high)
        self.spin.setSingleStep(0.05)
        self.spin.setDecimals(2)
        self.spin.setToolTip(self.slider.toolTip())
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        remove = QPushButton("Remove")
        remove.setToolTip("Take this LoRA off the list")
        remove.clicked.connect(lambda: self.removed.emit(self))
        self.remove_button = remove
        layout.addWidget(remove)
        # The slider and the spin show one value; each moves the other without echoing back.
        self.slider.valueChanged.connect(lambda ticks: self._set_spin(ticks / SLIDER_STEPS))
        self.spin.valueChanged.connect(self._set_slider)
        self.spin.valueChanged.connect(self.changed)
        self.enabled_box.toggled.connect(self.changed)
        self.spin.setValue(strength)
        self._set_slider(self.spin.value())

    def _set_spin(self, value: float) -> None:
        if abs(self.spin.value() - value) >= 0.5 / SLIDER_STEPS:
            self.spin.setValue(value)

    def _set_slider(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * SLIDER_STEPS))
        self.slider.blockSignals(False)

    def strength(self) -> float:
        return round(self.spin.value(), 2)

    def is_on(self) -> bool:
        return self.enabled_box.isChecked()

    def value(self) -> dict:
        return {"path": self.path, "strength": self.strength(), "enabled": self.is_on()}


class LoraList(QGroupBox):
    """`loras()` gives the request's LoRAs: the rows switched on, while the chosen model takes LoRAs."""

    changed = Signal()
    rejected = Signal(str)  # a sentence for the user

    def __init__(self, parent: QWidget | None = None):
        super().__init__("LoRAs", parent)
        self.setAcceptDrops(True)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(6, 6, 6, 6)
        self.hint = QLabel(HINT)
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)  # the palette's placeholder colour
        self._layout.addWidget(self.hint)
        self.add_button = QPushButton("Add LoRA…")
        self.add_button.setToolTip(f"Choose LoRA files ({LORA_SUFFIX})")
        self.add_button.clicked.connect(self.choose_files)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        self._layout.addLayout(buttons)
        self.rows: list[LoraRow] = []
        self.unavailable: str | None = None
        self.last_folder = ""

    # ----- entries -----
    def add_lora(self, path: str, strength: float = 1.0, enabled: bool = True) -> LoraRow:
        """A row for `path` (the existing one when it is already listed)."""
        for row in self.rows:
            if Path(row.path) == Path(path):
                return row
        row = LoraRow(str(path), strength, enabled, self)
        row.removed.connect(self.remove_row)
        row.changed.connect(self.changed)
        self.rows.append(row)
        self._layout.insertWidget(self._layout.count() - 1, row)  # above the Add button
        self.hint.setVisible(False)
        self.changed.emit()
        return row

    def remove_row(self, row: LoraRow) -> None:
        self.rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        self.hint.setVisible(not self.rows)
        self.changed.emit()

    def clear(self) -> None:
        for row in list(self.rows):
            self.remove_row(row)

    def add_paths(self, paths: list[str]) -> list[LoraRow]:
        """Add every .safetensors file; the others are refused in one sentence."""
        usable = [p for p in paths if Path(p).suffix.lower() == LORA_SUFFIX and Path(p).is_file()]
        refused = [p for p in paths if p not in usable]
        added = [self.add_lora(p) for p in usable]
        if usable:
            self.last_folder = str(Path(usable[-1]).parent)
        if refused:
            self.rejected.emit(refused_message(refused))
        return added

    def choose_files(self) -> list[LoraRow]:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add LoRA", self.last_folder, f"LoRA files (*{LORA_SUFFIX})")
        return self.add_paths(paths) if paths else []

    # ----- the request -----
    def set_unavailable(self, reason: str | None) -> None:
        """The chosen model takes no LoRAs (`reason` says why) or does (None); the rows are kept."""
        self.unavailable = reason
        self.setEnabled(reason is None)
        self.setToolTip(reason or "")

    def loras(self) -> list[LoraRef]:
        if self.unavailable is not None:
            return []
        return [LoraRef(row.path, row.strength()) for row in self.rows if row.is_on()]

    def set_loras(self, loras: list[LoraRef]) -> None:
        """A past request's LoRAs, all switched on (its other rows go)."""
        self.clear()
        for lora in loras:
            self.add_lora(lora.path, lora.strength)

    # ----- persistence -----
    def values(self) -> list[dict]:
        return [row.value() for row in self.rows]

    def set_values(self, values: list | None) -> None:
        self.clear()
        for value in values or []:
            path = value.get("path") if isinstance(value, dict) else None
            if not path or not Path(path).is_file():
                log.info("LoRA %s from the settings is no longer there; left off the list", path)
                continue
            self.add_lora(path, float(value.get("strength", 1.0)), bool(value.get("enabled", True)))

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

"""Model, size, duration, fps and seed: the basic generation settings form.

Only valid requests can be built from it: sizes snap to multiples of 32,
durations to 8k+1 frames (shown beside the seconds), and the seed is either
locked or drawn anew for every generation.
"""

from __future__ import annotations

import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from desktop.model_choices import SILENT_REASON, ModelChoice, choice_for, human_size
from ltx_mlx_core.pipeline.request import nearest_valid_frames, nearest_valid_size

# (label, width, height): every size a multiple of 32.
RESOLUTION_PRESETS: list[tuple[str, int, int]] = [
    ("768 × 512 · 3:2 landscape", 768, 512),
    ("512 × 768 · 2:3 portrait", 512, 768),
    ("704 × 480 · SD", 704, 480),
    ("960 × 544 · 16:9", 960, 544),
    ("544 × 960 · 9:16 vertical", 544, 960),
    ("1216 × 704 · 16:9 HD", 1216, 704),
    ("512 × 512 · 1:1 square", 512, 512),
    ("256 × 160 · draft", 256, 160),
    ("128 × 96 · tiny test", 128, 96),
]
FPS_CHOICES = (8.0, 12.0, 15.0, 24.0, 25.0, 30.0)
MAX_SEED = 2**31 - 1


def size_key(width: int, height: int) -> str:
    """A preset's combo-box data ("768x512": strings compare reliably inside Qt)."""
    return f"{width}x{height}"


def frames_for_seconds(seconds: float, fps: float) -> int:
    """The 8k+1 frame count closest to `seconds` of video at `fps`."""
    return nearest_valid_frames(int(round(seconds * fps)) + 1)


def seconds_for_frames(frames: int, fps: float) -> float:
    return (frames - 1) / fps


def snap_size(pixels: int, multiple: int) -> int:
    """Closest multiple of `multiple` (at least one)."""
    return max(multiple, round(pixels / multiple) * multiple)


def model_text(choice: ModelChoice) -> str:
    """A picker line: the name indented under its family, its size, and 'not installed' where so."""
    size = human_size(choice.approx_bytes) if choice.approx_bytes else "size unknown"
    if not choice.is_test_model:
        size = f"≈ {size}"
    return f"    {choice.label} · {size}" + ("" if choice.installed else " · not installed")


def model_tooltip(choice: ModelChoice) -> str:
    status = "" if choice.installed else "\nNot installed: download it in Models → Model Manager."
    return f"{choice.label}\n{choice.group}: {choice.abilities}{status}"


class GenerationSettings(QWidget):
    """The form; `values()` / `set_values()` round-trip through the settings file."""

    changed = Signal()
    model_changed = Signal(object)  # the chosen ModelChoice, or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)

        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Models by family (Models → Model Manager to add more)")
        # The lines are long (name, size, status): the popup shows them whole, the box does not widen the form.
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(24)
        self.model_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)  # the row's width
        self._choices: dict[str, ModelChoice] = {}
        self._side_multiple = 32
        form.addRow("Model", self.model_combo)

        self.preset_combo = QComboBox()
        self.preset_combo.addItem("Custom", None)
        for label, width, height in RESOLUTION_PRESETS:
            self.preset_combo.addItem(label, size_key(width, height))
        form.addRow("Resolution", self.preset_combo)

        size_row = QHBoxLayout()
        self.width_spin = self._size_spin("Width in pixels (a multiple of 32)")
        self.height_spin = self._size_spin("Height in pixels (a multiple of 32)")
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        form.addRow("Size", size_row)

        duration_row = QHBoxLayout()
        self.seconds_spin = QDoubleSpinBox()
        self.seconds_spin.setRange(0.1, 60.0)
        self.seconds_spin.setSingleStep(0.5)
        self.seconds_spin.setSuffix(" s")
        self.frames_label = QLabel()
        self.frames_label.setToolTip("LTX-Video makes 8k+1 frames; the duration snaps to the nearest count.")
        self.fps_combo = QComboBox()
        self.fps_combo.setToolTip("Frame rate")
        for fps in FPS_CHOICES:
            self.fps_combo.addItem(f"{fps:g} fps", fps)
        # One row: the duration, the frame rate, and the frame count they make.
        duration_row.addWidget(self.seconds_spin)
        duration_row.addWidget(QLabel("at"))
        duration_row.addWidget(self.fps_combo)
        duration_row.addWidget(self.frames_label, 1)
        form.addRow("Duration", duration_row)

        seed_row = QHBoxLayout()
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_lock = QCheckBox("Lock")
        self.seed_lock.setToolTip("Locked: every generation uses this seed. Unlocked: a new one each time.")
        self.randomise_button = QPushButton("Randomise")
        self.randomise_button.clicked.connect(self.randomise_seed)
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.seed_lock)
        seed_row.addWidget(self.randomise_button)
        form.addRow("Seed", seed_row)

        self.sound_box = QCheckBox("Make sound with the video")
        self.sound_box.setChecked(True)
        form.addRow("Sound", self.sound_box)

        self.preset_combo.currentIndexChanged.connect(self._apply_preset)
        self.width_spin.editingFinished.connect(self._snap_size)
        self.height_spin.editingFinished.connect(self._snap_size)
        self.seconds_spin.valueChanged.connect(self._update_frames)
        self.fps_combo.currentIndexChanged.connect(self._update_frames)
        self.model_combo.currentIndexChanged.connect(self._update_model)
        for signal in (
            self.model_combo.currentIndexChanged,
            self.width_spin.valueChanged,
            self.height_spin.valueChanged,
            self.seconds_spin.valueChanged,
            self.fps_combo.currentIndexChanged,
            self.seed_spin.valueChanged,
            self.seed_lock.toggled,
            self.sound_box.toggled,
        ):
            signal.connect(self.changed)
        self._update_frames()
        self._update_model()

    @staticmethod
    def _size_spin(tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(32, 2048)
        spin.setSingleStep(32)
        spin.setSuffix(" px")
        spin.setToolTip(tip)
        return spin

    # ----- models -----
    def set_models(self, choices: list[ModelChoice], current: str | None = None) -> None:
        """Every model, grouped under its family's heading; models not on this machine are listed but
        cannot be chosen. `current` (else the chosen one) stays chosen when installed, else the first
        installed model is; with none installed nothing is."""
        keep = current or self.model_id()
        self._choices = {choice.model_id: choice for choice in choices}
        model = QStandardItemModel(self.model_combo)
        group = None
        for choice in choices:
            if choice.group != group:
                group = choice.group
                heading = QStandardItem(group)
                heading.setFlags(Qt.ItemFlag.NoItemFlags)
                font = heading.font()
                font.setBold(True)
                heading.setFont(font)
                model.appendRow(heading)
            item = QStandardItem(model_text(choice))
            item.setData(choice.model_id, Qt.ItemDataRole.UserRole)
            item.setToolTip(model_tooltip(choice))
            if not choice.installed:
                item.setFlags(item.flags() & ~(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled))
            model.appendRow(item)
        self.model_combo.blockSignals(True)
        self.model_combo.setModel(model)
        installed = [c.model_id for c in choices if c.installed]
        chosen = keep if keep in installed else (installed[0] if installed else None)
        self.model_combo.setCurrentIndex(self.model_combo.findData(chosen) if chosen else -1)
        self.model_combo.blockSignals(False)
        view = self.model_combo.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth() + 24)
        self._update_model()

    def select_model(self, model_id: str) -> bool:
        """Choose an installed model; False (nothing changes) for one that is not listed or not installed."""
        choice = self._choices.get(model_id)
        if choice is None or not choice.installed:
            return False
        self.model_combo.setCurrentIndex(self.model_combo.findData(model_id))
        return True

    def model_id(self) -> str | None:
        return self.model_combo.currentData()

    def model_choice(self) -> ModelChoice | None:
        model_id = self.model_id()
        return None if model_id is None else self._choices.get(model_id) or choice_for(model_id, [])

    def _update_model(self) -> None:
        choice = self.model_choice()
        self.model_combo.setToolTip(
            model_tooltip(choice) if choice else "No model installed: add one in Models → Model Manager"
        )
        self._update_sound(choice)
        self._update_sizes(choice.side_multiple if choice else 32)
        self.model_changed.emit(choice)

    # ----- sound -----
    def _update_sound(self, choice: ModelChoice | None) -> None:
        """Sound is an LTX-2 family option: for other models the box is disabled and says why."""
        has_sound = choice is not None and choice.makes_sound
        self.sound_box.setEnabled(has_sound)
        self.sound_box.setToolTip(
            "Generate the clip's sound with it (LTX-2 makes video and sound together)" if has_sound else SILENT_REASON
        )

    def with_audio(self) -> bool:
        """Whether the request asks for sound: only when the model makes it and the box is ticked."""
        return self.sound_box.isEnabled() and self.sound_box.isChecked()

    def _update_sizes(self, multiple: int) -> None:
        """The model's size multiple: the spins step and snap by it, presets it cannot make are disabled."""
        self._side_multiple = multiple
        presets = self.preset_combo.model()
        for row in range(1, self.preset_combo.count()):
            width, height = (int(v) for v in self.preset_combo.itemData(row).split("x"))
            item = presets.item(row)
            fits = width % multiple == 0 and height % multiple == 0
            item.setEnabled(fits)
            item.setToolTip("" if fits else f"This model needs width and height in multiples of {multiple} pixels")
        for spin, name in ((self.width_spin, "Width"), (self.height_spin, "Height")):
            spin.setSingleStep(multiple)
            spin.setToolTip(f"{name} in pixels (a multiple of {multiple} for this model)")
        self._snap_size()

    # ----- size, duration, seed -----
    def _apply_preset(self) -> None:
        key = self.preset_combo.currentData()
        if key:
            width, height = (int(v) for v in key.split("x"))
            self.width_spin.setValue(width)
            self.height_spin.setValue(height)

    def _snap_size(self) -> None:
        for spin in (self.width_spin, self.height_spin):
            spin.setValue(snap_size(spin.value(), self._side_multiple))
        self._select_matching_preset()

    def _select_matching_preset(self) -> None:
        match = self.preset_combo.findData(size_key(self.width_spin.value(), self.height_spin.value()))
        self.preset_combo.blockSignals(True)
        self.preset_combo.setCurrentIndex(max(match, 0))
        self.preset_combo.blockSignals(False)

    def fps(self) -> float:
        return float(self.fps_combo.currentData())

    def num_frames(self) -> int:
        return frames_for_seconds(self.seconds_spin.value(), self.fps())

    def _update_frames(self) -> None:
        frames = self.num_frames()
        self.frames_label.setText(f"= {frames} frames ({seconds_for_frames(frames, self.fps()):.2f} s)")

    def randomise_seed(self) -> int:
        self.seed_spin.setValue(random.randint(0, MAX_SEED))
        return self.seed_spin.value()

    def seed_for_next_generation(self) -> int:
        """The locked seed, or a fresh random one (shown in the box so it can be locked afterwards)."""
        if self.seed_lock.isChecked():
            return self.seed_spin.value()
        return self.randomise_seed()

    # ----- persistence -----
    def values(self) -> dict:
        return {
            "model": self.model_id(),
            "width": self.width_spin.value(),
            "height": self.height_spin.value(),
            "seconds": self.seconds_spin.value(),
            "fps": self.fps(),
            "seed": self.seed_spin.value(),
            "seed_locked": self.seed_lock.isChecked(),
            "with_audio": self.sound_box.isChecked(),
        }

    def set_values(self, values: dict) -> None:
        if values.get("model"):
            self.select_model(values["model"])
        self.width_spin.setValue(nearest_valid_size(int(values.get("width") or 768)))
        self.height_spin.setValue(nearest_valid_size(int(values.get("height") or 512)))
        self._snap_size()
        fps_index = self.fps_combo.findData(float(values.get("fps") or 24.0))
        self.fps_combo.setCurrentIndex(max(fps_index, 0))
        self.seconds_spin.setValue(float(values.get("seconds") or 3.0))
        self.seed_spin.setValue(int(values.get("seed") or 0))
        self.seed_lock.setChecked(bool(values.get("seed_locked")))
        self.sound_box.setChecked(values.get("with_audio", True) is not False)
        self._update_frames()

    def set_frames(self, frames: int, fps: float) -> None:
        """Show a request's exact frame count (re-running a past generation)."""
        fps_index = self.fps_combo.findData(float(fps))
        if fps_index < 0:
            self.fps_combo.addItem(f"{fps:g} fps", float(fps))
            fps_index = self.fps_combo.count() - 1
        self.fps_combo.setCurrentIndex(fps_index)
        self.seconds_spin.setValue(seconds_for_frames(frames, fps))

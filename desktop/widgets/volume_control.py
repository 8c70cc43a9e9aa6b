"""A mute button and a volume slider, shared by the preview player and the timeline's playback."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QSlider, QToolButton, QWidget

SPEAKER, MUTED = "🔊", "🔇"


class VolumeControl(QWidget):
    """`volume_changed(float 0-1)` as heard (the slider's scale), `muted_changed(bool)`.

    `set_unavailable(reason)` greys it out and says why there is no sound (no device, or a
    clip without sound); `set_unavailable(None)` makes it usable again.
    """

    volume_changed = Signal(float)
    muted_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.mute_button = QToolButton(text=SPEAKER, checkable=True)
        self.mute_button.setToolTip("Mute the sound")
        self.mute_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the space bar plays, never mutes
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=80)
        self.slider.setFixedWidth(70)
        self.slider.setToolTip("Volume")
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.mute_button)
        layout.addWidget(self.slider)
        self.mute_button.toggled.connect(self._on_muted)
        self.slider.valueChanged.connect(lambda value: self.volume_changed.emit(value / 100))
        self.unavailable: str | None = None

    def volume(self) -> float:
        return self.slider.value() / 100

    def muted(self) -> bool:
        return self.mute_button.isChecked()

    def _on_muted(self, muted: bool) -> None:
        self.mute_button.setText(MUTED if muted or self.unavailable else SPEAKER)
        self.mute_button.setToolTip("Unmute the sound" if muted else "Mute the sound")
        self.muted_changed.emit(muted)

    def set_unavailable(self, reason: str | None) -> None:
        self.unavailable = reason
        self.mute_button.setEnabled(reason is None)
        self.slider.setEnabled(reason is None)
        self.mute_button.setText(MUTED if reason or self.muted() else SPEAKER)
        tip = f"No sound: {reason}." if reason else None
        self.mute_button.setToolTip(tip or ("Unmute the sound" if self.muted() else "Mute the sound"))
        self.slider.setToolTip(tip or "Volume")

"""A mute button and a volume slider, shared by the preview player and the timeline's playback."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QSlider, QStyle, QToolButton, QWidget


class VolumeControl(QWidget):
    """`volume_changed(float 0-1)` as heard (the slider's scale), `muted_changed(bool)`.

    `set_unavailable(reason)` greys it out and says why there is no sound (no device, or a
    clip without sound); `set_unavailable(None)` makes it usable again.
    """

    volume_changed = Signal(float)
    muted_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.mute_button = QToolButton(checkable=True)
        self.mute_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the space bar plays, never mutes
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=80)
        self.slider.setFixedWidth(70)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.mute_button)
        layout.addWidget(self.slider)
        self.unavailable: str | None = None
        self.mute_button.toggled.connect(self._on_muted)
        self.slider.valueChanged.connect(lambda value: self.volume_changed.emit(value / 100))
        self._show_state()

    def volume(self) -> float:
        return self.slider.value() / 100

    def muted(self) -> bool:
        return self.mute_button.isChecked()

    def silent(self) -> bool:
        """Whether the speaker shows as silenced (muted, or no sound to play)."""
        return self.muted() or self.unavailable is not None

    def set_unavailable(self, reason: str | None) -> None:
        self.unavailable = reason
        self.mute_button.setEnabled(reason is None)
        self.slider.setEnabled(reason is None)
        self._show_state()

    def _on_muted(self, muted: bool) -> None:
        self._show_state()
        self.muted_changed.emit(muted)

    def _show_state(self) -> None:
        """The platform's speaker icon (struck through when silent) and a tooltip saying why."""
        icon = QStyle.StandardPixmap.SP_MediaVolumeMuted if self.silent() else QStyle.StandardPixmap.SP_MediaVolume
        self.mute_button.setIcon(self.style().standardIcon(icon))
        tip = f"No sound: {self.unavailable}." if self.unavailable else None
        self.mute_button.setToolTip(tip or ("Unmute the sound" if self.muted() else "Mute the sound"))
        self.slider.setToolTip(tip or "Volume")

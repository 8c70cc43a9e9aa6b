"""The timeline's toolbar: actions on the selection (its sound's level and mute among them), generation
options, transition and export settings."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.project import GAIN_RANGE_DB, Clip
from desktop.widgets.overflow_row import OverflowRow
from ltx_mlx_core.video.io import X264_PRESETS
from ltx_mlx_core.video.outputs import VIDEO_CODECS

# (codec, the file's suffix, what the format menu says); its tooltip names the codecs
EXPORT_FORMATS = (("h264", ".mp4", "MP4"), ("prores", ".mov", "MOV ProRes"))


class TimelineControls(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.project_button = QToolButton(text="Timeline", popupMode=QToolButton.InstantPopup)
        self.play = QPushButton("Play")
        self.play.setToolTip("Play or pause the timeline (space bar)")
        self.extend = QPushButton("Extend")
        self.extend.setToolTip("Generate the next clip from the selected clip's last frames")
        self.extend_count = QSpinBox(minimum=2, maximum=20, value=3, prefix="×")
        self.extend_n = QPushButton("Extend ×N")
        self.extend_n.setToolTip("Extend several times in a row, each from the previous result")
        self.bridge = QPushButton("Bridge")
        self.bridge.setToolTip("Generate a clip joining the selected clip's end to the next clip's start")
        self.retake = QPushButton("Retake")
        self.retake.setToolTip(
            "Regenerate the shift-dragged range: an LTX-2 clip by its model's own retake (picture and sound), "
            "other clips conditioned on the frames around it"
        )
        self.regenerate = QPushButton("Regenerate")
        self.regenerate.setToolTip("Run the clip's request again with a new seed or the edited prompt")
        self.take = QComboBox()
        self.take.setToolTip("Switch between the clip's takes")
        self.transition = QComboBox()
        self.transition.addItems(["Cut", "Crossfade"])
        self.transition.setToolTip("Transition into the selected clip")
        self.fade_frames = QSpinBox(minimum=1, maximum=240, value=8, suffix=" f")
        self.delete = QPushButton("Delete")
        self.clip_mute = QToolButton(text="Mute", checkable=True)
        self.clip_mute.setToolTip("Silence the selected clip's sound, in playback and in the export")
        self.clip_gain = QDoubleSpinBox(
            minimum=GAIN_RANGE_DB[0], maximum=GAIN_RANGE_DB[1], singleStep=1.0, decimals=1, suffix=" dB"
        )
        self.clip_gain.setToolTip("The selected clip's sound level, in playback and in the export")
        self.zoom_out = QToolButton(text="−", toolTip="Zoom out (or Ctrl+wheel over the clips)")
        self.zoom_in = QToolButton(text="+", toolTip="Zoom in (or Ctrl+wheel over the clips)")
        self.export = QPushButton("Export…")
        self.crf = QSpinBox(minimum=0, maximum=51, value=18, prefix="CRF ")
        self.crf.setToolTip("Export quality: lower is better and larger (18 looks lossless)")
        self.preset = QComboBox()
        self.preset.addItems(X264_PRESETS)
        self.preset.setCurrentText("slow")
        self.preset.setToolTip("Export speed: slower presets make smaller files of the same quality")
        self.format = QComboBox()
        for codec, _suffix, label in EXPORT_FORMATS:
            self.format.addItem(label, codec)
        self.format.setToolTip(
            f"MP4 ({VIDEO_CODECS['h264']}) to share and play; MOV ({VIDEO_CODECS['prores']}) "
            "for further editing (larger files)"
        )
        self.prompt = QLineEdit(placeholderText="Prompt for the next generation (empty: keep the clip's prompt)")
        self.seed = QSpinBox(minimum=-1, maximum=2**31 - 2, value=-1, prefix="seed ", specialValueText="seed random")
        self.frames = QSpinBox(minimum=9, maximum=257, value=97, singleStep=8, suffix=" frames")

        # What a narrow window cannot show moves into the row's More menu, least needed first:
        # zoom (Ctrl+wheel does it too), the export settings, then the rarer edits. The timeline
        # menu, Play, Extend and Export always stay.
        self.actions_row = row = OverflowRow()
        row.add(self.project_button)
        row.add(self.play)
        row.add(self.extend)
        row.add_group(self.extend_count, self.extend_n, priority=3)
        row.add(self.bridge, priority=7)
        row.add(self.retake, priority=8)
        row.add(self.regenerate, priority=4)
        row.add(self.take, priority=6)
        row.add_group(self.transition, self.fade_frames, priority=5)
        row.add(self.delete, priority=9)
        row.add_group(self.clip_mute, self.clip_gain, priority=5)
        row.add_stretch()
        row.add_group(QLabel("Zoom"), self.zoom_out, self.zoom_in, priority=1)
        row.add_group(self.crf, self.preset, self.format, priority=2)
        row.add(self.export)
        options = QHBoxLayout()
        options.addWidget(self.prompt, 1)
        options.addWidget(self.seed)
        options.addWidget(self.frames)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(row)
        layout.addLayout(options)

    def export_format(self) -> tuple[str, str]:
        """(codec, suffix) of the chosen export format."""
        codec = self.format.currentData()
        return codec, next(suffix for name, suffix, _ in EXPORT_FORMATS if name == codec)

    def seed_value(self) -> int | None:
        return None if self.seed.value() < 0 else self.seed.value()

    def update_for(self, clip: Clip | None, index: int, clips: int, has_range: bool, exporting: bool) -> None:
        """Enable what applies to the selection; show its takes and transition."""
        self.extend.setEnabled(clip is not None)
        self.extend_n.setEnabled(clip is not None)
        self.bridge.setEnabled(clip is not None and 0 <= index < clips - 1)
        self.retake.setEnabled(has_range)
        self.regenerate.setEnabled(clip is not None and bool(clip.take.request))
        self.delete.setEnabled(clip is not None)
        self.export.setEnabled(clips > 0 and not exporting)
        self.take.clear()
        if clip is not None:
            self.take.addItems([t.label or f"take {n + 1}" for n, t in enumerate(clip.takes)])
            self.take.setCurrentIndex(clip.active)
            self.transition.setCurrentIndex(1 if clip.transition == "crossfade" else 0)
            if clip.transition_frames:
                self.fade_frames.setValue(clip.transition_frames)
        self.take.setEnabled(clip is not None and len(clip.takes) > 1)
        for widget in (self.clip_mute, self.clip_gain):
            widget.setEnabled(clip is not None)
            widget.blockSignals(True)
        self.clip_mute.setChecked(clip is not None and clip.muted)
        self.clip_gain.setValue(clip.gain_db if clip is not None else 0.0)
        for widget in (self.clip_mute, self.clip_gain):
            widget.blockSignals(False)
        self.transition.setEnabled(clip is not None and index > 0)

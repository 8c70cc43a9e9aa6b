"""The left column: prompts, conditioning strip, LoRAs and control clip, size/duration/seed, advanced
settings, Generate/Cancel.

It turns its values into a GenerationRequest and back (a past request loaded
from the history or a JSON file); it never submits anything itself.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from desktop.model_choices import NO_AUDIO_INPUT_REASON, NO_CONTROL_REASON, NO_LORA_REASON, ModelChoice
from desktop.widgets.advanced_settings import AdvancedSettings
from desktop.widgets.conditioning_strip import ConditioningStrip
from desktop.widgets.control_clip import ControlClipSlot
from desktop.widgets.generation_settings import GenerationSettings
from desktop.widgets.lora_list import LoraList
from desktop.widgets.prompt_panel import PromptPanel
from ltx_mlx_core.pipeline.request import GenerationRequest


class _FormFields(QWidget):
    """The scrolled column. Its word-wrapped labels give it a height-for-width, from which
    QScrollArea takes the *preferred* height as the least it may have; answering with the
    minimum instead lets the column shrink to its minimum before it scrolls (the prompt box
    gives up its extra lines first)."""

    def heightForWidth(self, width: int) -> int:
        layout = self.layout()
        return layout.minimumHeightForWidth(width) if layout is not None else super().heightForWidth(width)


class GenerationForm(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.prompt_panel = PromptPanel()
        self.conditioning = ConditioningStrip()
        self.loras = LoraList()
        self.control = ControlClipSlot()
        self.gen_settings = GenerationSettings()
        self.advanced = AdvancedSettings()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.setToolTip("Generate (Ctrl+Return / ⌘↩)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop at the next step (Esc)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.generate_button, 1)

        fields = _FormFields()
        column = QVBoxLayout(fields)
        column.addWidget(self.prompt_panel, 2)
        column.addWidget(self.conditioning)
        column.addWidget(self.gen_settings)
        column.addWidget(self._option_tabs())
        column.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(fields)
        # The column scrolls vertically only: it widens with its content (a dropped item's row)
        # so that every field stays whole.
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fields = fields
        fields.installEventFilter(self)
        self._fit_width()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(buttons)
        self.gen_settings.changed.connect(lambda: self.conditioning.set_max_frame(self.gen_settings.num_frames() - 1))
        self.gen_settings.model_changed.connect(self._model_changed)
        self.loras.changed.connect(lambda: self.control.set_has_lora(bool(self.loras.loras())))
        self._model_changed(self.gen_settings.model_choice())

    def _option_tabs(self) -> QTabWidget:
        """Advanced settings and the LoRA list with the control clip share one place: the form fits the
        window's first size whole (tests/desktop/test_window_layout.py), and each tab shows all of its part."""
        self.advanced.setTitle("")  # the tab names it
        extras = QWidget()
        extras_column = QVBoxLayout(extras)
        extras_column.setContentsMargins(0, 0, 0, 0)
        extras_column.addWidget(self.loras)
        extras_column.addWidget(self.control)
        extras_column.addStretch(1)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.advanced, "Advanced")
        self.tabs.addTab(extras, "")
        self.extras_tab = 1
        self.loras.changed.connect(self._name_extras_tab)
        self.control.changed.connect(self._name_extras_tab)
        self._name_extras_tab()
        return self.tabs

    def _name_extras_tab(self) -> None:
        """'LoRAs (2) · control clip': what is set shows on the tab while Advanced is in front."""
        on = sum(row.is_on() for row in self.loras.rows)
        loras = f"LoRAs ({on})" if self.loras.rows else "LoRAs"
        self.tabs.setTabText(self.extras_tab, f"{loras} · control clip" + (" ✓" if self.control.path else ""))
        self.tabs.setTabToolTip(self.extras_tab, self.loras.unavailable or "LoRA files and an IC-LoRA control clip")

    def _model_changed(self, choice: ModelChoice | None) -> None:
        """Options the chosen model's family does not have are disabled with the reason, never ignored."""
        self.advanced.set_model_choice(choice)
        self.conditioning.set_sound_unused(None if choice is None or choice.follows_sound else NO_AUDIO_INPUT_REASON)
        self.loras.set_unavailable(None if choice is not None and choice.takes_loras else NO_LORA_REASON)
        self.control.set_unavailable(NO_CONTROL_REASON if choice is None else choice.control_unavailable)
        self.control.set_has_lora(bool(self.loras.loras()))
        self._name_extras_tab()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._fields and event.type() == QEvent.Type.LayoutRequest:
            self._fit_width()
        return super().eventFilter(watched, event)

    def _fit_width(self) -> None:
        bar = self.scroll.verticalScrollBar().sizeHint().width()
        frame = 2 * self.scroll.frameWidth()
        self.scroll.setMinimumWidth(self._fields.minimumSizeHint().width() + bar + frame)

    def build_request(self) -> GenerationRequest:
        g = self.gen_settings
        audio = self.conditioning.audio()
        control = self.control.control()
        return GenerationRequest(
            prompt=self.prompt_panel.prompt(),
            negative_prompt=self.prompt_panel.negative_prompt(),
            model=g.model_id() or "",
            width=g.width_spin.value(),
            height=g.height_spin.value(),
            num_frames=g.num_frames(),
            fps=g.fps(),
            seeds=[g.seed_for_next_generation()],
            conditioning=list(self.conditioning.items()),
            with_audio=g.with_audio(),
            audio_path=audio[0] if audio else None,
            audio_start=audio[1] if audio else 0.0,
            loras=self.loras.loras(),
            control_path=control[0] if control else None,
            control_strength=control[1] if control else 1.0,
            **self.advanced.request_fields(),
        )

    def load_request(self, request: GenerationRequest) -> None:
        """Put a past request's settings into the form (its seed locked, so a re-run repeats it)."""
        self.prompt_panel.set_prompt(request.prompt)
        self.prompt_panel.set_negative_prompt(request.negative_prompt)
        g = self.gen_settings
        g.set_values(
            {
                "model": request.model,
                "width": request.width,
                "height": request.height,
                "fps": request.fps,
                "seed": request.seed,
                "seed_locked": True,
                "seconds": (request.num_frames - 1) / request.fps,
            }
        )
        g.set_frames(request.num_frames, request.fps)
        g.sound_box.setChecked(request.with_audio)
        self.conditioning.clear()
        for item in request.conditioning:
            if item.path and Path(item.path).is_file():
                self.conditioning.add_item(item)
        if request.audio_path and Path(request.audio_path).is_file():
            self.conditioning.set_audio(request.audio_path, request.audio_start)
        self.loras.set_loras([lora for lora in request.loras if Path(lora.path).is_file()])
        self.control.strength_spin.setValue(request.control_strength)
        has_control = request.control_path is not None and Path(request.control_path).is_file()
        self.control.set_path(request.control_path if has_control else None)

    def problem(self) -> str | None:
        """A sentence saying what to change before Generate, or None when the form can be submitted."""
        return self.control.missing_lora_message()

    def set_running(self, running: bool, has_model: bool) -> None:
        self.generate_button.setEnabled(not running and has_model)
        self.cancel_button.setEnabled(running)

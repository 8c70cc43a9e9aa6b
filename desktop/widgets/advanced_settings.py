"""Advanced settings: pipeline config (its step schedule), guidance, STG, residency, quantisation,
step cache.

Guidance and STG default to the pipeline config's values ("from config");
setting them becomes a `config_overrides` entry on the request, so the JSON
sidecar records exactly what was changed.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QWidget

from desktop.model_choices import OWN_RECIPE_REASON, ModelChoice
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.paths import configs_dir
from ltx_mlx_core.pipeline.config import find_config_file, read_config_dict
from ltx_mlx_core.pipeline.request import RESIDENCY_MODES
from ltx_mlx_core.pipeline.step_cache import normalise_step_cache

log = logging.getLogger(__name__)

FROM_CONFIG = -1.0  # the spin boxes' minimum, shown as "from config"
RESIDENCY_LABELS = {
    "auto": "Automatic (by free memory)",
    "resident": "Everything in memory (fastest)",
    "stream_components": "One model at a time",
    "stream_blocks": "Stream transformer blocks (least memory)",
}
STEP_CACHE_CHOICES = (
    ("Off", "off"),
    ("Faster (no visible loss)", "faster"),
    ("Fastest (some loss)", "fastest"),
    ("Threshold", "threshold"),
)


def describe_schedule(config_name: str) -> str:
    """'first pass 7 steps · second pass 3 steps' for a pipeline YAML name or path."""
    try:
        data = read_config_dict(find_config_file(config_name))
    except InvalidRequest as error:
        return str(error)

    def steps(section: dict) -> str:
        timesteps = section.get("timesteps")
        return f"{len(timesteps) if timesteps else section.get('num_inference_steps', 20)} steps"

    if data.get("pipeline_type") == "multi-scale":
        return f"two passes: first {steps(data.get('first_pass') or {})}, second {steps(data.get('second_pass') or {})}"
    return f"one pass, {steps(data)}"


class AdvancedSettings(QGroupBox):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Advanced", parent)
        form = QFormLayout(self)

        self.config_combo = QComboBox()
        self.config_combo.addItem("Model default", None)
        for path in sorted(configs_dir().glob("*.yaml")):
            self.config_combo.addItem(path.stem, path.stem)
        self.schedule_label = QLabel()
        self.schedule_label.setWordWrap(True)
        form.addRow("Steps / schedule", self.config_combo)
        form.addRow("", self.schedule_label)

        self.guidance_spin = self._scale_spin("Classifier-free guidance scale (1 = off)")
        self.stg_spin = self._scale_spin("Spatio-temporal guidance scale (0 = off)")
        guidance_row = QHBoxLayout()
        guidance_row.addWidget(self.guidance_spin, 1)
        stg_label = QLabel("STG")
        stg_label.setToolTip(self.stg_spin.toolTip())
        stg_label.setBuddy(self.stg_spin)
        guidance_row.addWidget(stg_label)
        guidance_row.addWidget(self.stg_spin, 1)
        form.addRow("Guidance (CFG)", guidance_row)

        self.residency_combo = QComboBox()
        for mode in RESIDENCY_MODES:
            self.residency_combo.addItem(RESIDENCY_LABELS.get(mode, mode), mode)
        form.addRow("Memory mode", self.residency_combo)

        self.quantize_combo = QComboBox()
        for label, bits in (("Off", None), ("8-bit", 8), ("4-bit", 4)):
            self.quantize_combo.addItem(label, bits)
        self.quantize_combo.setToolTip("Quantise the transformer on load: less memory, slightly lower quality.")
        form.addRow("Quantisation", self.quantize_combo)

        self.step_cache_combo = QComboBox()
        for label, value in STEP_CACHE_CHOICES:
            self.step_cache_combo.addItem(label, value)
        self.step_cache_combo.setToolTip(
            "Reuse the transformer's work on denoising steps that change little: faster generation, "
            "with more loss the higher the threshold."
        )
        self.step_cache_spin = QDoubleSpinBox()
        self.step_cache_spin.setRange(0.0, 10.0)
        self.step_cache_spin.setDecimals(3)
        self.step_cache_spin.setSingleStep(0.01)
        self.step_cache_spin.setValue(0.05)
        self.step_cache_spin.setToolTip("The step cache's threshold (TeaCache's for LTX-Video; 0 never skips).")
        self.step_cache_spin.setEnabled(False)
        step_cache_row = QHBoxLayout()
        step_cache_row.addWidget(self.step_cache_combo, 1)
        step_cache_row.addWidget(self.step_cache_spin)
        form.addRow("Step cache", step_cache_row)
        self.step_cache_combo.currentIndexChanged.connect(
            lambda: self.step_cache_spin.setEnabled(self.step_cache_combo.currentData() == "threshold")
        )

        self.config_combo.currentIndexChanged.connect(self._update_schedule)
        for signal in (
            self.config_combo.currentIndexChanged,
            self.guidance_spin.valueChanged,
            self.stg_spin.valueChanged,
            self.residency_combo.currentIndexChanged,
            self.quantize_combo.currentIndexChanged,
            self.step_cache_combo.currentIndexChanged,
            self.step_cache_spin.valueChanged,
        ):
            signal.connect(self.changed)
        self.default_config: str | None = None
        self.uses_pipeline_configs = True
        self._tips = {w: w.toolTip() for w in (self.config_combo, self.guidance_spin, self.stg_spin)}
        self._update_schedule()

    @staticmethod
    def _scale_spin(tip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(FROM_CONFIG, 20.0)
        spin.setSingleStep(0.5)
        spin.setSpecialValueText("from config")
        spin.setValue(FROM_CONFIG)
        spin.setToolTip(tip)
        return spin

    def set_default_config(self, config: str | None) -> None:
        """The selected model's own pipeline YAML (shown when 'Model default' is chosen)."""
        self.default_config = config
        self._update_schedule()

    def set_model_choice(self, choice: ModelChoice | None) -> None:
        """The LTX-Video schedules and guidance apply to LTX-Video models only: for an LTX-2 model they
        are disabled, say why, and stay out of its requests (its own recipe sets steps and guidance)."""
        self.uses_pipeline_configs = choice is None or choice.uses_pipeline_configs
        for widget, tip in self._tips.items():
            widget.setEnabled(self.uses_pipeline_configs)
            widget.setToolTip(tip if self.uses_pipeline_configs else OWN_RECIPE_REASON)
        self._update_schedule()

    def _update_schedule(self) -> None:
        if not self.uses_pipeline_configs:
            self.schedule_label.setText("the LTX-2 family's own recipe")
            return
        name = self.config_combo.currentData() or self.default_config
        self.schedule_label.setText(describe_schedule(name) if name else "")

    @staticmethod
    def _scale(spin: QDoubleSpinBox) -> float | None:
        return None if spin.value() <= FROM_CONFIG else spin.value()

    def request_fields(self) -> dict[str, Any]:
        """GenerationRequest keyword arguments for these settings (the schedule and guidance only for a
        model they apply to)."""
        overrides: dict[str, Any] = {}
        for key, spin in (("guidance_scale", self.guidance_spin), ("stg_scale", self.stg_spin)):
            value = self._scale(spin) if self.uses_pipeline_configs else None
            if value is not None:
                # Multi-scale configs keep these per pass, single-pass ones at the top level.
                overrides[key] = value
                overrides.setdefault("first_pass", {})[key] = value
                overrides.setdefault("second_pass", {})[key] = value
        return {
            "pipeline_config": self.config_combo.currentData() if self.uses_pipeline_configs else None,
            "config_overrides": overrides,
            "residency": self.residency_combo.currentData(),
            "quantize_bits": self.quantize_combo.currentData(),
            "step_cache": self.step_cache(),
        }

    def step_cache(self) -> str:
        """The request's `step_cache`: a preset's name or the threshold as a number."""
        choice = self.step_cache_combo.currentData()
        return normalise_step_cache(self.step_cache_spin.value()) if choice == "threshold" else choice

    def values(self) -> dict[str, Any]:
        return {
            "steps_preset": self.config_combo.currentData() or "default",
            "guidance_scale": self._scale(self.guidance_spin),
            "stg_scale": self._scale(self.stg_spin),
            "residency": self.residency_combo.currentData(),
            "quantize_bits": self.quantize_combo.currentData(),
            "step_cache": self.step_cache(),
        }

    def set_values(self, values: dict[str, Any]) -> None:
        preset = values.get("steps_preset")
        self.config_combo.setCurrentIndex(max(self.config_combo.findData(preset), 0) if preset != "default" else 0)
        for key, spin in (("guidance_scale", self.guidance_spin), ("stg_scale", self.stg_spin)):
            value = values.get(key)
            spin.setValue(FROM_CONFIG if value is None else float(value))
        self.residency_combo.setCurrentIndex(max(self.residency_combo.findData(values.get("residency", "auto")), 0))
        bits = values.get("quantize_bits")
        self.quantize_combo.setCurrentIndex(max(self.quantize_combo.findData(bits), 0) if bits else 0)
        try:
            step_cache = normalise_step_cache(values.get("step_cache"))
        except InvalidRequest:
            log.warning("Ignoring the saved step cache setting %r", values.get("step_cache"))
            step_cache = "off"
        index = self.step_cache_combo.findData(step_cache)
        if index < 0:
            self.step_cache_spin.setValue(float(step_cache))
            index = self.step_cache_combo.findData("threshold")
        self.step_cache_combo.setCurrentIndex(index)

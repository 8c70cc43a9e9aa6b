"""The generation form's LoRA list and IC-LoRA control clip, on real widgets: files come by the file dialog
and by drops, the switched-on entries (with their strengths) and the control clip go into the request,
other files are refused with a sentence, the parts a model family lacks are disabled with the reason,
a control clip without a LoRA is stopped before Generate, and the whole list comes back from the
settings file."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from desktop.main_window import MainWindow
from desktop.model_choices import (
    DEV_CONTROL_REASON,
    NO_CONTROL_REASON,
    NO_LORA_REASON,
    OTHER_GROUP,
    TEST_GROUP,
    ModelChoice,
)
from desktop.widgets.control_clip import MISSING_LORA
from desktop.widgets.generation_form import GenerationForm
from ltx_mlx_core.pipeline.request import LoraRef
from ltx_mlx_core.weights.registry import LTX2, TINY_LTX2_ID
from tests.desktop.test_conditioning_strip import drop_files, write_png
from tests.desktop.test_timeline_fakes import coloured_clip

DEV_ID = "ltx-2-dev-folder"


def models() -> list[ModelChoice]:
    """LTX-Video's test model (no LoRAs), the tiny LTX-2 (distilled) and an LTX-2 dev model."""
    return [
        ModelChoice("tiny", "Tiny", TEST_GROUP, 4_000_000, True, is_test_model=True),
        ModelChoice(TINY_LTX2_ID, "Tiny LTX-2", TEST_GROUP, 11_000_000, True, LTX2, True, 64),
        ModelChoice(DEV_ID, "LTX-2 dev", OTHER_GROUP, 0, True, LTX2, False, 32, distilled=False),
    ]


def lora_file(path: Path) -> Path:
    """Any .safetensors file will do for the form: the engine reads it (tests below and in test_ltx2_loras)."""
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    return path


@pytest.fixture
def form(qtbot) -> GenerationForm:
    form = GenerationForm()
    qtbot.addWidget(form)
    form.gen_settings.set_models(models(), TINY_LTX2_ID)
    form.prompt_panel.set_prompt("rain on a tin roof")
    form.show()
    form.tabs.setCurrentIndex(form.extras_tab)  # Advanced is in front at first
    return form


def test_loras_from_the_dialog_and_a_drop_go_into_the_request_when_switched_on(form, tmp_path, monkeypatch):
    style, detail = lora_file(tmp_path / "style.safetensors"), lora_file(tmp_path / "detail.safetensors")
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *args: ([str(style)], "LoRA files (*.safetensors)"))
    form.loras.add_button.click()
    refused: list[str] = []
    form.loras.rejected.connect(refused.append)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a LoRA")
    assert drop_files(form.loras, [detail, notes])
    assert refused == ["Cannot use notes.txt as a LoRA: a LoRA is a .safetensors file."]
    first, second = form.loras.rows
    assert (first.path, second.path) == (str(style), str(detail))
    assert first.strength() == 1.0 and first.is_on() and not form.loras.hint.isVisible()
    assert form.tabs.tabText(form.extras_tab) == "LoRAs (2) · control clip"
    second.slider.setValue(-150)  # the slider moves the spin box: strength -1.5
    assert second.spin.value() == -1.5
    first.spin.setValue(0.35)
    assert first.slider.value() == 35
    assert form.build_request().loras == [LoraRef(str(style), 0.35), LoraRef(str(detail), -1.5)]
    first.enabled_box.setChecked(False)
    assert form.build_request().loras == [LoraRef(str(detail), -1.5)]
    assert form.tabs.tabText(form.extras_tab) == "LoRAs (1) · control clip"
    assert (second.spin.minimum(), second.spin.maximum()) == (-2.0, 2.0)
    form.loras.add_paths([str(detail)])  # listed once
    assert len(form.loras.rows) == 2
    second.remove_button.click()
    assert form.build_request().loras == [] and [r.path for r in form.loras.rows] == [str(style)]


def test_a_0_9_model_disables_loras_and_control_with_the_reason_and_keeps_them(form, tmp_path):
    lora = lora_file(tmp_path / "style.safetensors")
    control = coloured_clip(tmp_path / "depth.mp4", 17, (90, 90, 90))
    form.loras.add_paths([str(lora)])
    form.control.add_paths([str(control)])
    assert form.gen_settings.select_model("tiny")
    assert not form.loras.isEnabled() and form.loras.toolTip() == NO_LORA_REASON
    assert not form.control.isEnabled() and form.control.toolTip() == NO_CONTROL_REASON
    assert form.tabs.tabToolTip(form.extras_tab) == NO_LORA_REASON
    request = form.build_request()
    assert request.loras == [] and request.control_path is None
    request.validate()  # nothing an LTX-Video model would refuse
    assert form.gen_settings.select_model(DEV_ID)  # LoRAs yes, control no: dev weights
    assert form.loras.isEnabled() and not form.control.isEnabled()
    assert form.control.toolTip() == DEV_CONTROL_REASON
    assert form.build_request().loras == [LoraRef(str(lora), 1.0)] and form.build_request().control_path is None
    assert form.gen_settings.select_model(TINY_LTX2_ID)  # kept all along
    request = form.build_request()
    assert request.loras == [LoraRef(str(lora), 1.0)] and request.control_path == str(control)


def test_a_control_clip_needs_a_lora_before_generate(form, tmp_path):
    control = coloured_clip(tmp_path / "pose.mp4", 17, (30, 200, 30))
    refused: list[str] = []
    form.control.rejected.connect(refused.append)
    assert drop_files(form.control, [write_png(tmp_path / "still.png")])
    assert refused and "still.png" in refused[0] and ".mp4" in refused[0] and form.control.path is None
    assert form.problem() is None and not form.control.warning.isVisible()
    assert drop_files(form.control, [control])
    form.control.strength_spin.setValue(0.7)
    assert form.control.name_label.text() == "pose.mp4"
    assert form.problem() == MISSING_LORA and form.control.warning.isVisible()
    form.loras.add_paths([str(lora_file(tmp_path / "ic.safetensors"))])
    assert form.problem() is None and not form.control.warning.isVisible()
    request = form.build_request()
    assert (request.control_path, request.control_strength) == (str(control), 0.7)
    request.validate()
    form.loras.rows[0].enabled_box.setChecked(False)  # the one LoRA switched off: stopped again
    assert form.problem() == MISSING_LORA
    form.control.clear_button.click()
    assert form.problem() is None and form.build_request().control_path is None


def test_the_window_stops_generate_without_the_ic_lora_and_saves_the_list(
    qtbot, tmp_path, tiny_ltx2_model, app_settings
):
    app_settings.update({"model": TINY_LTX2_ID, "width": 128, "height": 128})
    window = MainWindow(settings=app_settings, show_model_manager_if_empty=False)
    qtbot.addWidget(window)
    window.prompt_panel.set_prompt("a dancer")
    control = coloured_clip(tmp_path / "pose.mp4", 17, (30, 200, 30))
    window.form.control.add_paths([str(control)])
    window.form.control.strength_spin.setValue(0.6)
    assert window.generate() is None and window.current_job is None
    assert window.error_dialog.text() == MISSING_LORA
    ic, style = lora_file(tmp_path / "ic.safetensors"), lora_file(tmp_path / "style.safetensors")
    window.form.loras.add_paths([str(ic), str(style)])
    window.form.loras.rows[1].spin.setValue(-0.5)
    window.form.loras.rows[1].enabled_box.setChecked(False)
    window.save_settings()
    window.service.shutdown()

    again = MainWindow(settings=type(app_settings)(app_settings.path), show_model_manager_if_empty=False)
    qtbot.addWidget(again)
    try:
        assert again.form.loras.values() == [
            {"path": str(ic), "strength": 1.0, "enabled": True},
            {"path": str(style), "strength": -0.5, "enabled": False},
        ]
        assert again.form.control.control() == (str(control), 0.6) and again.form.problem() is None
        request = again.build_request()
        assert request.loras == [LoraRef(str(ic), 1.0)] and request.control_path == str(control)
    finally:
        again.service.shutdown()

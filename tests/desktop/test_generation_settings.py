"""The settings form only produces valid sizes and 8k+1 frame counts."""

from __future__ import annotations

import pytest

from desktop.model_choices import OWN_RECIPE_REASON
from desktop.widgets.advanced_settings import AdvancedSettings, describe_schedule
from desktop.widgets.generation_form import GenerationForm
from desktop.widgets.generation_settings import (
    RESOLUTION_PRESETS,
    GenerationSettings,
    frames_for_seconds,
    seconds_for_frames,
)
from tests.desktop.test_conditioning_sound import LTX2_ID, two_models


def test_every_resolution_preset_is_a_valid_size():
    for label, width, height in RESOLUTION_PRESETS:
        assert width % 32 == 0 and height % 32 == 0, label


@pytest.mark.parametrize("fps", [8.0, 12.0, 24.0, 25.0, 30.0])
def test_seconds_to_frames_is_always_8k_plus_1_and_round_trips(fps):
    for tenths in range(1, 200):
        frames = frames_for_seconds(tenths / 10, fps)
        assert (frames - 1) % 8 == 0 and frames >= 9
        assert frames_for_seconds(seconds_for_frames(frames, fps), fps) == frames


def test_typed_sizes_snap_to_multiples_of_32_and_select_the_matching_preset(qtbot):
    form = GenerationSettings()
    qtbot.addWidget(form)
    form.width_spin.setValue(500)
    form.height_spin.setValue(515)
    form.width_spin.editingFinished.emit()
    assert (form.width_spin.value(), form.height_spin.value()) == (512, 512)
    assert form.preset_combo.currentData() == "512x512"
    form.preset_combo.setCurrentIndex(form.preset_combo.findData("960x544"))
    assert (form.width_spin.value(), form.height_spin.value()) == (960, 544)


def test_unlocked_seed_changes_each_generation_and_locked_seed_does_not(qtbot):
    form = GenerationSettings()
    qtbot.addWidget(form)
    form.seed_spin.setValue(5)
    form.seed_lock.setChecked(True)
    assert {form.seed_for_next_generation() for _ in range(3)} == {5}
    form.seed_lock.setChecked(False)
    assert len({form.seed_for_next_generation() for _ in range(5)}) > 1


def test_advanced_overrides_reach_the_request_only_when_set(qtbot):
    advanced = AdvancedSettings()
    qtbot.addWidget(advanced)
    assert advanced.request_fields()["config_overrides"] == {}
    advanced.stg_spin.setValue(1.0)
    advanced.quantize_combo.setCurrentIndex(advanced.quantize_combo.findData(8))
    fields = advanced.request_fields()
    assert fields["config_overrides"]["second_pass"]["stg_scale"] == 1.0
    assert fields["quantize_bits"] == 8


def test_schedule_description_reads_the_pipeline_config():
    assert describe_schedule("tiny") == "two passes: first 3 steps, second 2 steps"


def test_an_ltx2_model_takes_sizes_in_64s_and_its_own_recipe_instead_of_the_ltxv_schedule(qtbot):
    """LTX-2's two-stage recipe needs multiples of 64 and takes no LTX-Video YAML or guidance override: the
    form snaps the size, disables the presets and settings that do not apply (saying why) and leaves them
    out of the request; back on an LTX-Video model they are there again."""
    form = GenerationForm()
    qtbot.addWidget(form)
    settings, advanced = form.gen_settings, form.advanced
    settings.set_models(two_models(), "tiny")
    settings.preset_combo.setCurrentIndex(settings.preset_combo.findData("704x480"))
    advanced.config_combo.setCurrentIndex(advanced.config_combo.findData("ltxv-2b-0.9.8-distilled"))
    advanced.guidance_spin.setValue(3.0)
    form.prompt_panel.set_prompt("a bell")
    ltxv = form.build_request()
    assert (ltxv.width, ltxv.height, ltxv.pipeline_config) == (704, 480, "ltxv-2b-0.9.8-distilled")
    assert ltxv.config_overrides["guidance_scale"] == 3.0

    assert settings.select_model(LTX2_ID)
    assert (settings.width_spin.value(), settings.height_spin.value()) == (704, 512)
    assert settings.width_spin.singleStep() == 64 and "multiple of 64" in settings.width_spin.toolTip()
    presets = settings.preset_combo.model()
    sd = presets.item(settings.preset_combo.findData("704x480"))
    assert not sd.isEnabled() and "multiples of 64" in sd.toolTip()
    assert presets.item(settings.preset_combo.findData("768x512")).isEnabled()
    for widget in (advanced.config_combo, advanced.guidance_spin, advanced.stg_spin):
        assert not widget.isEnabled() and widget.toolTip() == OWN_RECIPE_REASON
    assert advanced.schedule_label.text() == "the LTX-2 family's own recipe"
    ltx2 = form.build_request()
    assert (ltx2.width, ltx2.height, ltx2.pipeline_config, ltx2.config_overrides) == (704, 512, None, {})
    ltx2.validate()
    settings.width_spin.setValue(600)
    settings.width_spin.editingFinished.emit()
    assert settings.width_spin.value() == 576

    assert settings.select_model("tiny")
    assert advanced.config_combo.isEnabled() and advanced.guidance_spin.toolTip() != OWN_RECIPE_REASON
    assert sd.isEnabled() and settings.width_spin.singleStep() == 32
    again = form.build_request()
    assert again.pipeline_config == "ltxv-2b-0.9.8-distilled" and again.config_overrides["guidance_scale"] == 3.0

"""The settings form only produces valid sizes and 8k+1 frame counts."""

from __future__ import annotations

import pytest

from desktop.widgets.advanced_settings import AdvancedSettings, describe_schedule
from desktop.widgets.generation_settings import (
    RESOLUTION_PRESETS,
    GenerationSettings,
    frames_for_seconds,
    seconds_for_frames,
)


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

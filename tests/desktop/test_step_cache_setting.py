"""The Advanced panel's step cache control: presets, a raw threshold, and saved settings."""

from __future__ import annotations

from desktop.widgets.advanced_settings import AdvancedSettings


def test_the_step_cache_is_off_until_chosen_and_reaches_the_request(qtbot):
    advanced = AdvancedSettings()
    qtbot.addWidget(advanced)
    assert advanced.request_fields()["step_cache"] == "off"
    assert not advanced.step_cache_spin.isEnabled()
    advanced.step_cache_combo.setCurrentIndex(advanced.step_cache_combo.findData("fastest"))
    assert advanced.request_fields()["step_cache"] == "fastest"
    advanced.step_cache_combo.setCurrentIndex(advanced.step_cache_combo.findData("threshold"))
    assert advanced.step_cache_spin.isEnabled()
    advanced.step_cache_spin.setValue(0.08)
    assert advanced.request_fields()["step_cache"] == "0.08"


def test_saved_step_cache_settings_come_back(qtbot):
    advanced = AdvancedSettings()
    qtbot.addWidget(advanced)
    for saved in ("faster", "0.08", "off"):
        advanced.set_values({"step_cache": saved})
        assert advanced.values()["step_cache"] == saved
    advanced.set_values({"step_cache": "garbled"})
    assert advanced.values()["step_cache"] == "off"
    advanced.set_values({})  # settings from before the control existed
    assert advanced.values()["step_cache"] == "off"

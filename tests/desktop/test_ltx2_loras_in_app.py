"""LoRAs and an IC-LoRA control clip in the window, on the tiny LTX-2 model through the real pipeline: a LoRA
made for another model fails with the engine's sentence naming the file, the form losing nothing; a good
LoRA at a set strength and then a control clip with its IC-LoRA generate, and the sidecar records them."""

from __future__ import annotations

import json

import pytest

from desktop.main_window import MainWindow
from ltx_mlx_core.video.probe import probe_media
from ltx_mlx_core.weights.registry import TINY_LTX2_ID
from tests.desktop.test_conditioning_strip import drop_files
from tests.ltx2_loras import tiny_lora
from tests.sound_clips import sound_clip

GENERATION_TIMEOUT_MS = 300_000


@pytest.mark.slow  # three tiny LTX-2 runs: about 40 s on two cores
def test_loras_and_a_control_clip_generate_and_a_wrong_lora_is_refused_by_the_engine(
    qtbot, tmp_path, tiny_ltx2_model, app_settings
):
    app_settings.update({"model": TINY_LTX2_ID, "width": 128, "height": 128, "with_audio": False})
    window = MainWindow(settings=app_settings, show_model_manager_if_empty=False)
    qtbot.addWidget(window)
    window.show()
    loras, prompt = window.form.loras, "rain on a tin roof"
    window.prompt_panel.set_prompt(prompt)
    wrong = tiny_lora(tmp_path / "wrong.safetensors", wrong_first=True)
    try:
        assert drop_files(loras, [wrong])
        with qtbot.waitSignal(window.generation_failed, timeout=GENERATION_TIMEOUT_MS) as failed:
            window.generate_action.trigger()
        message = failed.args[0]
        assert "wrong.safetensors" in message and "lora_" in message  # the file and the tensor that does not fit
        assert window.error_dialog.text() == message and window.error_dialog.isVisible()
        assert [row.path for row in loras.rows] == [str(wrong)] and window.prompt_panel.prompt() == prompt
        assert window.generate_action.isEnabled()

        loras.rows[0].remove_button.click()
        style = tiny_lora(tmp_path / "style.safetensors")
        loras.add_paths([str(style)])
        loras.rows[0].spin.setValue(0.8)
        with qtbot.waitSignal(window.generation_finished, timeout=GENERATION_TIMEOUT_MS) as done:
            window.generate_action.trigger()
        request = json.loads(open(done.args[0].replace(".mp4", ".json")).read())["request"]
        assert request["loras"] == [{"path": str(style), "strength": 0.8}] and request["control_path"] is None

        control = sound_clip(tmp_path / "depth.mp4", 9 / 8, 8.0, "gray", None, size=(128, 128))
        ic_lora = tiny_lora(tmp_path / "ic.safetensors", seed=3, metadata={"reference_downscale_factor": "1"})
        loras.rows[0].enabled_box.setChecked(False)  # with a control clip the LoRAs are its IC-LoRAs
        loras.add_paths([str(ic_lora)])
        assert drop_files(window.form.control, [control])
        window.form.control.strength_spin.setValue(0.9)
        with qtbot.waitSignal(window.generation_finished, timeout=GENERATION_TIMEOUT_MS) as done:
            window.generate_action.trigger()
    finally:
        window.service.shutdown()
    request = json.loads(open(done.args[0].replace(".mp4", ".json")).read())["request"]
    assert (request["control_path"], request["control_strength"]) == (str(control), 0.9)
    assert request["loras"] == [{"path": str(ic_lora), "strength": 1.0}]
    assert probe_media(done.args[0]).frames == 9

"""A sound dropped or pasted on the conditioning strip: its waveform shows, the request follows it; for a
model without sound it is greyed out with the reason and left out of the request (and the core refuses
it with a sentence); the form's sound switch follows the model's family."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QGuiApplication

from desktop.model_choices import NO_AUDIO_INPUT_REASON, SILENT_REASON, TEST_GROUP, ModelChoice
from desktop.widgets.audio_item import AudioRow
from desktop.widgets.conditioning_strip import ConditioningStrip
from desktop.widgets.generation_form import GenerationForm
from ltx_mlx_core.errors import InvalidRequest
from ltx_mlx_core.pipeline.request import ConditioningItem, GenerationRequest, makes_sound
from ltx_mlx_core.weights.registry import LTX2
from tests.desktop.test_conditioning_strip import drop_files, write_png
from tests.sound_clips import tone_file

LTX2_ID = "tiny-ltx2"


def two_models() -> list[ModelChoice]:
    """The two test models as the picker lists them: LTX-Video's (silent) and LTX-2's (with sound)."""
    return [
        ModelChoice("tiny", "Tiny", TEST_GROUP, 4_000_000, True, is_test_model=True),
        ModelChoice(LTX2_ID, "Tiny LTX-2", TEST_GROUP, 11_000_000, True, LTX2, True, 64),
    ]


def test_a_dropped_sound_file_shows_its_waveform_on_the_strip(qtbot, tmp_path):
    strip = ConditioningStrip()
    qtbot.addWidget(strip)
    strip.show()
    voice = tone_file(tmp_path / "voice.m4a", seconds=1.5)
    image = write_png(tmp_path / "first.png")
    assert drop_files(strip, [image, voice])
    row = strip.audio_row
    assert isinstance(row, AudioRow) and Path(row.path) == voice
    qtbot.waitUntil(lambda: row.peaks is not None, timeout=10_000)
    pixmap = row.waveform.pixmap()
    assert not pixmap.isNull() and (pixmap.width(), pixmap.height()) == (150, 56)
    drawn = pixmap.toImage()
    middle = [drawn.pixelColor(x, 28).alpha() for x in range(0, 150, 10)]
    assert min(middle) > 0  # the tone fills the whole length
    assert "1.5 s" in row.name_label.text() and row.start_spin.maximum() == pytest.approx(1.49)
    assert [item.kind for item in strip.items()] == ["image"]  # the sound is not a frame item
    assert strip.audio() == (str(voice), 0.0) and not strip.hint.isVisible()


def test_pasted_sound_files_replace_the_sound_and_clear_removes_it(qtbot, tmp_path):
    strip = ConditioningStrip()
    qtbot.addWidget(strip)
    first, second = tone_file(tmp_path / "a.wav"), tone_file(tmp_path / "b.flac")
    for path in (first, second):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        QGuiApplication.clipboard().setMimeData(mime)
        strip.paste(QGuiApplication.clipboard().mimeData())
    assert strip.audio() == (str(second), 0.0)
    assert strip.findChildren(AudioRow) == [strip.audio_row]
    strip.audio_row.start_spin.setValue(0.5)
    assert strip.audio() == (str(second), 0.5)
    strip.clear()
    assert strip.audio() is None and not strip.hint.isHidden()


def test_the_request_carries_the_sound_only_for_a_model_that_follows_it(qtbot, tmp_path):
    form = GenerationForm()
    qtbot.addWidget(form)
    form.gen_settings.set_models(two_models(), "tiny")
    voice = tone_file(tmp_path / "voice.wav", seconds=2.0)
    form.conditioning.add_paths([str(voice)])
    row = form.conditioning.audio_row
    row.start_spin.setValue(0.25)
    form.prompt_panel.set_prompt("a choir sings")
    # An LTX-Video model cannot follow a sound: the row stays, greyed out with the reason, and the
    # request leaves it out (no silent use of a sound the model ignores).
    assert row.unused_reason == NO_AUDIO_INPUT_REASON and row.toolTip() == f"Not used: {NO_AUDIO_INPUT_REASON}"
    qtbot.waitUntil(lambda: row.peaks is not None, timeout=10_000)
    assert "not used by this model" in row.name_label.text() and not row.start_spin.isEnabled()
    assert form.build_request().audio_path is None
    refused = GenerationRequest(prompt="a choir sings", model="tiny", audio_path=str(voice))
    with pytest.raises(InvalidRequest, match=r"LTX-Video 0\.9\.x model, which makes silent video.*voice\.wav"):
        refused.validate()  # and the core refuses such a request from any other caller
    assert form.gen_settings.select_model(LTX2_ID)
    assert row.unused_reason is None and row.start_spin.isEnabled() and "not used" not in row.name_label.text()
    request = form.build_request()
    assert request.model == LTX2_ID and request.with_audio
    assert (request.audio_path, request.audio_start) == (str(voice), 0.25)
    request.validate()
    request.check_media()
    late = GenerationRequest.from_dict({**request.to_dict(), "audio_start": 5.0})
    with pytest.raises(InvalidRequest, match="lasts 2.00 s"):
        late.check_media()
    form.conditioning.clear()
    form.load_request(GenerationRequest.from_dict(request.to_dict()))  # a past request puts its sound back
    assert form.conditioning.audio() == (str(voice), 0.25)


def test_the_sound_switch_is_disabled_with_a_reason_for_models_without_sound(qtbot):
    form = GenerationForm()
    qtbot.addWidget(form)
    settings = form.gen_settings
    settings.set_models(two_models(), "tiny")
    box = settings.sound_box
    assert not box.isEnabled() and box.toolTip() == SILENT_REASON and "make silent video" in box.toolTip()
    assert form.build_request().with_audio is False  # never asked of a model that cannot
    assert settings.select_model(LTX2_ID)
    assert box.isEnabled() and box.isChecked() and form.build_request().with_audio
    box.setChecked(False)
    assert form.build_request().with_audio is False and settings.values()["with_audio"] is False
    settings.set_values({**settings.values(), "with_audio": True})
    assert box.isChecked()
    assert GenerationRequest(prompt="x").with_audio  # the default
    assert [makes_sound(m) for m in ("ltx-2-19b-dev", "ltx-2.3-22b", LTX2_ID, "ltxv-2b-0.9.8-distilled", "tiny")] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_a_sound_is_never_taken_as_frames(tmp_path):
    voice = tone_file(tmp_path / "voice.mp3")
    request = GenerationRequest(prompt="x", model=LTX2_ID, conditioning=[ConditioningItem(path=str(voice))])
    with pytest.raises(InvalidRequest, match="is a sound: give it as the request's audio"):
        request.validate()

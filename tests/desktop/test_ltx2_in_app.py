"""The LTX-2 family in the app, end to end on the tiny random-weight LTX-2 model through the real pipeline:
Generate writes the clip with its sound (AAC), the live previews stay silent and the finished clip plays
with sound; sound off makes a silent clip; extending and bridging clips with sound on the timeline
condition on the clip files with sound, and the new clips keep theirs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtGui import QUndoStack

from desktop.generation_service import GenerationService
from desktop.main_window import MainWindow
from desktop.timeline.panel import TimelinePanel
from desktop.widgets.preview_player import NO_SOUND_IN_CLIP
from ltx_mlx_core.video.audio import MIX_RATE, read_audio
from ltx_mlx_core.video.probe import probe_media
from ltx_mlx_core.weights.registry import TINY_LTX2_ID
from tests.sound_clips import sound_clip

GENERATION_TIMEOUT_MS = 300_000


@pytest.fixture
def ltx2_window(qtbot, tiny_ltx2_model, app_settings):
    app_settings.update({"model": TINY_LTX2_ID, "width": 128, "height": 128, "with_audio": True})
    app_settings.save()
    window = MainWindow(settings=app_settings, show_model_manager_if_empty=False)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.service.shutdown()


def generate(qtbot, window) -> str:
    with qtbot.waitSignal(window.generation_finished, timeout=GENERATION_TIMEOUT_MS) as finished:
        window.generate_action.trigger()
    return finished.args[0]


def test_generate_with_tiny_ltx2_writes_the_sound_and_the_finished_clip_plays_it(qtbot, ltx2_window):
    window = ltx2_window
    settings = window.gen_settings
    assert settings.model_id() == TINY_LTX2_ID and settings.with_audio()
    assert (settings.width_spin.value(), settings.height_spin.value()) == (128, 128)
    window.prompt_panel.set_prompt("a drummer on a rooftop")
    seen_while_denoising: list[tuple[bool, bool]] = []
    labels: dict[str, str] = {}
    window.service.preview.connect(
        lambda job, frames: seen_while_denoising.append((window.preview.sound.has_sound, window.preview.is_playing()))
    )
    # Connected after the window's own slot: reads the label the progress panel shows for each stage.
    window.service.stage_started.connect(
        lambda job, name, detail: labels.setdefault(name, window.progress.label.text())
    )

    with qtbot.waitSignal(window.preview.clip_loaded, timeout=GENERATION_TIMEOUT_MS):
        path = generate(qtbot, window)

    info = probe_media(path)
    assert info.frames == 9 and (info.width, info.height) == (128, 128)
    assert "aac" in info.audio_codec
    sound = read_audio(path, rate=MIX_RATE)
    assert abs(len(sound) / MIX_RATE - info.frames / info.fps) <= 1 / info.fps
    assert np.abs(sound).max() > 0  # noise from random weights, but sound
    sidecar = json.loads(open(path.replace(".mp4", ".json")).read())["request"]
    assert sidecar["model"] == TINY_LTX2_ID and sidecar["with_audio"] is True
    # The live previews are pictures only; the finished clip plays with its sound.
    assert seen_while_denoising and all(not has_sound and not playing for has_sound, playing in seen_while_denoising)
    assert labels["decode_sound"].startswith("Decoding sound") and labels["decode"].startswith("Decoding video")
    player = window.preview
    assert player.source is not None and str(player.source) == path and player.is_playing()
    assert player.sound.has_sound and player.sound.duration() == pytest.approx(9 / 8, abs=0.03)
    assert player.volume.unavailable != NO_SOUND_IN_CLIP

    # Sound off for the next request: a silent clip, and the player says it has no sound.
    settings.sound_box.setChecked(False)
    with qtbot.waitSignal(window.preview.clip_loaded, timeout=GENERATION_TIMEOUT_MS):
        silent = generate(qtbot, window)
    assert probe_media(silent).audio_codec is None
    assert json.loads(open(silent.replace(".mp4", ".json")).read())["request"]["with_audio"] is False
    assert not player.sound.has_sound and player.volume.unavailable == NO_SOUND_IN_CLIP


def test_extend_and_bridge_with_tiny_ltx2_continue_from_the_clips_with_sound(qtbot, tmp_path, tiny_ltx2_model):
    service = GenerationService()
    panel = TimelinePanel(service, QUndoStack())
    qtbot.addWidget(panel)
    panel.set_default_model(TINY_LTX2_ID)
    size, fps = (128, 96), 12.0  # an imported clip's 96 rows: the request rounds to LTX-2's multiple of 64
    a = sound_clip(tmp_path / "a.mp4", 17 / fps, fps, "red", 440.0, size=size)
    b = sound_clip(tmp_path / "b.mp4", 17 / fps, fps, "blue", 660.0, size=size)
    panel.add_files([str(a), str(b)], 0)
    first, second = panel.project.clips
    assert first.take.has_audio and second.take.has_audio
    panel.controls.frames.setValue(17)
    panel.controls.seed.setValue(5)
    try:
        panel.select(first.id)
        with qtbot.waitSignal(panel.jobs.landed, timeout=GENERATION_TIMEOUT_MS):
            assert panel.extend(1) is not None, panel.status.text()
        extension = panel.project.clips[1]
        panel.controls.frames.setValue(25)
        panel.select(extension.id)
        with qtbot.waitSignal(panel.jobs.landed, timeout=GENERATION_TIMEOUT_MS):
            assert panel.bridge() is not None, panel.status.text()
    finally:
        service.shutdown()

    clips = panel.project.clips
    assert [c.id for c in clips][:2] == [first.id, extension.id] and clips[-1].id == second.id
    bridge = clips[2]
    # The requests condition on the clip files with sound (the engine continues their sound from there).
    extend_request, bridge_request = extension.take.request, bridge.take.request
    assert [i["path"] for i in extend_request["conditioning"]] == [str(a)]
    assert [i["path"] for i in bridge_request["conditioning"]] == [
        str(panel.project.media_path(extension)),
        str(b),
    ]
    for request in (extend_request, bridge_request):
        assert request["model"] == TINY_LTX2_ID and request["with_audio"] is True
        assert (request["width"], request["height"]) == (128, 128)
    for item in (*extend_request["conditioning"], *bridge_request["conditioning"]):
        assert "aac" in probe_media(item["path"]).audio_codec
    # The new clips keep their sound: an AAC track in each file, and the takes know it.
    for clip, frames in ((extension, 17), (bridge, 25)):
        media = panel.project.media_path(clip)
        info = probe_media(media)
        assert info.frames == frames and "aac" in info.audio_codec, media
        assert clip.take.has_audio
        assert np.abs(read_audio(media, rate=MIX_RATE)).max() > 0
    assert (extension.overlap_in, bridge.overlap_in, bridge.trim_out) == (9, 9, 16)

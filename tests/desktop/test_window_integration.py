"""The window's wider wiring: File → Settings, the timeline dock and its shared undo, the packaged self-test."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from desktop.main_window import MainWindow
from desktop.settings import AppSettings, settings_path
from desktop.widgets.settings_dialog import SettingsDialog
from ltx_mlx_core.pipeline import generate as real_generate
from ltx_mlx_core.video.probe import probe_media

GENERATION_TIMEOUT_MS = 120_000


def generate_once(qtbot, window) -> Path:
    with qtbot.waitSignal(window.generation_finished, timeout=GENERATION_TIMEOUT_MS) as finished:
        window.generate_action.trigger()
    return Path(finished.args[0])


def test_settings_dialog_moves_outputs_and_sets_the_video_quality(qtbot, window, tmp_path):
    window.prompt_panel.set_prompt("a quality test")
    sizes = {}
    for crf in (0, 51):
        window.window_actions.settings.trigger()  # File → Settings…
        dialog = [d for d in window.findChildren(SettingsDialog) if d.isVisible()][-1]
        dialog.output_edit.setText(str(tmp_path / f"crf{crf}"))
        dialog.crf_spin.setValue(crf)
        dialog.accept()
        saved = json.loads(settings_path().read_text())
        assert saved["video_crf"] == crf and saved["output_dir"] == str(tmp_path / f"crf{crf}")
        video = generate_once(qtbot, window)
        assert video.parent == tmp_path / f"crf{crf}" and video.with_suffix(".json").is_file()
        sizes[crf] = video.stat().st_size
    # Same seed, same frames: only the encoder's quality differs.
    assert sizes[51] < sizes[0] / 2, sizes
    assert AppSettings().get("video_crf") == 51


def test_finished_video_goes_onto_the_timeline_with_its_request_and_edit_undo_removes_it(qtbot, window):
    assert window.timeline_panel is not None, "the timeline dock is embedded"
    assert not window.window_actions.add_to_timeline.isEnabled()
    window.prompt_panel.set_prompt("a clip for the timeline")
    video = generate_once(qtbot, window)
    assert window.window_actions.add_to_timeline.isEnabled()
    window.window_actions.add_to_timeline.trigger()
    clips = window.timeline_panel.project.clips
    assert len(clips) == 1
    assert Path(clips[0].take.path).resolve() == video.resolve()
    assert clips[0].take.request["prompt"] == "a clip for the timeline"
    assert clips[0].take.frames == 9
    # The timeline's edits share the window's undo stack, so Edit → Undo/Redo drive them.
    window.undo_action.trigger()
    assert window.timeline_panel.project.clips == []
    window.redo_action.trigger()
    assert len(window.timeline_panel.project.clips) == 1


def test_history_entries_can_be_added_to_the_timeline(qtbot, window):
    window.prompt_panel.set_prompt("from the history")
    generate_once(qtbot, window)
    assert not window.history_panel.timeline_button.isHidden()
    window.history_panel.list.setCurrentRow(0)
    window.history_panel.timeline_button.click()
    window.history_panel.timeline_button.click()
    assert [c.take.request["prompt"] for c in window.timeline_panel.project.clips] == ["from the history"] * 2


def test_self_test_generates_a_clip_in_a_throwaway_home(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("LTX_MLX_HOME", None)  # the self-test must make its own home, not touch the user's
    env["HOME"] = str(tmp_path)  # so that a stray write to the real home would land here instead
    result = subprocess.run(
        [sys.executable, "-m", "desktop.app", "--self-test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # The generated tiny LTX-2 clip, with its sound track, played through the preview player; the line
    # says whether it could be heard.
    assert re.search(
        r"self-test sound: played \S+\.mp4 (with sound: audio output available|"
        r"without sound: audio output unavailable \(.+\))\n",
        result.stdout,
    ), result.stdout
    video = Path(result.stdout.strip().split("self-test passed: ", 1)[1])
    try:
        assert video.suffix == ".mp4" and video.stat().st_size > 0
        assert probe_media(video).audio_codec == "aac"
        assert not str(video).startswith(str(tmp_path)), "the self-test wrote into the home folder"
    finally:
        import shutil

        shutil.rmtree(video.parents[2], ignore_errors=True)


def test_history_gallery_shows_each_clips_first_frame_once_the_panel_is_open(qtbot, window):
    window.prompt_panel.set_prompt("a thumbnail")
    generate_once(qtbot, window)
    panel = window.history_panel
    entry = panel.entries[0]
    assert not panel.has_thumbnail(entry), "a hidden history panel decodes nothing"
    with qtbot.waitSignal(panel.thumbnails_ready, timeout=20_000):
        window.history_dock.show()
    assert panel.has_thumbnail(entry)
    icon = panel.list.item(0).icon()
    assert not icon.isNull()
    image = icon.pixmap(96, 64).toImage()
    assert 0 < image.width() <= 96 and 0 < image.height() <= 64


def test_form_column_widens_for_a_dropped_item_instead_of_clipping_it(qtbot, window, tmp_path):
    from PIL import Image

    image = tmp_path / "a-rather-long-file-name-for-a-conditioning-image.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(image)
    window.resize(400, 700)  # as narrow as the window allows
    window.conditioning.add_paths([str(image)])
    remove = [b for b in window.conditioning.findChildren(QPushButton) if b.text() == "Remove"][0]
    viewport = window.form.scroll.viewport()

    def remove_button_whole() -> bool:
        return remove.mapTo(viewport, remove.rect().topRight()).x() < viewport.width()

    qtbot.waitUntil(remove_button_whole, timeout=2000)
    assert window.form.scroll.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff


def test_view_appearance_switches_light_and_dark_and_is_remembered(qtbot, window):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    actions = {a.data(): a for a in window.appearance_group.actions()}
    assert actions["system"].isChecked()
    try:
        actions["dark"].trigger()  # widgets take the new palette through posted change events
        qtbot.waitUntil(lambda: window.palette().color(QPalette.ColorRole.Window).lightness() < 80, timeout=2000)
        assert window.prompt_panel.prompt_edit.palette().color(QPalette.ColorRole.Base).lightness() < 80
        assert AppSettings().get("appearance") == "dark"
        actions["light"].trigger()
        assert app.palette().color(QPalette.ColorRole.Window).lightness() > 180
        actions["dark"].trigger()
        window.close()

        reopened = MainWindow(settings=AppSettings(), show_model_manager_if_empty=False)
        qtbot.addWidget(reopened)
        checked = [a.data() for a in reopened.appearance_group.actions() if a.isChecked()]
        assert checked == ["dark"] and app.palette().color(QPalette.ColorRole.Window).lightness() < 80
        reopened.service.shutdown()
    finally:
        actions["system"].trigger()  # the palette is application-wide: leave it as other tests expect
    qtbot.waitUntil(lambda: app.palette().color(QPalette.ColorRole.Window).lightness() > 180, timeout=2000)


def test_cancel_mid_denoise_frees_the_models_memory(qtbot, window):
    import time

    import mlx.core as mx

    def slowed(request):
        for event in real_generate(request):
            time.sleep(0.1)
            yield event

    qtbot.waitUntil(window.service.is_ready, timeout=GENERATION_TIMEOUT_MS)
    baseline = mx.get_active_memory()
    window.service.set_generate_fn(slowed)
    window.prompt_panel.set_prompt("cancel frees memory")
    in_use = []
    window.service.step.connect(lambda *args: in_use.append(mx.get_active_memory()))
    with qtbot.waitSignal(window.generation_cancelled, timeout=GENERATION_TIMEOUT_MS):
        window.generate_action.trigger()
        qtbot.waitUntil(lambda: len(in_use) >= 2, timeout=GENERATION_TIMEOUT_MS)
        window.cancel_action.trigger()
    assert max(in_use) > baseline + 100_000, "the models were in memory during the run"
    assert mx.get_active_memory() <= baseline + 64 * 1024, (baseline, mx.get_active_memory())

"""The preview pane plays a finished clip in a loop, scrubs with the slider and shows live previews."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QStyle, QStyleOptionSlider

from desktop.widgets.preview_player import PreviewPlayer


def numbered_frames(count: int) -> np.ndarray:
    """Frame i is a flat grey of value 20 * i, so the shown frame can be read back from a pixel."""
    return np.stack([np.full((24, 32, 3), 20 * i, np.uint8) for i in range(count)])


def shown_value(player: PreviewPlayer) -> int:
    return player._image.pixelColor(5, 5).red()


def handle_centre(slider) -> QPoint:
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    rect = slider.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, slider
    )
    return rect.center()


def test_clip_loops_at_its_frame_rate_and_stops_at_the_end_without_loop(qtbot):
    player = PreviewPlayer()
    qtbot.addWidget(player)
    player.show()
    player.play(numbered_frames(5), fps=50.0)
    seen = set()
    qtbot.waitUntil(lambda: seen.add(player.current) or (len(seen) == 5 and player.current == 0), timeout=3000)
    assert player.is_playing()
    player.loop_box.setChecked(False)
    qtbot.waitUntil(lambda: not player.is_playing(), timeout=3000)
    assert player.current == 4 and shown_value(player) == 80
    assert player.position_label.text() == "5/5"
    player.play_button.click()  # Play again from the start
    assert player.is_playing()
    qtbot.waitUntil(lambda: player.current in (0, 1, 2), timeout=3000)


def test_dragging_the_slider_pauses_and_shows_the_frame_under_it(qtbot):
    player = PreviewPlayer()
    qtbot.addWidget(player)
    player.resize(400, 300)
    player.show()
    qtbot.waitExposed(player)
    player.play(numbered_frames(9), fps=10.0)
    slider = player.slider
    start = handle_centre(slider)
    QTest.mousePress(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    assert not player.is_playing(), "grabbing the slider pauses playback"
    QTest.mouseMove(slider, QPoint(slider.width() - 2, start.y()))
    QTest.mouseRelease(
        slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(slider.width() - 2, start.y())
    )
    assert player.current == 8 and shown_value(player) == 160
    qtbot.wait(250)
    assert player.current == 8, "playback stays paused after scrubbing"


def test_live_preview_shows_its_middle_frame_and_disables_playback(qtbot):
    player = PreviewPlayer()
    qtbot.addWidget(player)
    player.show()
    player.play(numbered_frames(3), fps=10.0)
    player.show_preview(numbered_frames(7))
    assert not player.is_playing()
    assert shown_value(player) == 60
    assert not player.slider.isEnabled() and not player.play_button.isEnabled()
    assert player.position_label.text() == "preview"


def test_a_clip_that_cannot_be_decoded_reports_why_and_keeps_the_player_usable(qtbot, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    player = PreviewPlayer()
    qtbot.addWidget(player)
    with qtbot.waitSignal(player.load_failed, timeout=10_000) as failed:
        player.load_video(broken)
    assert failed.args[0].startswith("Cannot play broken.mp4")
    player.play(numbered_frames(3), fps=10.0)
    assert player.is_playing()

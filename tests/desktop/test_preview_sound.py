"""The preview player plays a clip's sound with its picture: frames from the playback clock, volume and mute,
the space bar, and a clear word (not a crash) when the clip or the machine has no sound."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

import desktop.sound_output as sound_output
from desktop.playback_clock import PlaybackClock
from desktop.widgets.preview_player import NO_SOUND_IN_CLIP, PreviewPlayer
from desktop.widgets.volume_control import VolumeControl
from ltx_mlx_core.video.audio import MIX_RATE, tone
from tests.desktop.test_preview_player import numbered_frames
from tests.sound_clips import sound_clip


@pytest.fixture()
def player(qtbot):
    player = PreviewPlayer()
    qtbot.addWidget(player)
    player.resize(480, 320)
    player.show()
    qtbot.waitExposed(player)
    return player


def test_a_clip_s_sound_is_loaded_with_its_frames_and_plays_where_a_device_exists(player, qtbot, tmp_path):
    clip = sound_clip(tmp_path / "tone.mp4", 2.0, 24.0, "red", 440)
    with qtbot.waitSignal(player.clip_loaded, timeout=15_000):
        player.load_video(clip)
    assert player.sound.has_sound and player.sound.duration() == pytest.approx(2.0, abs=0.03)
    assert len(player.frames) == 48 and player.is_playing()
    problem = sound_output.output_problem()
    if problem is None:  # a machine with a sound device: the sink runs and its position drives the picture
        qtbot.waitUntil(lambda: player.sound.position() is not None and player.sound.position() > 0.1, timeout=5000)
        assert player.volume.unavailable is None and player.volume.slider.isEnabled()
    else:  # CI: no device; the volume says why and the picture plays on the system clock
        assert player.volume.unavailable == problem and f"No sound: {problem}." in player.volume.slider.toolTip()
        qtbot.waitUntil(lambda: player.current >= 5, timeout=5000)


def test_without_a_sound_device_the_player_says_so_and_plays_the_picture(player, qtbot, monkeypatch, caplog):
    monkeypatch.setattr(sound_output, "output_problem", lambda: "no sound output device was found")
    monkeypatch.setattr(sound_output, "_reported", set())
    with (
        caplog.at_level(logging.WARNING, logger="desktop.sound_output"),
        qtbot.waitSignal(player.sound_unavailable) as told,
    ):
        player.play(numbered_frames(6), fps=30.0, sound=tone(0.2))
    assert "No sound: no sound output device was found. Clips play without sound." in caplog.text
    assert told.args == ["no sound output device was found"]
    assert player.volume.unavailable == "no sound output device was found"
    assert not player.volume.mute_button.isEnabled() and player.volume.silent()
    qtbot.waitUntil(lambda: player.current == 5, timeout=3000)


def test_a_clip_without_sound_greys_the_volume_out_with_the_reason(player):
    player.play(numbered_frames(4), fps=10.0)
    assert not player.sound.has_sound and player.volume.unavailable == NO_SOUND_IN_CLIP
    assert player.volume.slider.toolTip() == f"No sound: {NO_SOUND_IN_CLIP}."
    player.play(numbered_frames(4), fps=10.0, sound=tone(0.4))
    assert player.volume.unavailable in (None, sound_output.output_problem())


def test_the_picture_is_the_frame_at_the_clock_not_a_count_of_ticks(player, qtbot):
    now = [50.0]
    player.clock = PlaybackClock(lambda: now[0])
    player.play(numbered_frames(12), fps=10.0)
    now[0] += 0.75
    qtbot.waitUntil(lambda: player.current == 7, timeout=3000)
    qtbot.wait(60)
    assert player.current == 7  # ticks went by; the clock did not move, so neither did the picture
    now[0] += 1.5  # past the end: it loops to the start
    qtbot.waitUntil(lambda: player.current == 0, timeout=3000)


def test_space_plays_and_pauses_and_the_volume_reaches_the_output(player, qtbot):
    player.play(numbered_frames(8), fps=10.0, sound=tone(0.8))
    player.setFocus()
    QTest.keyClick(player, Qt.Key.Key_Space)
    assert not player.is_playing() and player.play_button.text() == "Play"
    QTest.keyClick(player.slider, Qt.Key.Key_Space)  # from the slider too
    assert player.is_playing()
    player.volume.slider.setValue(30)
    assert player.sound._volume == pytest.approx(0.3)
    player.volume.mute_button.setChecked(True)  # (a click where a device exists; disabled without one)
    assert player.sound._muted and player.volume.muted() and player.volume.silent()
    assert player.sound.BYTES_PER_SECOND == MIX_RATE * 4


def test_the_volume_control_says_what_its_button_does_or_why_there_is_no_sound(qtbot):
    volume = VolumeControl()
    qtbot.addWidget(volume)
    assert volume.mute_button.toolTip() == "Mute the sound" and not volume.silent()
    with qtbot.waitSignal(volume.muted_changed) as muted:
        volume.mute_button.click()
    assert muted.args == [True] and volume.mute_button.toolTip() == "Unmute the sound" and volume.silent()
    volume.set_unavailable("no sound output device was found")
    assert not volume.mute_button.isEnabled() and not volume.slider.isEnabled()
    assert volume.slider.toolTip() == volume.mute_button.toolTip() == "No sound: no sound output device was found."
    volume.set_unavailable(None)
    volume.mute_button.click()
    assert volume.mute_button.isEnabled() and not volume.silent() and volume.slider.toolTip() == "Volume"


MISSING_MULTIMEDIA = """
import sys


class NoMultimedia:  # as on a Linux machine without libpulse: the import fails
    def find_spec(self, name, path=None, target=None):
        if name == "PySide6.QtMultimedia":
            raise ImportError("libpulse.so.0: cannot open shared object file: No such file or directory")


sys.meta_path.insert(0, NoMultimedia())
from PySide6.QtWidgets import QApplication
app = QApplication([])
from desktop.widgets.preview_player import PreviewPlayer
from ltx_mlx_core.video.audio import tone
import numpy as np
player = PreviewPlayer()
from PySide6.QtCore import QTimer
player.play(np.zeros((6, 24, 32, 3), np.uint8), 30.0, sound=tone(0.2))
watch = QTimer(interval=10)
watch.timeout.connect(lambda: app.quit() if player.current >= 5 else None)
watch.start()
QTimer.singleShot(20_000, app.quit)
app.exec()
print("frame:", player.current)
print("volume:", player.volume.slider.toolTip())
"""


def test_without_qt_s_sound_library_the_app_still_plays_pictures_and_says_why():
    result = subprocess.run(
        [sys.executable, "-c", MISSING_MULTIMEDIA],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "frame: 5" in result.stdout and "volume: No sound: Qt's sound library could not load (" in result.stdout
    assert "No sound: Qt's sound library could not load" in result.stderr  # logged, once the app logs


def test_the_main_window_says_in_its_status_bar_when_a_clip_plays_without_sound(qtbot, window, monkeypatch):
    monkeypatch.setattr(sound_output, "output_problem", lambda: "no sound output device was found")
    window.preview.play(numbered_frames(4), fps=10.0, sound=tone(0.4))
    assert (
        window.statusBar().currentMessage() == "No sound: no sound output device was found. Clips play without sound."
    )

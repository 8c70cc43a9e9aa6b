"""Sound on the timeline: waveforms on clips, gain and mute as undoable edits, playback that follows its
clock and the film's mix, export with sound, and projects saved before clips had sound."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtTest import QTest

import desktop.sound_output as sound_output
from desktop.playback_clock import PlaybackClock
from desktop.project import Project, ProjectError, Take, load_project
from desktop.timeline.commands import SetClipGain, push_edit
from desktop.timeline.generation import splice_retake
from desktop.timeline.panel import TimelinePanel
from desktop.timeline.requests import PlannedJob
from desktop.timeline.waveforms import WAVEFORM_FOLDER
from ltx_mlx_core import paths
from ltx_mlx_core.pipeline.request import GenerationRequest
from ltx_mlx_core.video.audio import MIX_RATE
from ltx_mlx_core.video.mix import sample_at
from ltx_mlx_core.video.probe import probe_media
from tests.desktop.test_timeline_fakes import FakeService
from tests.sound_clips import AMPLITUDE, rms, sound_clip, sound_of

FPS = 24.0


@pytest.fixture()
def panel(qtbot, tmp_path):
    panel = TimelinePanel(FakeService(tmp_path), QUndoStack())
    qtbot.addWidget(panel)
    panel.resize(1300, 320)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.fixture()
def sound_clips(panel, tmp_path):
    """Two clips with tones (440 Hz red, 660 Hz blue) and a silent green one, 1 s each at 24 fps."""
    paths = [
        sound_clip(tmp_path / "a.mp4", 1.0, FPS, "red", 440),
        sound_clip(tmp_path / "b.mp4", 1.0, FPS, "blue", 660),
        sound_clip(tmp_path / "c.mp4", 1.0, FPS, "green", None),
    ]
    panel.add_files([str(p) for p in paths], 0)
    return [c.id for c in panel.project.clips]


def test_a_clip_with_sound_shows_its_waveform_and_a_silent_one_none(panel, sound_clips, qtbot):
    view = panel.view
    qtbot.waitUntil(lambda: len(view.waveform_items()) == 2 and not view.waveforms._pending, timeout=15_000)
    waves = {item.clip_id: item.wave for item in view._items}
    assert waves[sound_clips[2]] is None
    columns = waves[sound_clips[0]].columns()
    assert len(columns) == int(waves[sound_clips[0]].width)
    assert columns[5:-5, 1].min() == pytest.approx(AMPLITUDE, abs=0.05)  # the tone's peak, all along
    assert [c.takes[0].has_audio for c in panel.project.clips] == [True, True, False]
    assert len(list(paths.cache_dir().glob("waveforms/*.peaks.npy"))) == 3  # the silent clip's "no sound" too


def test_waveforms_are_cached_beside_a_saved_project_s_media(panel, sound_clips, qtbot, tmp_path):
    folder = panel.project_actions.save_project_as(tmp_path / "Trip").parent
    panel.view.refresh()
    qtbot.waitUntil(lambda: len(panel.view.waveform_items()) == 2, timeout=15_000)
    qtbot.waitUntil(lambda: len(list((folder / "media" / WAVEFORM_FOLDER).glob("*.peaks.npy"))) == 3, timeout=15_000)


def test_mute_and_gain_are_undoable_edits_shown_on_the_clip(panel, sound_clips, qtbot):
    clip = panel.project.clip(sound_clips[1])
    panel.select(clip.id)
    controls = panel.controls
    assert controls.clip_mute.isEnabled() and not controls.clip_mute.isChecked()
    controls.clip_mute.click()
    assert clip.muted and panel.undo_stack.undoText() == "Mute clip"
    qtbot.waitUntil(lambda: any(i.wave and i.wave.muted for i in panel.view._items), timeout=15_000)
    panel.undo_stack.undo()
    assert not clip.muted and not controls.clip_mute.isChecked()
    panel.undo_stack.redo()
    assert clip.muted and controls.clip_mute.isChecked()

    controls.clip_gain.setValue(-9.5)
    controls.clip_gain.editingFinished.emit()
    assert clip.gain_db == -9.5 and panel.undo_stack.undoText() == "Change clip volume"
    panel.undo_stack.undo()
    assert clip.gain_db == 0.0 and controls.clip_gain.value() == 0.0
    panel.undo_stack.redo()
    assert clip.gain_db == -9.5 and controls.clip_gain.value() == -9.5
    count = panel.undo_stack.count()
    with pytest.raises(ProjectError, match="-60 to \\+12 dB"):
        push_edit(panel.undo_stack, SetClipGain(panel.project, clip.id, 30.0))
    assert panel.undo_stack.count() == count and clip.gain_db == -9.5


def test_mute_a_clip_and_export_its_span_silent(panel, sound_clips, qtbot, tmp_path):
    panel.select(sound_clips[0])
    panel.controls.clip_mute.click()
    out = tmp_path / "film.mp4"
    with qtbot.waitSignal(panel.export_finished, timeout=60_000):
        panel.export(out, crf=23, preset="ultrafast")
    assert probe_media(out).audio_codec == "aac"
    sound = sound_of(out)
    margin = MIX_RATE // 50
    assert rms(sound[margin : MIX_RATE - margin]) < 1e-3  # clip 1, muted
    assert rms(sound[MIX_RATE + margin : 2 * MIX_RATE - margin]) == pytest.approx(AMPLITUDE / np.sqrt(2), rel=0.05)
    assert rms(sound[2 * MIX_RATE + margin : 3 * MIX_RATE - margin]) < 1e-3  # clip 3 has no sound


def test_moves_trims_and_takes_keep_the_sound_with_its_frames(panel, sound_clips, qtbot, tmp_path):
    """After moving the blue 660 Hz clip first, trimming it and switching the red clip to a 880 Hz take, the
    export's sound at each clip's frames is that clip's tone."""
    project = panel.project
    panel.view.move_requested.emit(sound_clips[1], 0)
    panel.view.trim_requested.emit(sound_clips[1], 6, None)
    red = project.clip(sound_clips[0])
    other = sound_clip(tmp_path / "a2.mp4", 1.0, FPS, "yellow", 880)
    panel.project.add_take(red.id, Take(str(other), None, "take 2", 24, has_audio=True))
    out = tmp_path / "moved.mp4"
    with qtbot.waitSignal(panel.export_finished, timeout=60_000):
        panel.export(out, crf=23, preset="ultrafast")
    sound = sound_of(out)[:, 0]

    def frequency(first_frame: int, last_frame: int) -> float:
        span = sound[sample_at(first_frame, FPS) + 960 : sample_at(last_frame, FPS) - 960]
        return np.count_nonzero(np.diff(np.signbit(span))) / 2 / (len(span) / MIX_RATE)

    assert frequency(0, 18) == pytest.approx(660, rel=0.02)
    assert frequency(18, 42) == pytest.approx(880, rel=0.02)


def test_playback_takes_its_frames_from_the_clock_and_the_space_bar_toggles_it(panel, sound_clips, qtbot):
    now = [100.0]
    panel.preview.clock = PlaybackClock(lambda: now[0])
    QTest.keyClick(panel.view, Qt.Key.Key_Space)
    assert panel.is_playing()
    now[0] += 0.5  # half a second: frame 12 at 24 fps, however many timer ticks came
    qtbot.waitUntil(lambda: panel.view.playhead == 12, timeout=3000)
    qtbot.wait(50)
    assert panel.view.playhead == 12  # the clock has not moved: nor has the picture
    panel.view.set_playhead(40)  # the user clicks the ruler while it plays: it plays on from there
    now[0] += 0.25
    qtbot.waitUntil(lambda: panel.view.playhead == 46, timeout=3000)
    QTest.keyClick(panel.view, Qt.Key.Key_Space)
    assert not panel.is_playing()


def test_the_playback_mix_is_the_export_s_mix(panel, sound_clips, qtbot):
    panel.select(sound_clips[1])
    panel.controls.clip_mute.click()
    film_sound = panel.preview.film_sound
    with qtbot.waitSignal(film_sound.ready, timeout=30_000):
        film_sound.samples(panel.project)
    samples = np.frombuffer(film_sound.samples(panel.project), "<i2").reshape(-1, 2) / 32767
    assert len(samples) == sample_at(panel.project.total_frames, FPS)
    margin = MIX_RATE // 50
    assert rms(samples[margin : MIX_RATE - margin]) == pytest.approx(AMPLITUDE / np.sqrt(2), rel=0.05)
    assert np.abs(samples[MIX_RATE:]).max() < 1e-6  # the muted clip and the silent one


def test_a_project_saved_before_clips_had_sound_opens_unchanged(tmp_path):
    """project.json as this version wrote it before sound (no gain, mute or has_audio keys)."""
    folder = tmp_path / "Old.ltxproj"
    (folder / "media").mkdir(parents=True)
    clip = sound_clip(folder / "media" / "shot.mp4", 1.0, FPS, "red", 440)
    saved = {
        "version": 1,
        "name": "Old",
        "fps": 24.0,
        "width": 64,
        "height": 48,
        "model": None,
        "clips": [
            {
                "takes": [{"path": "media/shot.mp4", "request": None, "label": "shot", "frames": 24, "created": 1.0}],
                "active": 0,
                "trim_in": 2,
                "trim_out": None,
                "overlap_in": 0,
                "transition": "cut",
                "transition_frames": 0,
                "id": "a1",
            },
            {
                "takes": [{"path": "media/shot.mp4", "request": None, "label": "shot", "frames": 24, "created": 2.0}],
                "active": 0,
                "trim_in": 0,
                "trim_out": 20,
                "overlap_in": 0,
                "transition": "crossfade",
                "transition_frames": 6,
                "id": "b2",
            },
        ],
    }
    (folder / "project.json").write_text(json.dumps(saved))
    project = load_project(folder)
    assert [(c.gain_db, c.muted, c.take.has_audio) for c in project.clips] == [(0.0, False, None)] * 2
    assert project.total_frames == 22 + 20 - 6
    assert [(s.gain_db, s.muted) for s in project.segments()] == [(0.0, False)] * 2
    assert probe_media(clip).audio_codec == "aac"
    project.clips[1].muted = True
    project.save()
    data = json.loads((folder / "project.json").read_text())
    assert data["version"] == 1 and data["clips"][1]["muted"] is True and data["clips"][0]["gain_db"] == 0.0
    again = load_project(folder)
    assert [c.muted for c in again.clips] == [False, True] and again.total_frames == project.total_frames
    assert Project.from_dict(again.to_dict()).to_dict()["clips"] == data["clips"]


def test_a_retake_spliced_into_a_clip_keeps_each_part_s_sound_on_its_frames(tmp_path):
    original = sound_clip(tmp_path / "original.mp4", 2.0, FPS, "red", 440)
    generated = sound_clip(tmp_path / "generated.mp4", 1.5, FPS, "blue", 880)
    plan = PlannedJob("retake", GenerationRequest(prompt="x"), retake_start=16, retake_count=16, context_before=8)
    spliced = splice_retake(original, generated, plan, tmp_path / "spliced.mp4", FPS)
    sound = sound_of(spliced)[:, 0]
    assert probe_media(spliced).frames == 48

    def frequency(first_frame: int, last_frame: int) -> float:
        span = sound[sample_at(first_frame, FPS) + 960 : sample_at(last_frame, FPS) - 960]
        return np.count_nonzero(np.diff(np.signbit(span))) / 2 / (len(span) / MIX_RATE)

    assert [round(frequency(a, b), -1) for a, b in ((0, 16), (16, 32), (32, 48))] == [440, 880, 440]


def test_timeline_playback_without_a_sound_device_says_so(panel, sound_clips, qtbot, monkeypatch):
    monkeypatch.setattr(sound_output, "output_problem", lambda: "no sound output device was found")
    film_sound = panel.preview.film_sound
    with qtbot.waitSignal(film_sound.ready, timeout=30_000):
        film_sound.samples(panel.project)
    with qtbot.waitSignal(panel.screen.sound_unavailable):
        panel.toggle_play()
    assert panel.is_playing() and panel.status.text() == "No sound: no sound output device was found; playing without."
    assert panel.volume.unavailable == "no sound output device was found"

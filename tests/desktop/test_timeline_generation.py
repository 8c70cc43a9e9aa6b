"""Timeline generation: extend chains, bridges, takes from regenerate and retake; extend on the tiny model."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QUndoStack

from desktop.generation_service import GenerationService
from desktop.settings import AppSettings
from desktop.timeline.panel import TimelinePanel
from ltx_mlx_core.video.io import probe_video, read_video
from tests.desktop.test_timeline_fakes import FakeService, coloured_clip

RED, BLUE = (220, 40, 40), (40, 60, 220)


@pytest.fixture()
def panel(qtbot, tmp_path):
    panel = TimelinePanel(FakeService(tmp_path, produce=True), QUndoStack())
    qtbot.addWidget(panel)
    panel.set_default_model("tiny")
    panel.add_files(
        [str(coloured_clip(tmp_path / "a.mp4", 33, RED)), str(coloured_clip(tmp_path / "b.mp4", 25, BLUE))], 0
    )
    return panel


def wait_for_landings(qtbot, panel, count: int) -> None:
    for _ in range(count):
        with qtbot.waitSignal(panel.jobs.landed, timeout=60000):
            pass


def test_extend_three_times_chains_each_from_the_previous_result(panel, qtbot):
    first = panel.project.clips[0]
    panel.select(first.id)
    panel.controls.prompt.setText("onwards")
    panel.controls.frames.setValue(17)
    panel.extend(3)
    wait_for_landings(qtbot, panel, 3)
    clips = panel.project.clips
    assert len(clips) == 5 and clips[-1].take.path.endswith("b.mp4")  # chain inserted after clip 1, before b
    new = clips[1:4]
    assert [c.overlap_in for c in new] == [9, 9, 9] and [c.duration for c in new] == [8, 8, 8]
    requests = panel.service.requests
    assert [r.prompt for r in requests] == ["onwards"] * 3 and [r.model for r in requests] == ["tiny"] * 3
    assert requests[0].conditioning[0].path.endswith("a.mp4")
    for request, previous in zip(requests[1:], new):  # each extension continues the clip made before it
        item = request.conditioning[0]
        assert item.path == str(panel.project.media_path(previous))
        assert (item.source_start, item.source_count, item.frame) == (8, 9, 0)
    assert panel.project.total_frames == 33 + 3 * 8 + 25
    for _ in range(3):
        panel.undo_stack.undo()
    assert len(panel.project.clips) == 2


def test_bridge_lands_between_the_clips_without_their_repeated_frames(panel, qtbot):
    a, b = panel.project.clips
    panel.select(a.id)
    panel.controls.frames.setValue(33)
    panel.bridge()
    wait_for_landings(qtbot, panel, 1)
    bridge = panel.project.clips[1]
    assert [c.id for c in panel.project.clips] == [a.id, bridge.id, b.id]
    assert (bridge.overlap_in, bridge.trim_out, bridge.duration) == (9, 24, 15)
    first, last = panel.service.requests[0].conditioning
    assert (first.frame, first.source_start, last.frame, last.source_start) == (0, 24, 24, 0)


def test_regenerate_adds_a_take_and_switching_back_restores_the_first(panel, qtbot):
    a = panel.project.clips[0]
    panel.select(a.id)
    panel.controls.frames.setValue(17)
    panel.extend(1)
    wait_for_landings(qtbot, panel, 1)
    clip = panel.project.clips[1]
    first_take = clip.take.path
    panel.select(clip.id)
    panel.controls.seed.setValue(1234)
    panel.controls.prompt.setText("different")
    panel.regenerate()
    wait_for_landings(qtbot, panel, 1)
    assert len(clip.takes) == 2 and clip.active == 1 and clip.take.request["seeds"] == [1234]
    assert clip.take.request["prompt"] == "different" and clip.overlap_in == 9
    assert panel.controls.take.count() == 2 and panel.controls.take.isEnabled()
    panel.switch_take(0)
    assert clip.take.path == first_take
    panel.undo_stack.undo()
    assert clip.active == 1
    panel.undo_stack.undo()  # the regenerate itself
    assert len(clip.takes) == 1


def test_retake_replaces_only_the_range_and_keeps_the_original_take(panel, qtbot):
    a = panel.project.clips[0]
    panel.view.retake_range = (a.id, 10, 14)
    panel.controls.seed.setValue(5)
    panel.retake()
    wait_for_landings(qtbot, panel, 1)
    assert len(a.takes) == 2 and a.active == 1
    plan_start, plan_count = a.take.request["retake"]["start"], a.take.request["retake"]["count"]
    assert plan_start == 10 and plan_count == 7  # widened: 9 before + 7 + 9 after = 25 = 8k+1
    retaken, _ = read_video(panel.project.media_path(a))
    original, _ = read_video(a.takes[0].path)
    assert retaken.shape == original.shape  # same length: the take drops in place
    body = np.s_[:, 20:]  # right of the frame-number bar
    same = np.abs(retaken[body].astype(int) - original[body].astype(int)).mean(axis=(1, 2, 3))
    assert (same[:10] < 4).all() and (same[17:] < 4).all()
    assert (same[10:17] > 40).all()
    panel.switch_take(0)
    assert a.take.path == a.takes[0].path


def test_extend_on_the_tiny_model_continues_a_clip_without_a_repeated_frame(qtbot, tmp_path, tiny_model):
    service = GenerationService()
    panel = TimelinePanel(service, QUndoStack())
    qtbot.addWidget(panel)
    panel.set_default_model("tiny")
    panel.add_files([str(coloured_clip(tmp_path / "start.mp4", 17, RED, size=(64, 64), fps=12.0))], 0)
    source = panel.project.clips[0]
    panel.select(source.id)
    panel.controls.frames.setValue(17)
    panel.controls.seed.setValue(3)
    try:
        with qtbot.waitSignal(panel.jobs.landed, timeout=300000):
            panel.extend(1)
    finally:
        service.shutdown()
    extension = panel.project.clips[1]
    assert (extension.overlap_in, extension.source_frames, extension.duration) == (9, 17, 8)
    assert extension.take.request["conditioning"][0]["source_start"] == 8
    out = tmp_path / "film.mp4"
    with qtbot.waitSignal(panel.export_finished, timeout=60000):
        panel.export(out, crf=18, preset="ultrafast")
    info = probe_video(out)
    assert (info.frames, info.fps, info.width, info.height) == (17 + 8, 12.0, 64, 64)
    # The seam, frame by frame (as the stitch tests read numbered frames): the film is the source's
    # 17 frames, then the extension from its first new frame (9: frames 0-8 repeat the source's end).
    film, _ = read_video(out)
    start, _ = read_video(panel.project.media_path(source))
    generated, _ = read_video(panel.project.media_path(extension))
    distance = lambda x, y: np.abs(x.astype(int) - y.astype(int)).mean()  # noqa: E731
    assert all(distance(film[i], start[i]) < 3 for i in range(17))
    after_seam = [int(np.argmin([distance(frame, g) for g in generated])) for frame in film[17:]]
    assert after_seam == list(range(9, 17))  # each new frame once, in order, none of the overlap
    assert distance(film[17], generated[9]) < 6 < distance(film[17], generated[8])
    assert all(distance(film[j], film[j - 1]) > 6 for j in range(17, 25))  # no frame repeats its predecessor


def test_timeline_jobs_show_progress_and_can_be_cancelled(panel, qtbot):
    panel.service.produce = False  # the job stays running until cancelled
    panel.select(panel.project.clips[0].id)
    job = panel.extend(1)
    assert panel.generation_bar.isVisibleTo(panel) and panel.cancel_generation_button.isVisibleTo(panel)
    panel.service.step.emit(job, 2, 8, 1.5)
    assert (panel.generation_bar.value(), panel.generation_bar.maximum()) == (2, 8)
    panel.cancel_generation_button.click()
    assert panel.service.cancelled == [job] and not panel.generation_bar.isVisibleTo(panel)
    assert len(panel.project.clips) == 2 and panel.status.text() == "Generation cancelled."


def test_bridge_and_retake_run_on_the_tiny_model(qtbot, tmp_path, tiny_model):
    """Both-side video conditioning (frame 0 and a later multiple of 8) goes through the real pipeline."""
    service = GenerationService()
    panel = TimelinePanel(service, QUndoStack())
    qtbot.addWidget(panel)
    panel.set_default_model("tiny")
    panel.add_files(
        [
            str(coloured_clip(tmp_path / "a.mp4", 25, RED, size=(64, 64), fps=12.0)),
            str(coloured_clip(tmp_path / "b.mp4", 17, BLUE, size=(64, 64), fps=12.0)),
        ],
        0,
    )
    a, b = panel.project.clips
    panel.select(a.id)
    panel.controls.frames.setValue(25)
    panel.controls.seed.setValue(2)
    try:
        with qtbot.waitSignal(panel.jobs.landed, timeout=300000):
            panel.bridge()
        panel.view.retake_range = (a.id, 10, 14)
        with qtbot.waitSignal(panel.jobs.landed, timeout=300000):
            panel.retake()
    finally:
        service.shutdown()
    bridge = panel.project.clips[1]
    assert (bridge.source_frames, bridge.overlap_in, bridge.trim_out, bridge.duration) == (25, 9, 16, 7)
    assert len(a.takes) == 2 and a.source_frames == 25 and a.take.request["retake"]["count"] == 7
    assert panel.status.text().startswith("Retake")


def test_with_no_model_chosen_the_panel_uses_the_model_it_was_given_not_the_settings_file(qtbot, tmp_path):
    saved = AppSettings()
    saved.set("model", "model-in-the-settings-file")
    saved.save()
    panel = TimelinePanel(FakeService(tmp_path), QUndoStack(), fallback_model="model-from-the-window")
    qtbot.addWidget(panel)
    panel.add_files([str(coloured_clip(tmp_path / "a.mp4", 33, RED))], 0)
    panel.select(panel.project.clips[0].id)
    assert panel.extend(1) is not None, panel.status.text()
    assert [r.model for r in panel.service.requests] == ["model-from-the-window"]

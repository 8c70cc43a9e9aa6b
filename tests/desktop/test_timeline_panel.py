"""The timeline panel with real mouse drags: reorder, trim, undo, range selection, drops, export, preview."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QUndoStack, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop.project import AUTOSAVE_FILE, Project
from desktop.timeline.commands import SetTransition, TrimClip
from desktop.timeline.panel import TimelinePanel
from desktop.timeline.playback import FrameCache, film_sources
from ltx_mlx_core.cli import main
from ltx_mlx_core.video.io import probe_video, read_video
from tests.desktop.test_timeline_fakes import FakeService, coloured_clip

COLOURS = [(220, 40, 40), (40, 200, 60), (50, 80, 230), (230, 210, 40)]


@pytest.fixture()
def panel(qtbot, tmp_path):
    panel = TimelinePanel(FakeService(tmp_path), QUndoStack())
    qtbot.addWidget(panel)
    panel.resize(1300, 320)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.fixture()
def four_clips(panel, tmp_path):
    paths = [str(coloured_clip(tmp_path / f"clip{i}.mp4", 17 + 8 * i, COLOURS[i])) for i in range(4)]
    panel.add_files(paths, 0)
    panel.view.set_zoom(4.0)
    return [c.id for c in panel.project.clips]


def drag(view, start: QPointF, end: QPointF, modifiers=Qt.NoModifier) -> None:
    viewport = view.viewport()
    a, b = start.toPoint(), end.toPoint()
    QTest.mousePress(viewport, Qt.LeftButton, modifiers, a)
    for t in (0.25, 0.5, 0.75, 1.0):
        QTest.mouseMove(viewport, QPoint(round(a.x() + (b.x() - a.x()) * t), a.y()))
    QTest.mouseRelease(viewport, Qt.LeftButton, modifiers, b)


def test_videos_added_become_clips_sized_by_duration(panel, four_clips):
    assert [c.duration for c in panel.project.clips] == [17, 25, 33, 41]
    widths = [panel.view.clip_rect(cid).width() for cid in four_clips]
    assert widths == pytest.approx([4.0 * d for d in (17, 25, 33, 41)], abs=2)
    assert panel.undo_stack.count() == 4


def test_dragging_a_clip_past_the_next_reorders_and_undo_restores(panel, four_clips):
    first, second = panel.view.clip_rect(four_clips[0]), panel.view.clip_rect(four_clips[1])
    drag(panel.view, first.center(), QPointF(second.right() + 5, first.center().y()))
    assert [c.id for c in panel.project.clips] == [four_clips[1], four_clips[0], *four_clips[2:]]
    assert panel.undo_stack.undoText() == "Move clip"
    panel.undo_stack.undo()
    assert [c.id for c in panel.project.clips] == four_clips
    panel.undo_stack.redo()
    assert panel.project.clips[1].id == four_clips[0]


def test_dragging_the_right_handle_trims_and_undo_untrims(panel, four_clips):
    rect = panel.view.clip_rect(four_clips[2])
    QTest.mouseClick(panel.view.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center().toPoint())
    assert panel.view.selected == [four_clips[2]]
    handle = QPointF(rect.right() - 3, rect.center().y())
    drag(panel.view, handle, handle - QPointF(10 * 4.0, 0))
    clip = panel.project.clip(four_clips[2])
    assert (clip.trim_in, clip.trim_out, clip.duration) == (0, 23, 23)
    assert panel.project.total_frames == 17 + 25 + 23 + 41
    assert panel.view.clip_rect(four_clips[2]).width() == pytest.approx(23 * 4.0, abs=2)
    left = panel.view.clip_rect(four_clips[3])
    drag(panel.view, QPointF(left.left() + 2, left.center().y()), QPointF(left.left() + 2 + 5 * 4.0, left.center().y()))
    assert panel.project.clip(four_clips[3]).trim_in == 5
    panel.undo_stack.undo()
    panel.undo_stack.undo()
    assert panel.project.clip(four_clips[2]).trim_out is None and panel.project.clip(four_clips[3]).trim_in == 0


def wheel(view, steps: int, modifiers=Qt.NoModifier) -> None:
    """A mouse-wheel turn of `steps` notches (positive: away from the user) over the track."""
    at = QPointF(view.viewport().width() / 2, 60)
    event = QWheelEvent(
        at,
        view.viewport().mapToGlobal(at),
        QPoint(),
        QPoint(0, 120 * steps),
        Qt.NoButton,
        modifiers,
        Qt.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)


def test_zoom_buttons_and_ctrl_wheel_resize_the_clips(panel, four_clips, qtbot):
    widths = lambda: [panel.view.clip_rect(cid).width() for cid in four_clips]  # noqa: E731
    at_4 = widths()
    qtbot.mouseClick(panel.controls.zoom_in, Qt.LeftButton)
    assert panel.view.pixels_per_frame == pytest.approx(5.0)
    assert widths() == pytest.approx([w * 1.25 for w in at_4], abs=2)
    qtbot.mouseClick(panel.controls.zoom_out, Qt.LeftButton)
    qtbot.mouseClick(panel.controls.zoom_out, Qt.LeftButton)
    assert widths() == pytest.approx([w * 0.8 for w in at_4], abs=2)
    wheel(panel.view, 1, Qt.ControlModifier)  # Ctrl + wheel away from you zooms in, towards you out
    assert widths() == pytest.approx(at_4, abs=2)
    wheel(panel.view, -1, Qt.ControlModifier)
    wheel(panel.view, -1, Qt.ControlModifier)
    assert panel.view.pixels_per_frame == pytest.approx(4.0 * 0.8 * 0.8)
    assert widths() == pytest.approx([w * 0.64 for w in at_4], abs=2)
    before = widths()
    wheel(panel.view, 1)  # a plain wheel scrolls; it does not zoom
    assert widths() == before
    for _ in range(40):  # zoom stops at its limits
        wheel(panel.view, -1, Qt.ControlModifier)
    assert panel.view.pixels_per_frame == pytest.approx(0.25)
    assert all(w >= 8 for w in widths())  # even a short clip stays grabbable
    assert panel.undo_stack.count() == 4  # zoom is a view setting, not an edit


def test_keyboard_undo_and_delete_work_inside_the_panel(qtbot, tmp_path):
    panel = TimelinePanel(FakeService(tmp_path))  # its own undo stack, so its own Ctrl+Z
    qtbot.addWidget(panel)
    panel.resize(1300, 320)
    panel.show()
    qtbot.waitExposed(panel)
    with warnings.catch_warnings():  # the offscreen platform does not activate windows on request
        warnings.simplefilter("ignore", DeprecationWarning)
        QApplication.setActiveWindow(panel)
    panel.view.setFocus()
    panel.add_files([str(coloured_clip(tmp_path / f"k{i}.mp4", 17, COLOURS[i])) for i in range(3)], 0)
    four_clips = [c.id for c in panel.project.clips]
    rect = panel.view.clip_rect(four_clips[1])
    QTest.mouseClick(panel.view.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center().toPoint())
    QTest.keyClick(panel.view, Qt.Key_Delete)
    assert four_clips[1] not in [c.id for c in panel.project.clips]
    QTest.keyClick(panel.view, Qt.Key_Z, Qt.ControlModifier)
    assert [c.id for c in panel.project.clips] == four_clips


def test_clicking_the_ruler_moves_the_playhead_and_the_preview_shows_that_frame(panel, four_clips):
    second = panel.view.clip_rect(four_clips[1])
    QTest.mouseClick(panel.view.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(round(second.center().x()), 8))
    assert 17 <= panel.view.playhead < 17 + 25
    image = panel.preview.pixmap().toImage()
    colour = image.pixelColor(image.width() // 2, image.height() // 2)
    assert abs(colour.green() - COLOURS[1][1]) < 20 and colour.red() < 90


def test_shift_drag_selects_a_range_and_retake_asks_for_it(panel, four_clips):
    rect = panel.view.clip_rect(four_clips[3])
    start = QPointF(rect.left() + 12 * 4.0 + 2, rect.center().y())
    drag(panel.view, start, start + QPointF(8 * 4.0, 0), Qt.ShiftModifier)
    clip_id, first, end = panel.view.retake_range
    assert clip_id == four_clips[3] and (first, end) == (12, 20)
    assert panel.controls.retake.isEnabled()
    panel.retake()
    request = panel.service.requests[-1]
    before, after = request.conditioning
    assert before.source_start + before.source_count == 12 and after.frame % 8 == 0
    QTest.keyClick(panel.view, Qt.Key_Escape)
    assert panel.view.retake_range is None and not panel.controls.retake.isEnabled()
    QTest.mouseClick(panel.view.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(round(rect.right()) + 40, 60))
    assert panel.view.selected == [] and not panel.controls.extend.isEnabled()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PySide6 marks QDragEnterEvent's only constructor
def test_dropping_files_imports_videos_and_generates_from_images(panel, four_clips, tmp_path):
    from PIL import Image

    video = coloured_clip(tmp_path / "dropped.mp4", 9, (255, 255, 255))
    image = tmp_path / "still.png"
    Image.new("RGB", (64, 64), (9, 9, 9)).save(image)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(video)), QUrl.fromLocalFile(str(image))])
    viewport = panel.view.viewport()
    at = QPointF(panel.view.clip_rect(four_clips[1]).left() + 4, 60)  # left half of clip 2: insert at 1
    enter = QDragEnterEvent(at.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(viewport, QDropEvent(at, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert panel.project.clips[1].take.frames == 9 and len(panel.project.clips) == 5
    (request,) = panel.service.requests
    assert request.conditioning[0].path == str(image) and request.conditioning[0].frame == 0


def test_export_writes_one_mp4_of_the_timeline_with_a_crossfade(panel, four_clips, tmp_path, qtbot):
    panel.select(four_clips[2])
    panel.controls.transition.setCurrentText("Crossfade")
    panel.controls.fade_frames.setValue(6)
    panel.apply_transition()
    assert panel.project.total_frames == 17 + 25 + 33 + 41 - 6
    out = tmp_path / "film.mp4"
    with qtbot.waitSignal(panel.export_finished, timeout=60000) as finished:
        panel.export(out, crf=20, preset="ultrafast")
    assert finished.args == [str(out)]
    info = probe_video(out)
    assert (info.frames, info.codec, info.pix_fmt, info.fps) == (110, "h264", "yuv420p", 24.0)
    frames, _ = read_video(out)
    cache = FrameCache(height=64)
    for index in (0, 20, 17 + 25 - 6 + 2, 70, 109):  # the preview shows what the export wrote
        expected = cache.film_frame(panel.project, index).astype(int)
        assert np.abs(frames[index].astype(int) - expected).mean() < 6, index
    assert len(film_sources(panel.project, 17 + 25 - 6 + 2)) == 2


def test_trimming_a_clip_shorter_than_its_crossfade_shortens_the_crossfade_and_undo_restores_both(
    panel, four_clips, tmp_path, qtbot
):
    panel.select(four_clips[2])
    panel.controls.transition.setCurrentText("Crossfade")
    panel.controls.fade_frames.setValue(20)
    panel.apply_transition()
    rect = panel.view.clip_rect(four_clips[2])
    drag(
        panel.view, QPointF(rect.left() + 2, rect.center().y()), QPointF(rect.left() + 2 + 20 * 4.0, rect.center().y())
    )  # 33 frames trimmed to 13 by the left handle
    clip = panel.project.clip(four_clips[2])
    assert (clip.trim_in, clip.duration, clip.transition, clip.transition_frames) == (20, 13, "crossfade", 13)
    assert panel.undo_stack.count() == 6 and panel.undo_stack.undoText() == "Trim clip (crossfade shortened)"
    assert "crossfade into clip 3 is now 13 frames" in panel.status.text()
    out = tmp_path / "trimmed.mp4"
    with qtbot.waitSignal(panel.export_finished, timeout=60000):  # export accepts what the timeline shows
        panel.export(out, crf=20, preset="ultrafast")
    assert probe_video(out).frames == panel.project.total_frames == 17 + 25 + 13 + 41 - 13
    panel.undo_stack.undo()  # one undo: the trim and the crossfade
    assert (clip.trim_in, clip.duration, clip.transition_frames) == (0, 33, 20)
    assert panel.view.clip_rect(four_clips[2]).width() == pytest.approx(33 * 4.0, abs=2)


@pytest.mark.parametrize("refused", ["trim leaving no frame", "crossfade into the first clip"])
def test_a_refused_edit_leaves_the_stack_and_the_document_as_they_were(panel, four_clips, refused):
    stack = panel.undo_stack
    assert panel.push(TrimClip(panel.project, four_clips[1], 0, 10, panel._on_changed))
    stack.setClean()
    stack.undo()  # a redo is pending and the saved state is one edit ahead
    before = (stack.count(), stack.index(), stack.cleanIndex(), stack.redoText(), panel.project.to_dict())
    edit = (
        TrimClip(panel.project, four_clips[0], 5, 3, panel._on_changed)
        if refused.startswith("trim")
        else SetTransition(panel.project, four_clips[0], "crossfade", 4, panel._on_changed)
    )
    assert not panel.push(edit)
    assert ("does not fit" if refused.startswith("trim") else "nothing to crossfade") in panel.status.text()
    assert (stack.count(), stack.index(), stack.cleanIndex(), stack.redoText(), panel.project.to_dict()) == before
    stack.redo()
    assert stack.isClean() and panel.project.clip(four_clips[1]).trim_out == 10


def test_an_accepted_edit_is_applied_once_by_its_push(panel, four_clips, monkeypatch):
    calls: list[str] = []
    apply, revert = TrimClip.apply, TrimClip.revert
    monkeypatch.setattr(TrimClip, "apply", lambda command: (calls.append("apply"), apply(command))[1])
    monkeypatch.setattr(TrimClip, "revert", lambda command: (calls.append("revert"), revert(command))[1])
    assert panel.push(TrimClip(panel.project, four_clips[2], 4, None, panel._on_changed))
    assert calls == ["apply"]
    assert panel.project.clip(four_clips[2]).trim_in == 4 and panel.undo_stack.undoText() == "Trim clip"


def test_cancelled_export_writes_nothing(panel, four_clips, tmp_path, qtbot):
    out = tmp_path / "never.mp4"
    job = panel.export(out, crf=20, preset="veryslow")
    with qtbot.waitSignal(panel.export_failed, timeout=60000) as failed:
        job.cancel()
    assert failed.args == ["cancelled"] and not out.exists()
    assert panel.export_job is None and panel.controls.export.isEnabled()


def test_saved_project_reopens_and_an_autosave_is_recovered(panel, four_clips, tmp_path):
    folder = tmp_path / "Film.ltxproj"
    panel.project.name = "Film"
    panel.project_actions.save_project(folder)
    assert all((folder / c.take.path).is_file() for c in panel.project.clips)  # referenced media still resolves
    rect = panel.view.clip_rect(four_clips[0])
    drag(panel.view, rect.center(), QPointF(panel.view.clip_rect(four_clips[3]).right() + 5, rect.center().y()))
    panel.project_actions.autosave()
    assert (folder / AUTOSAVE_FILE).is_file()
    panel.set_project(Project())
    panel.project_actions.open_project(folder, use_autosave=True)
    assert panel.project.clips[-1].id == four_clips[0]
    panel.project_actions.open_project(folder, use_autosave=False)
    assert [c.id for c in panel.project.clips] == four_clips


def test_playing_runs_the_playhead_to_the_end_of_the_film(panel, four_clips, qtbot):
    panel.view.set_playhead(panel.project.total_frames - 12)
    panel.toggle_play()
    assert panel.is_playing() and panel.controls.play.text() == "Pause"
    qtbot.waitUntil(lambda: not panel.is_playing(), timeout=5000)
    assert panel.view.playhead == panel.project.total_frames - 1


def test_save_as_copies_every_video_into_the_project_folder(panel, four_clips, tmp_path):
    folder = panel.project_actions.save_project_as(tmp_path / "Trip").parent
    assert folder.name == "Trip.ltxproj" and panel.project.name == "Trip"
    for clip in panel.project.clips:
        assert not Path(clip.take.path).is_absolute() and (folder / clip.take.path).is_file()
    moved = panel.project_actions.save_project_as(tmp_path / "Copy.ltxproj").parent
    assert all((moved / c.take.path).is_file() for c in panel.project.clips)
    assert panel.undo_stack.isClean()


def test_a_generated_video_arrives_with_its_request_and_can_be_added_in_one_click(panel, tmp_path):
    import json

    video = coloured_clip(tmp_path / "gen.mp4", 25, COLOURS[0])
    request = {
        "prompt": "a lighthouse",
        "model": "tiny",
        "width": 96,
        "height": 64,
        "num_frames": 25,
        "fps": 24.0,
        "seeds": [4],
    }
    video.with_suffix(".json").write_text(json.dumps({"video": "gen.mp4", "request": request}))
    assert not panel.project_actions.add_last.isEnabled()
    panel.service.job_finished.emit("window-job", str(video))  # the main window's Generate finished
    assert panel.project_actions.add_last.isEnabled()
    panel.project_actions.add_last.trigger()
    (clip,) = panel.project.clips
    assert clip.take.request["prompt"] == "a lighthouse"
    panel.select(clip.id)
    assert panel.controls.regenerate.isEnabled() and panel.controls.prompt.text() == "a lighthouse"


def test_the_cli_exports_the_saved_project_exactly_as_the_app(panel, four_clips, tmp_path, qtbot):
    panel.select(four_clips[1])
    panel.controls.transition.setCurrentText("Crossfade")
    panel.controls.fade_frames.setValue(5)
    panel.apply_transition()
    panel.project.set_trim(four_clips[3], 3, 30)
    folder = panel.project_actions.save_project_as(tmp_path / "Cli").parent
    app_out, cli_out = tmp_path / "app.mp4", tmp_path / "cli.mp4"
    with qtbot.waitSignal(panel.export_finished, timeout=60000):
        panel.export(app_out, crf=18, preset="ultrafast")
    assert main(["stitch", str(folder), "--output", str(cli_out), "--crf", "18", "--preset", "ultrafast"]) == 0
    app_frames, _ = read_video(app_out)
    cli_frames, _ = read_video(cli_out)
    assert len(app_frames) == panel.project.total_frames == 17 + 25 - 5 + 33 + 27
    assert np.array_equal(app_frames, cli_frames)


def test_a_never_saved_timeline_is_autosaved_and_recovered_after_a_crash(panel, four_clips, tmp_path, qtbot):
    drag(
        panel.view,
        panel.view.clip_rect(four_clips[0]).center(),
        QPointF(panel.view.clip_rect(four_clips[2]).right() + 5, 60),
    )
    autosave = panel.project_actions.autosave()
    assert autosave is not None and autosave.is_file() and panel.project.folder is None
    order = [c.id for c in panel.project.clips]
    # The app died (the system drops its lock on its autosave slot); the next start offers the autosave.
    panel.project_actions.unsaved.release()
    reopened = TimelinePanel(FakeService(tmp_path), QUndoStack())
    qtbot.addWidget(reopened)
    assert reopened.project_actions.recover_unsaved(use_autosave=True)
    assert [c.id for c in reopened.project.clips] == order
    assert reopened.project.total_frames == panel.project.total_frames
    qtbot.wait(10)  # the startup check has run already: no second question
    reopened.project_actions.save_project_as(tmp_path / "Rescued")
    assert not autosave.exists() and not reopened.project_actions.unsaved.autosave_path.exists()

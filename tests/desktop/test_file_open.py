"""Files the system asks the app to open (the Dock icon, Finder's Open With) as real QFileOpenEvents
sent to the application, before the main window exists and after."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.app import make_application, start_main_window
from desktop.file_open import file_open_router
from desktop.project import PROJECT_FILE, Clip, Project, Take
from desktop.widgets.conditioning_strip import unsupported_message
from ltx_mlx_core.video.io import write_video
from tests.desktop.test_conditioning_strip import write_png
from tests.desktop.test_timeline_fakes import coloured_clip


@pytest.fixture
def app(qapp):
    """The application as `ltx-mlx-desktop` makes it, listening for file-open events."""
    app = make_application([])
    yield app
    file_open_router(app).uninstall()


@pytest.fixture
def launch(qtbot, app, tiny_model, app_settings):
    """start_main_window as the app launches it (splash, then the window); shut down after the test."""
    windows = []

    def launch():
        window = start_main_window(app, settings=app_settings, show_model_manager_if_empty=False)
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield launch
    for window in windows:
        window.service.shutdown()


@pytest.fixture
def saved_project(tmp_path) -> Path:
    """Trip.ltxproj: one 17-frame clip, its video copied into the project's media/."""
    folder = tmp_path / "Trip.ltxproj"
    project = Project(name="Trip", fps=24.0, width=96, height=64, folder=folder)
    video = coloured_clip(tmp_path / "shot.mp4", 17, (200, 40, 40))
    project.clips.append(Clip(takes=[Take(project.import_media(video), None, "shot", 17)]))
    project.save(folder)
    return folder


def open_with_app(app, path: Path) -> bool:
    """What macOS does for a file dropped on the Dock icon; True when the app took it."""
    event = QFileOpenEvent(QUrl.fromLocalFile(str(path)))
    QApplication.sendEvent(app, event)
    return event.isAccepted()


def answer_the_next_question(button: QMessageBox.StandardButton) -> dict:
    """Click `button` in the next modal message box (it runs its own event loop); its text is recorded."""
    asked: dict = {}

    def poll(tries: int = 500) -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            asked["text"] = box.text()
            box.button(button).click()
        elif tries:
            QTimer.singleShot(10, lambda: poll(tries - 1))

    QTimer.singleShot(0, poll)
    return asked


def test_files_opened_before_the_window_exists_arrive_once_it_is_shown(qtbot, app, launch, saved_project, tmp_path):
    image = write_png(tmp_path / "dropped on the dock.png")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    for path in (image, saved_project, notes):
        assert open_with_app(app, path)
    assert file_open_router(app).pending == [str(image), str(saved_project), str(notes)]

    window = launch()
    timeline = window.timeline_panel
    qtbot.waitUntil(
        lambda: bool(window.conditioning.items()) and timeline.project.folder == saved_project, timeout=5000
    )
    (item,) = window.conditioning.items()
    assert Path(item.path) == image and item.kind == "image" and item.frame == 0
    assert timeline.project.name == "Trip" and [c.duration for c in timeline.project.clips] == [17]
    assert window.error_dialog is not None and window.error_dialog.isVisible()
    assert window.error_dialog.text() == unsupported_message([str(notes)])  # what a bad drop says
    assert file_open_router(app).pending == []
    window.error_dialog.accept()


def test_files_opened_while_the_window_is_up_go_to_the_strip_and_the_timeline(
    qtbot, app, launch, saved_project, tmp_path
):
    window = launch()
    timeline = window.timeline_panel
    timeline.parentWidget().hide()  # View → Timeline unticked: opening a project shows it again
    clip = write_video(tmp_path / "walk.mp4", np.zeros((9, 64, 64, 3), np.uint8), 8.0)
    assert open_with_app(app, clip)
    qtbot.waitUntil(lambda: len(window.conditioning.items()) == 1, timeout=5000)
    assert window.conditioning.items()[0].kind == "video" and Path(window.conditioning.items()[0].path) == clip

    assert open_with_app(app, saved_project)
    qtbot.waitUntil(lambda: timeline.project.folder == saved_project, timeout=5000)
    assert len(timeline.project.clips) == 1 and timeline.parentWidget().isVisible()
    assert len(window.conditioning.items()) == 1  # a project is not conditioning

    paper = tmp_path / "paper.pdf"
    paper.write_bytes(b"%PDF-1.4")
    with qtbot.waitSignal(window.conditioning.rejected) as rejected:
        assert open_with_app(app, paper)
    assert rejected.args == [unsupported_message([str(paper)])]
    assert window.error_dialog.isVisible() and window.error_dialog.text() == rejected.args[0]
    window.error_dialog.accept()


def test_a_project_opened_over_unsaved_edits_asks_first_and_cancel_keeps_them(
    qtbot, app, launch, saved_project, tmp_path
):
    window = launch()
    timeline = window.timeline_panel
    own = timeline.project_actions.save_project_as(tmp_path / "Own.ltxproj")
    timeline.add_files([str(coloured_clip(tmp_path / "new.mp4", 25, (40, 200, 60)))], 0)  # an unsaved edit
    assert timeline.project_actions.has_unsaved_changes()

    asked = answer_the_next_question(QMessageBox.Cancel)
    assert open_with_app(app, saved_project)
    qtbot.waitUntil(lambda: "text" in asked, timeout=5000)
    assert "Own" in asked["text"] and "Trip.ltxproj" in asked["text"]
    assert timeline.project.name == "Own" and [c.duration for c in timeline.project.clips] == [25]

    asked = answer_the_next_question(QMessageBox.Discard)
    assert open_with_app(app, saved_project)
    qtbot.waitUntil(lambda: timeline.project.folder == saved_project, timeout=5000)
    assert "text" in asked and json.loads(own.read_text())["clips"] == []  # discarded: never written


def test_saving_at_the_question_writes_the_edits_then_opens_the_project(qtbot, app, launch, saved_project, tmp_path):
    window = launch()
    timeline = window.timeline_panel
    own = timeline.project_actions.save_project_as(tmp_path / "Own.ltxproj")
    timeline.add_files([str(coloured_clip(tmp_path / "new.mp4", 25, (40, 200, 60)))], 0)

    asked = answer_the_next_question(QMessageBox.Save)
    assert open_with_app(app, saved_project)
    qtbot.waitUntil(lambda: timeline.project.folder == saved_project, timeout=5000)
    assert "text" in asked and own.name == PROJECT_FILE
    assert [c["takes"][0]["frames"] for c in json.loads(own.read_text())["clips"]] == [25]
    assert not timeline.project_actions.has_unsaved_changes()

"""Opening a damaged project in the app shows why and changes nothing: not the timeline, not the file."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QUndoStack

from desktop.timeline.panel import TimelinePanel
from tests.core.malformed_projects import VARIANTS, snapshot, write_project
from tests.desktop.test_timeline_fakes import FakeService, coloured_clip


@pytest.fixture()
def panel(qtbot, tmp_path):
    panel = TimelinePanel(FakeService(tmp_path), QUndoStack())
    qtbot.addWidget(panel)
    panel.show()
    return panel


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_opening_a_malformed_project_shows_the_reason_and_keeps_the_open_timeline(panel, tmp_path, name):
    panel.add_files([str(coloured_clip(tmp_path / "open.mp4", 9, (200, 30, 30)))], 0)
    panel.project_actions.save_project(tmp_path / "Open.ltxproj")  # nothing unsaved: opening does not ask
    assert not panel.project_actions.has_unsaved_changes()
    project, clips = panel.project, list(panel.project.clips)
    content, fragment = VARIANTS[name]
    folder = write_project(tmp_path / "Damaged.ltxproj", content)
    before = snapshot(folder)
    panel.project_actions.open_project(folder)
    assert fragment in panel.status.text() and "\n" not in panel.status.text()
    assert panel.project is project and panel.project.clips == clips
    assert snapshot(folder) == before

"""Saving a timeline never loses it: failed saves are shown and keep the edits, Save as is all or nothing,
autosaves are per instance and in the data folder, damaged autosaves never block opening (issue 22)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from PySide6.QtGui import QUndoStack

from desktop.project import AUTOSAVE_FILE
from desktop.timeline.panel import TimelinePanel
from desktop.unsaved_autosave import unsaved_root
from ltx_mlx_core import paths
from ltx_mlx_core.video import atomic
from tests.desktop.test_timeline_fakes import FakeService, coloured_clip


def make_panel(qtbot, tmp_path) -> TimelinePanel:
    panel = TimelinePanel(FakeService(tmp_path), QUndoStack())
    qtbot.addWidget(panel)
    return panel


@pytest.fixture()
def panel(qtbot, tmp_path):
    panel = make_panel(qtbot, tmp_path)
    panel.add_files([str(coloured_clip(tmp_path / f"clip{i}.mp4", 9 + 8 * i, (60 * i, 90, 200))) for i in range(2)], 0)
    return panel


def full_disk(monkeypatch) -> None:
    """Every atomic write fails as on a full disk, once the new file's bytes are in place."""

    def fail(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(atomic, "_fsync", fail)


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_save_on_a_full_disk_shows_why_and_keeps_the_timeline_unsaved(panel, tmp_path, monkeypatch):
    folder = panel.project_actions.save_project_as(tmp_path / "Film.ltxproj").parent
    panel.project.set_trim(panel.project.clips[0].id, 2, None)
    panel.undo_stack.resetClean()  # an edit the save has not seen
    before = files_in(folder)
    full_disk(monkeypatch)

    assert panel.project_actions.save_project() is None

    box = panel.project_actions.error_box
    assert box is not None and box.isVisible()
    assert box.text() == "Could not write 'project.json.bak': the disk is full; nothing was written."
    assert not panel.undo_stack.isClean() and panel.project_actions.has_unsaved_changes()
    assert files_in(folder) == before


def test_a_save_to_a_read_only_disk_shows_why_and_changes_nothing(qtbot, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        panel = make_panel(qtbot, tmp_path)
        panel.add_files([str(coloured_clip(tmp_path / "clip.mp4", 17, (200, 40, 40)))], 0)
        folder = panel.project_actions.save_project_as(disk / "Film.ltxproj").parent
        panel.project.set_trim(panel.project.clips[0].id, 3, None)
        panel.undo_stack.resetClean()
        before = files_in(folder)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)

        assert panel.project_actions.save_project() is None
        assert panel.project_actions.error_box.text() == (
            "Could not write 'project.json.bak': the disk is read-only; nothing was written."
        )
        assert not panel.undo_stack.isClean() and files_in(folder) == before
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_autosave_failures_show_one_dialog_until_an_autosave_works_again(panel, monkeypatch):
    panel.undo_stack.resetClean()
    full_disk(monkeypatch)
    assert panel.project_actions.autosave() is None
    first = panel.project_actions.error_box
    assert first.text() == "Autosave failed: Could not write 'autosave.json': the disk is full; nothing was written."
    assert panel.project_actions.autosave() is None
    assert panel.project_actions.error_box is first  # no second dialog 30 s later
    monkeypatch.undo()
    assert panel.project_actions.autosave().is_file()
    assert not panel.undo_stack.isClean()


def test_a_failed_save_as_puts_back_the_name_folder_and_take_paths(panel, tmp_path, monkeypatch):
    original = panel.project_actions.save_project_as(tmp_path / "Trip.ltxproj").parent
    project = panel.project
    panel.undo_stack.resetClean()
    before = (project.name, project.folder, [[t.path for t in c.takes] for c in project.clips])
    full_disk(monkeypatch)

    assert panel.project_actions.save_project_as(tmp_path / "Copy.ltxproj") is None

    assert (project.name, project.folder, [[t.path for t in c.takes] for c in project.clips]) == before
    assert all((original / c.take.path).is_file() for c in project.clips)
    assert panel.project_actions.error_box.isVisible() and not panel.undo_stack.isClean()
    assert not (tmp_path / "Copy.ltxproj" / "project.json").exists()


def test_each_instance_autosaves_its_unsaved_timeline_to_its_own_file(qtbot, tmp_path):
    first, second = make_panel(qtbot, tmp_path), make_panel(qtbot, tmp_path)
    for panel, frames in ((first, 9), (second, 17)):
        panel.add_files([str(coloured_clip(tmp_path / f"c{frames}.mp4", frames, (10, 20, 30)))], 0)
    saved = [first.project_actions.autosave(), second.project_actions.autosave()]
    assert saved[0] != saved[1] and all(path.parent.parent == unsaved_root() for path in saved)
    assert [len(json.loads(p.read_text())["clips"][0]["takes"]) for p in saved] == [1, 1]

    # The first instance crashes; the second is still running, so a new start is offered only the first's.
    first.project_actions.unsaved.release()
    third = make_panel(qtbot, tmp_path)
    assert third.project_actions.recover_unsaved(use_autosave=True)
    assert third.project.clips[0].source_frames == 9
    assert second.project_actions.unsaved.autosave_path.is_file()


def test_clips_of_an_unsaved_timeline_are_kept_in_the_data_folder_not_the_cache(panel):
    folder = panel.jobs.output_folder()
    assert folder.is_relative_to(paths.data_dir()) and not folder.is_relative_to(paths.cache_dir())


@pytest.mark.parametrize("content", ["{ damaged", '{"version": 99, "clips": []}', '{"clips": [{"takes": 3}]}'])
def test_a_damaged_or_newer_autosave_does_not_block_opening_the_project(panel, tmp_path, content):
    folder = panel.project_actions.save_project_as(tmp_path / "Fine.ltxproj").parent
    clips = [c.id for c in panel.project.clips]
    (folder / AUTOSAVE_FILE).write_text(content)
    later = time.time() + 5
    os.utime(folder / AUTOSAVE_FILE, (later, later))  # newer than the save: it would be offered

    panel.project_actions.open_project(folder, use_autosave=True)

    assert [c.id for c in panel.project.clips] == clips
    assert panel.status.text().startswith("The autosave of this timeline was not used: it ")


def test_a_damaged_unsaved_autosave_is_passed_over_with_a_notice(qtbot, tmp_path):
    crashed = unsaved_root() / "crashed1"
    crashed.mkdir(parents=True)
    (crashed / AUTOSAVE_FILE).write_text("{ damaged")
    panel = make_panel(qtbot, tmp_path)
    assert not panel.project_actions.recover_unsaved(use_autosave=True)
    assert panel.status.text().startswith("The autosave of this timeline was not used: it is damaged")
    assert not panel.project.clips

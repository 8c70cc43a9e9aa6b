"""The timeline document under random edits, undos and redos; save/load; interrupted saves."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtGui import QUndoStack

from desktop.project import AUTOSAVE_FILE, Clip, Project, ProjectError, Take, load_project, recover
from desktop.timeline.commands import (
    AddTake, InsertClip, MoveClip, RemoveClip, SetTransition, SwitchTake, TrimClip,
)

operations = st.lists(
    st.tuples(
        st.sampled_from(["insert", "remove", "move", "trim", "fade", "cut", "take", "switch", "undo", "redo"]),
        st.integers(0, 40), st.integers(0, 40), st.integers(0, 40),
    ),
    min_size=1, max_size=40,
)


def new_clip(frames: int) -> Clip:
    return Clip(takes=[Take(path=f"media/clip{frames}.mp4", frames=frames)])


def make_command(project: Project, op: str, a: int, b: int, c: int):
    clips = project.clips
    pick = clips[a % len(clips)].id if clips else None
    if op == "insert":
        return InsertClip(project, b, new_clip(9 + 8 * (c % 4)))
    if pick is None:
        return None
    if op == "remove":
        return RemoveClip(project, pick)
    if op == "move":
        return MoveClip(project, pick, b % len(clips))
    if op == "trim":
        return TrimClip(project, pick, b, None if c % 3 == 0 else c)
    if op == "fade":
        return SetTransition(project, pick, "crossfade", 1 + b % 8)
    if op == "cut":
        return SetTransition(project, pick, "cut", 0)
    if op == "take":
        return AddTake(project, pick, Take(path=f"media/take{b}.mp4", frames=9 + 8 * (b % 3)))
    if op == "switch":
        return SwitchTake(project, pick, b % len(project.clip(pick).takes))
    return None


def accepted(project: Project, command) -> bool:
    """Would the edit be valid? Tried on a copy so an invalid one never reaches the stack."""
    trial = Project.from_dict(project.to_dict())
    command.project = trial
    try:
        command.redo()
        return True
    except ProjectError:
        return False
    finally:
        command.project = project


def check_invariants(project: Project) -> None:
    crossfades = sum(c.transition_frames for c in project.clips[1:] if c.transition == "crossfade")
    assert project.total_frames == sum(c.duration for c in project.clips) - crossfades
    assert all(c.duration >= 1 for c in project.clips)
    assert len({c.id for c in project.clips}) == len(project.clips)
    assert all(0 <= c.active < len(c.takes) for c in project.clips)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_edits_undos_and_redos_keep_the_document_consistent(qapp, ops):
    project = Project()
    stack = QUndoStack()
    snapshots = {0: project.to_dict()}
    for op, a, b, c in ops:
        if op == "undo":
            if stack.canUndo():
                stack.undo()
                assert project.to_dict() == snapshots[stack.index()]
        elif op == "redo":
            if stack.canRedo():
                stack.redo()
                assert project.to_dict() == snapshots[stack.index()]
        else:
            command = make_command(project, op, a, b, c)
            if command is None or not accepted(project, command):
                continue
            stack.push(command)
            snapshots = {i: s for i, s in snapshots.items() if i < stack.index()}
            snapshots[stack.index()] = project.to_dict()
        check_invariants(project)
    while stack.canUndo():
        stack.undo()
    assert project.to_dict() == snapshots[0]  # nothing lost, nothing left behind


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_save_and_load_round_trip(tmp_path_factory, qapp, ops):
    project = Project(name="Film", fps=24)
    stack = QUndoStack()
    for op, a, b, c in ops:
        command = make_command(project, op, a, b, c)
        if command is not None and accepted(project, command):
            stack.push(command)
    folder = tmp_path_factory.mktemp("proj") / "Film.ltxproj"
    project.save(folder)
    loaded = load_project(folder)
    assert loaded.to_dict() == project.to_dict()
    assert loaded.total_frames == project.total_frames


def test_interrupted_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    project = Project(name="Keep")
    project.insert_clip(0, new_clip(25))
    folder = tmp_path / "Keep.ltxproj"
    project.save(folder)
    before = (folder / "project.json").read_bytes()
    project.insert_clip(1, new_clip(17))

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", broken_dump)
    with pytest.raises(OSError):
        project.save(folder)
    assert (folder / "project.json").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["media", "project.json"]


def test_autosave_newer_than_the_save_is_offered_for_recovery(tmp_path):
    project = Project(name="Crash")
    project.insert_clip(0, new_clip(9))
    folder = tmp_path / "Crash.ltxproj"
    project.save(folder)
    assert recover(folder) is None
    project.insert_clip(1, new_clip(17))
    project.autosave()
    recovered = recover(folder)
    assert recovered is not None and len(recovered.clips) == 2
    project.save(folder)  # a real save supersedes the autosave
    assert not (folder / AUTOSAVE_FILE).exists() and recover(folder) is None


def test_bad_edits_are_refused_with_reasons():
    project = Project()
    clip = new_clip(9)
    project.insert_clip(0, clip)
    with pytest.raises(ProjectError, match="first clip has nothing to crossfade"):
        project.set_transition(clip.id, "crossfade", 3)
    with pytest.raises(ProjectError, match="does not fit"):
        project.set_trim(clip.id, 5, 40)
    with pytest.raises(ProjectError, match="no take 3"):
        project.set_active_take(clip.id, 2)

"""The timeline document under random edits, undos and redos; save/load; interrupted saves."""

from __future__ import annotations

import errno
import json
import os
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PySide6.QtGui import QUndoStack

from desktop.project import (
    AUTOSAVE_FILE,
    AutosaveUnreadable,
    Clip,
    Project,
    ProjectError,
    Take,
    load_project,
    recover,
)
from desktop.timeline.commands import (
    AddTake,
    InsertClip,
    MoveClip,
    RemoveClip,
    SetTransition,
    SwitchTake,
    TrimClip,
)
from ltx_mlx_core.errors import OutputWriteError
from ltx_mlx_core.video import atomic

# Transitions are where edits interact (a delete or move makes a crossfaded clip the first,
# a trim makes a clip shorter than its crossfade), so those edits and undos are drawn more often.
OPS = [
    "insert",
    "remove",
    "remove",
    "move",
    "move",
    "trim",
    "fade",
    "fade",
    "cut",
    "cut",
    "take",
    "switch",
    "undo",
    "undo",
    "undo",
    "redo",
]
operations = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)),
    min_size=1,
    max_size=40,
)
# A timeline to start from: 0-4 clips, some crossfaded from the previous one.
start_clips = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 9)), max_size=4)


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


def starting_project(start) -> Project:
    """Clips of 9-33 frames; the second number, when under 8, crossfades that many frames + 1."""
    project = Project()
    for size, fade in start:
        project.insert_clip(len(project.clips), new_clip(9 + 8 * size))
        if len(project.clips) > 1 and fade < 8:
            project.set_transition(project.clips[-1].id, "crossfade", fade + 1)
    return project


def check_invariants(project: Project) -> None:
    crossfades = sum(c.transition_frames for c in project.clips[1:] if c.transition == "crossfade")
    assert project.total_frames == sum(c.duration for c in project.clips) - crossfades
    assert all(c.duration >= 1 for c in project.clips)
    assert len({c.id for c in project.clips}) == len(project.clips)
    assert all(0 <= c.active < len(c.takes) for c in project.clips)
    # What is stored is what exports: the first clip enters with a cut, and no crossfade is
    # longer than a clip it joins (plan_stitch's rule), so export never refuses an accepted edit.
    for index, clip in enumerate(project.clips):
        if clip.transition == "cut" or index == 0:
            assert (clip.transition, clip.transition_frames) == ("cut", 0), index
        else:
            longest = min(clip.duration, project.clips[index - 1].duration)
            assert 1 <= clip.transition_frames <= longest, index


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=start_clips, ops=operations)
@example(start=[(1, 9), (1, 3)], ops=[("remove", 0, 0, 0), ("cut", 0, 0, 0), ("undo", 0, 0, 0), ("undo", 0, 0, 0)])
@example(start=[(1, 9), (1, 3)], ops=[("move", 1, 0, 0), ("cut", 0, 0, 0), ("undo", 0, 0, 0), ("redo", 0, 0, 0)])
@example(start=[(0, 9), (0, 7)], ops=[("trim", 1, 0, 3), ("undo", 0, 0, 0), ("redo", 0, 0, 0)])
def test_random_edits_undos_and_redos_keep_the_document_consistent(qapp, start, ops):
    project = starting_project(start)
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
@given(start=start_clips, ops=operations)
def test_save_and_load_round_trip(tmp_path_factory, qapp, start, ops):
    project = starting_project(start)
    project.name, project.fps = "Film", 24
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

    def full_disk(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(atomic, "_fsync", full_disk)  # the new file is written, not yet flushed
    with pytest.raises(OutputWriteError, match=r"^Could not write 'project\.json(\.bak)?': the disk is full; "):
        project.save(folder)
    assert (folder / "project.json").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["media", "project.json"]


def test_a_save_keeps_the_previous_project_file_as_a_backup(tmp_path):
    project = Project(name="Keep")
    project.insert_clip(0, new_clip(25))
    folder = tmp_path / "Keep.ltxproj"
    project.save(folder)
    assert not (folder / "project.json.bak").exists()
    first = (folder / "project.json").read_bytes()
    project.insert_clip(1, new_clip(17))
    project.save(folder)
    assert (folder / "project.json.bak").read_bytes() == first
    assert len(load_project(folder).clips) == 2


def test_a_clip_or_take_with_keys_from_a_newer_minor_version_opens(tmp_path):
    project = Project(name="Newer")
    project.insert_clip(0, new_clip(25))
    folder = tmp_path / "Newer.ltxproj"
    project.save(folder)
    data = json.loads((folder / "project.json").read_text())
    data["clips"][0]["colour_label"] = "red"
    data["clips"][0]["takes"][0]["rating"] = 5
    (folder / "project.json").write_text(json.dumps(data))
    loaded = load_project(folder)
    assert loaded.clips[0].duration == 25 and loaded.clips[0].take.path == project.clips[0].take.path


@pytest.mark.parametrize("content", ['{"version": 1, "clips": [{"takes": 3}]}', "[1, 2]", '{"clips": [7]}'])
def test_a_damaged_project_file_is_a_project_error_not_a_traceback(tmp_path, content):
    folder = tmp_path / "Bad.ltxproj"
    folder.mkdir()
    (folder / "project.json").write_text(content)
    with pytest.raises(ProjectError, match=r"project\.json'"):  # one sentence naming the file and the fault
        load_project(folder)


@pytest.mark.parametrize("content", ["{ not json", '{"version": 99, "clips": []}', '{"clips": [{"takes": 3}]}'])
def test_a_corrupt_or_future_autosave_is_reported_and_the_saved_project_still_opens(tmp_path, content):
    project = Project(name="Fine")
    project.insert_clip(0, new_clip(9))
    folder = tmp_path / "Fine.ltxproj"
    project.save(folder)
    (folder / AUTOSAVE_FILE).write_text(content)
    os.utime(folder / AUTOSAVE_FILE, (time.time() + 5, time.time() + 5))  # newer than the save: offered
    with pytest.raises(
        AutosaveUnreadable,
        match=r"^The autosave of this timeline was not used: it (is damaged|"
        r"was saved by a newer ltx-mlx)",
    ):
        recover(folder)
    assert len(load_project(folder).clips) == 1


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


def undo_all_restores_each_state(project: Project, stack: QUndoStack, states: list) -> None:
    for state in reversed(states[:-1]):
        stack.undo()
        assert project.to_dict() == state


@pytest.mark.parametrize("make_first", ["delete the first clip", "move the clip to the front"])
def test_a_crossfaded_clip_that_becomes_first_cuts_in_and_undo_brings_the_crossfade_back(qapp, make_first):
    project = starting_project([(1, 9), (1, 3), (1, 9)])  # 17-frame clips; the second crossfades 4 frames
    first, faded, last = (c.id for c in project.clips)
    stack = QUndoStack()
    states = [project.to_dict()]
    stack.push(RemoveClip(project, first) if make_first == "delete the first clip" else MoveClip(project, faded, 0))
    states.append(project.to_dict())
    assert project.clips[0].id == faded and (project.clips[0].transition, project.clips[0].transition_frames) == (
        "cut",
        0,
    )
    assert stack.undoText().endswith("(crossfade removed)")
    stack.push(SetTransition(project, faded, "cut", 0))  # what the user asked for in the issue: then undo
    states.append(project.to_dict())
    stack.push(SetTransition(project, last, "crossfade", 5))
    states.append(project.to_dict())
    undo_all_restores_each_state(project, stack, states)
    assert (project.clip(faded).transition, project.clip(faded).transition_frames) == ("crossfade", 4)
    while stack.canRedo():
        stack.redo()
    assert project.to_dict() == states[-1]


def test_moving_a_crossfaded_clip_next_to_a_shorter_one_shortens_the_crossfade(qapp):
    project = starting_project([(0, 9), (3, 9), (3, 7)])  # 9, 33, 33 frames; the third crossfades 8
    short, _, faded = (c.id for c in project.clips)
    stack = QUndoStack()
    before = project.to_dict()
    stack.push(MoveClip(project, faded, 1))  # now it joins the 9-frame clip: 8 still fits
    assert project.clip(faded).transition_frames == 8
    stack.push(TrimClip(project, short, 0, 5))
    assert project.clip(faded).transition_frames == 5 and stack.undoText() == "Trim clip (crossfade shortened)"
    stack.undo()
    stack.undo()
    assert project.to_dict() == before


@pytest.mark.parametrize("trimmed", ["the faded clip", "the clip before it"])
def test_trimming_a_clip_shorter_than_its_crossfade_shortens_the_crossfade_in_the_same_edit(qapp, trimmed):
    project = starting_project([(0, 9), (0, 7)])  # two 9-frame clips, crossfade of 8
    before_id, faded_id = (c.id for c in project.clips)
    stack = QUndoStack()
    before = project.to_dict()
    trimmed_id = faded_id if trimmed == "the faded clip" else before_id
    stack.push(TrimClip(project, trimmed_id, 0, 3))
    faded = project.clip(faded_id)
    assert (faded.transition, faded.transition_frames) == ("crossfade", 3)  # what export accepts: at most 3
    assert project.total_frames == 9 + 3 - 3
    assert stack.count() == 1 and stack.undoText() == "Trim clip (crossfade shortened)"
    stack.undo()  # one undo gives back the trim and the crossfade
    assert project.to_dict() == before and faded.transition_frames == 8
    stack.redo()
    assert faded.transition_frames == 3 and project.clip(trimmed_id).trim_out == 3


def test_a_shorter_take_shortens_the_crossfade_and_undo_restores_it(qapp):
    project = starting_project([(3, 9), (3, 7)])  # two 33-frame clips, crossfade of 8
    faded = project.clips[1]
    stack = QUndoStack()
    before = project.to_dict()
    stack.push(AddTake(project, faded.id, Take(path="media/short.mp4", frames=5)))
    assert faded.transition_frames == 5
    stack.push(SwitchTake(project, faded.id, 0))
    assert faded.transition_frames == 5  # shortened stays shortened; undo is what brings 8 back
    stack.undo()
    stack.undo()
    assert project.to_dict() == before


def test_a_project_file_with_a_stale_first_clip_crossfade_opens_with_a_cut():
    data = starting_project([(0, 9), (0, 7)]).to_dict()
    data["clips"][0].update(transition="crossfade", transition_frames=4)  # written before the rules were kept
    data["clips"][1].update(transition_frames=20)  # longer than either 9-frame clip
    project = Project.from_dict(data)
    check_invariants(project)
    assert project.clips[1].transition_frames == 9

"""Every timeline edit as a QUndoCommand on the project document (undo/redo for free).

The document shortens or cuts crossfades that an edit leaves too long (see desktop.project);
so that undo is exact, every command saves all transitions before its edit and puts them
back after reversing it. Subclasses write `check`, `apply` and `revert`, not redo/undo.

An edit is checked before it is pushed (`push_edit`), not tried: `check` raises the
ProjectError that `apply` would, without changing the document, so a refused edit never
reaches the stack and an accepted one is applied once, by the push. (Marking a refused
command obsolete instead would not do: QUndoStack.push discards the redo history and the
clean state before it drops an obsolete command.)
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand, QUndoStack

from desktop.project import GAIN_RANGE_DB, Clip, Project, ProjectError, Take


class ProjectCommand(QUndoCommand):
    """Base: saves transitions around the edit and runs `changed()` after every redo/undo so views refresh.

    Each subclass defines `check()` (raises the ProjectError `apply` would; changes nothing),
    `apply()` (the edit) and `revert()` (its exact inverse).
    """

    def __init__(self, project: Project, text: str, changed: Callable[[], None] | None = None):
        super().__init__(text)
        self.project = project
        self.base_text = text
        self._changed = changed or (lambda: None)
        self._transitions: dict[str, tuple[str, int]] = {}
        self.note = ""  # what the edit also changed, in a sentence for the status line

    def redo(self) -> None:
        before = self.project.transitions()
        self.apply()
        self._transitions = before
        after = self.project.transitions()
        fitted = [
            cid for cid in before if cid in after and after[cid] != before[cid] and not self.sets_transition_of(cid)
        ]
        self.note = " ".join(self._describe(cid, *after[cid]) for cid in fitted)
        if fitted:  # the Edit menu says what else the edit did ("Undo Trim clip (crossfade shortened)")
            effect = "shortened" if all(after[cid][0] == "crossfade" for cid in fitted) else "removed"
            self.setText(f"{self.base_text} (crossfade {effect})")
        else:
            self.setText(self.base_text)
        self.notify()

    def _describe(self, clip_id: str, kind: str, frames: int) -> str:
        number = self.project.index_of(clip_id) + 1
        if kind == "crossfade":
            return f"The crossfade into clip {number} is now {frames} frames, to fit the clips it joins."
        return f"Clip {number} now cuts in (it starts the film or a clip it joined has no frame to blend)."

    def undo(self) -> None:
        self.revert()
        self.project.restore_transitions(self._transitions)
        self.notify()

    def sets_transition_of(self, clip_id: str) -> bool:
        """Whether this edit is itself a transition change of `clip_id` (not a side effect)."""
        return False

    def notify(self) -> None:
        self._changed()


class InsertClip(ProjectCommand):
    def __init__(self, project: Project, index: int, clip: Clip, changed=None, text: str = "Add clip"):
        super().__init__(project, text, changed)
        self.index, self.clip = index, clip
        self.own_transition = (clip.transition, clip.transition_frames)

    def check(self) -> None:
        self.project.check_insert(self.clip)

    def apply(self) -> None:
        self.clip.transition, self.clip.transition_frames = self.own_transition
        self.project.insert_clip(self.index, self.clip)

    def revert(self) -> None:
        self.project.remove_clip(self.clip.id)
        self.clip.transition, self.clip.transition_frames = self.own_transition


class RemoveClip(ProjectCommand):
    def __init__(self, project: Project, clip_id: str, changed=None):
        super().__init__(project, "Delete clip", changed)
        self.clip_id = clip_id
        self.index: int = -1
        self.clip: Clip | None = None

    def check(self) -> None:
        self.project.index_of(self.clip_id)

    def apply(self) -> None:
        self.index, self.clip = self.project.remove_clip(self.clip_id)

    def revert(self) -> None:
        self.project.insert_clip(self.index, self.clip)


class MoveClip(ProjectCommand):
    def __init__(self, project: Project, clip_id: str, new_index: int, changed=None):
        super().__init__(project, "Move clip", changed)
        self.clip_id, self.new_index = clip_id, new_index
        self.old_index = project.index_of(clip_id)

    def check(self) -> None:
        self.project.index_of(self.clip_id)

    def apply(self) -> None:
        self.project.move_clip(self.clip_id, self.new_index)

    def revert(self) -> None:
        self.project.move_clip(self.clip_id, self.old_index)


class TrimClip(ProjectCommand):
    """A trim; a neighbouring crossfade longer than the trimmed clip is shortened in the same edit."""

    def __init__(self, project: Project, clip_id: str, trim_in: int, trim_out: int | None, changed=None):
        super().__init__(project, "Trim clip", changed)
        self.clip_id, self.new = clip_id, (trim_in, trim_out)
        clip = project.clip(clip_id)
        self.old = (clip.trim_in, clip.trim_out)

    def check(self) -> None:
        self.project.check_trim(self.clip_id, *self.new)

    def apply(self) -> None:
        self.project.set_trim(self.clip_id, *self.new)

    def revert(self) -> None:
        self.project.set_trim(self.clip_id, *self.old)


class SetTransition(ProjectCommand):
    def __init__(self, project: Project, clip_id: str, kind: str, frames: int, changed=None):
        super().__init__(project, "Change transition", changed)
        self.clip_id, self.new = clip_id, (kind, frames)

    def check(self) -> None:
        self.project.check_transition(self.clip_id, *self.new)

    def apply(self) -> None:
        self.project.set_transition(self.clip_id, *self.new)

    def revert(self) -> None:
        pass  # the saved transitions are put back by the base class, without set_transition's checks

    def sets_transition_of(self, clip_id: str) -> bool:
        return clip_id == self.clip_id


class AddTake(ProjectCommand):
    """A regenerated or retaken version; the earlier takes stay selectable."""

    def __init__(self, project: Project, clip_id: str, take: Take, changed=None, text: str = "New take"):
        super().__init__(project, text, changed)
        self.clip_id, self.take = clip_id, take
        self.previous_active = 0
        self.previous_trim = (0, None)

    def check(self) -> None:
        self.project.index_of(self.clip_id)

    def apply(self) -> None:
        clip = self.project.clip(self.clip_id)
        self.previous_trim = (clip.trim_in, clip.trim_out)
        self.previous_active = self.project.add_take(self.clip_id, self.take)

    def revert(self) -> None:
        clip = self.project.clip(self.clip_id)
        clip.takes.pop()
        clip.active = self.previous_active
        clip.trim_in, clip.trim_out = self.previous_trim


class SwitchTake(ProjectCommand):
    def __init__(self, project: Project, clip_id: str, take_index: int, changed=None):
        super().__init__(project, "Switch take", changed)
        self.clip_id, self.take_index = clip_id, take_index
        clip = project.clip(clip_id)
        self.previous = (clip.active, clip.trim_in, clip.trim_out)

    def check(self) -> None:
        self.project.check_take(self.clip_id, self.take_index)

    def apply(self) -> None:
        self.project.set_active_take(self.clip_id, self.take_index)

    def revert(self) -> None:
        clip = self.project.clip(self.clip_id)
        clip.active, clip.trim_in, clip.trim_out = self.previous


class SetClipGain(ProjectCommand):
    """The clip's sound level in dB (within GAIN_RANGE_DB)."""

    def __init__(self, project: Project, clip_id: str, gain_db: float, changed=None):
        super().__init__(project, "Change clip volume", changed)
        self.clip_id, self.new = clip_id, float(gain_db)
        self.old = project.clip(clip_id).gain_db

    def check(self) -> None:
        self.project.index_of(self.clip_id)
        low, high = GAIN_RANGE_DB
        if not low <= self.new <= high:
            raise ProjectError(f"A clip's gain can be {low:g} to +{high:g} dB; got {self.new:g}.")

    def apply(self) -> None:
        self.project.clip(self.clip_id).gain_db = self.new

    def revert(self) -> None:
        self.project.clip(self.clip_id).gain_db = self.old


class SetClipMute(ProjectCommand):
    def __init__(self, project: Project, clip_id: str, muted: bool, changed=None):
        super().__init__(project, "Mute clip" if muted else "Unmute clip", changed)
        self.clip_id, self.new = clip_id, bool(muted)
        self.old = project.clip(clip_id).muted

    def check(self) -> None:
        self.project.index_of(self.clip_id)

    def apply(self) -> None:
        self.project.clip(self.clip_id).muted = self.new

    def revert(self) -> None:
        self.project.clip(self.clip_id).muted = self.old


def push_edit(stack: QUndoStack, command: ProjectCommand) -> None:
    """Check `command`, then push it (the push's redo applies it).

    Raises ProjectError, with a sentence for the status line, when the edit cannot apply;
    the stack and the document are then left as they were.
    """
    command.check()
    stack.push(command)

"""Every timeline edit as a QUndoCommand on the project document (undo/redo for free)."""
from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtGui import QUndoCommand

from desktop.project import Clip, Project, Take


class ProjectCommand(QUndoCommand):
    """Base: runs `changed()` after every redo/undo so views refresh."""

    def __init__(self, project: Project, text: str, changed: Optional[Callable[[], None]] = None):
        super().__init__(text)
        self.project = project
        self._changed = changed or (lambda: None)

    def notify(self) -> None:
        self._changed()


class InsertClip(ProjectCommand):
    def __init__(self, project: Project, index: int, clip: Clip, changed=None, text: str = "Add clip"):
        super().__init__(project, text, changed)
        self.index, self.clip = index, clip

    def redo(self) -> None:
        self.project.insert_clip(self.index, self.clip)
        self.notify()

    def undo(self) -> None:
        self.project.remove_clip(self.clip.id)
        self.notify()


class RemoveClip(ProjectCommand):
    def __init__(self, project: Project, clip_id: str, changed=None):
        super().__init__(project, "Delete clip", changed)
        self.clip_id = clip_id
        self.index: int = -1
        self.clip: Optional[Clip] = None

    def redo(self) -> None:
        self.index, self.clip = self.project.remove_clip(self.clip_id)
        self.notify()

    def undo(self) -> None:
        self.project.insert_clip(self.index, self.clip)
        self.notify()


class MoveClip(ProjectCommand):
    def __init__(self, project: Project, clip_id: str, new_index: int, changed=None):
        super().__init__(project, "Move clip", changed)
        self.clip_id, self.new_index = clip_id, new_index
        self.old_index = project.index_of(clip_id)

    def redo(self) -> None:
        self.project.move_clip(self.clip_id, self.new_index)
        self.notify()

    def undo(self) -> None:
        self.project.move_clip(self.clip_id, self.old_index)
        self.notify()


class TrimClip(ProjectCommand):
    def __init__(self, project: Project, clip_id: str, trim_in: int, trim_out: Optional[int], changed=None):
        super().__init__(project, "Trim clip", changed)
        self.clip_id, self.new = clip_id, (trim_in, trim_out)
        clip = project.clip(clip_id)
        self.old = (clip.trim_in, clip.trim_out)

    def redo(self) -> None:
        self.project.set_trim(self.clip_id, *self.new)
        self.notify()

    def undo(self) -> None:
        self.project.set_trim(self.clip_id, *self.old)
        self.notify()


class SetTransition(ProjectCommand):
    def __init__(self, project: Project, clip_id: str, kind: str, frames: int, changed=None):
        super().__init__(project, "Change transition", changed)
        self.clip_id, self.new = clip_id, (kind, frames)
        clip = project.clip(clip_id)
        self.old = (clip.transition, clip.transition_frames)

    def redo(self) -> None:
        self.project.set_transition(self.clip_id, *self.new)
        self.notify()

    def undo(self) -> None:
        self.project.set_transition(self.clip_id, *self.old)
        self.notify()


class AddTake(ProjectCommand):
    """A regenerated or retaken version; the earlier takes stay selectable."""

    def __init__(self, project: Project, clip_id: str, take: Take, changed=None, text: str = "New take"):
        super().__init__(project, text, changed)
        self.clip_id, self.take = clip_id, take
        self.previous_active = 0
        self.previous_trim = (0, None)

    def redo(self) -> None:
        clip = self.project.clip(self.clip_id)
        self.previous_trim = (clip.trim_in, clip.trim_out)
        self.previous_active = self.project.add_take(self.clip_id, self.take)
        self.notify()

    def undo(self) -> None:
        clip = self.project.clip(self.clip_id)
        clip.takes.pop()
        clip.active = self.previous_active
        clip.trim_in, clip.trim_out = self.previous_trim
        self.notify()


class SwitchTake(ProjectCommand):
    def __init__(self, project: Project, clip_id: str, take_index: int, changed=None):
        super().__init__(project, "Switch take", changed)
        self.clip_id, self.take_index = clip_id, take_index
        clip = project.clip(clip_id)
        self.previous = (clip.active, clip.trim_in, clip.trim_out)

    def redo(self) -> None:
        self.project.set_active_take(self.clip_id, self.take_index)
        self.notify()

    def undo(self) -> None:
        clip = self.project.clip(self.clip_id)
        clip.active, clip.trim_in, clip.trim_out = self.previous
        self.notify()

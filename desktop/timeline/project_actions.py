"""Project files for the timeline: new, open, save, save as (media copied in), autosave and crash recovery, add media."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import QFileDialog, QLabel, QMenu, QMessageBox

from desktop.project import AutosaveUnreadable, Project, ProjectError, load_project, read_autosave, recover
from desktop.unsaved_autosave import UnsavedSlot
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.video.atomic import describe_os_error

logger = logging.getLogger(__name__)
PROJECT_SUFFIX = ".ltxproj"
MEDIA_FILTER = "Videos and images (*.mp4 *.mov *.m4v *.mkv *.webm *.png *.jpg *.jpeg *.webp)"


def save_failure(name: str, error: Exception) -> str:
    """One sentence for a save that failed: our errors already are one; a system error gets its reason."""
    if isinstance(error, OSError):
        return f"Could not save '{name}': {describe_os_error(error)}; the timeline still has your changes."
    return str(error)


class TimelineHost(Protocol):
    """What the project actions use of the timeline panel (a QWidget: their parent and their dialogs')."""

    project: Project
    undo_stack: QUndoStack
    status: QLabel

    def set_project(self, project: Project) -> None: ...

    def add_files(self, paths: list, index: int) -> None: ...


class ProjectActions(QObject):
    """QActions a menu or toolbar can share; dialogs open only when no path is given."""

    def __init__(self, panel: TimelineHost):
        super().__init__(panel)
        self.panel = panel
        self.new = QAction("New timeline", self, triggered=lambda: self.new_project())
        self.open = QAction("Open timeline…", self, triggered=lambda: self.open_project())
        self.save = QAction("Save timeline", self, triggered=lambda: self.save_project())
        self.save.setShortcut(QKeySequence.Save)
        self.save_as = QAction("Save timeline as…", self, triggered=lambda: self.save_project_as())
        self.add_media = QAction("Add videos or images…", self, triggered=lambda: self.add_media_files())
        self.add_last = QAction("Add the last generated video", self, triggered=self.add_last_generated)
        self.add_last.setEnabled(False)
        self.last_generated: Path | None = None
        self._recovery_checked = False
        self.unsaved = UnsavedSlot()  # this instance's own autosave of a never-saved timeline
        self.error_box: QMessageBox | None = None
        self._autosave_failing = False  # one dialog per run of failed autosaves, not one every 30 s

    def menu(self, parent=None) -> QMenu:
        menu = QMenu(parent)
        for action in (self.add_last, self.add_media, None, self.new, self.open, self.save, self.save_as):
            menu.addSeparator() if action is None else menu.addAction(action)
        return menu

    def note_generated(self, path: str) -> None:
        """A video generated outside the timeline (the main window's Generate) can be added in one click."""
        self.last_generated = Path(path)
        self.add_last.setEnabled(True)
        self.add_last.setText(f"Add {self.last_generated.name}")

    def add_last_generated(self) -> None:
        if self.last_generated is not None:
            self.panel.add_files([str(self.last_generated)], len(self.panel.project.clips))

    def add_media_files(self, paths: list[str] | None = None) -> None:
        if paths is None:
            paths, _ = QFileDialog.getOpenFileNames(self.panel, "Add to the timeline", "", MEDIA_FILTER)
        if paths:
            self.panel.add_files(list(paths), len(self.panel.project.clips))

    def new_project(self) -> None:
        if self.keep_or_discard_changes("starting a new timeline"):
            self.panel.set_project(Project())

    def has_unsaved_changes(self) -> bool:
        """Edits since the last save, or clips on a timeline that was never saved (a recovered one, too)."""
        project = self.panel.project
        return bool(project.clips) and (not self.panel.undo_stack.isClean() or project.folder is None)

    def keep_or_discard_changes(self, doing: str) -> bool:
        """Before the timeline is replaced: True when nothing is unsaved, or the user saved or discarded it."""
        if not self.has_unsaved_changes():
            return True
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Unsaved timeline",
            f"Save the changes to '{self.panel.project.name}' before {doing}?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel,
            self.panel,
        )
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setDefaultButton(QMessageBox.Save)
        answer = box.exec()
        if answer == QMessageBox.Save:
            return self.save_project() is not None
        return answer == QMessageBox.Discard

    def open_project(self, folder: Path | None = None, use_autosave: bool | None = None) -> None:
        """Open a .ltxproj folder; an autosave newer than its last save (a crash) is offered, or used when told.

        Unsaved edits to the open timeline are offered for saving first (Cancel keeps it open).
        """
        if folder is None:
            name = QFileDialog.getExistingDirectory(self.panel, "Open timeline (a .ltxproj folder)")
            if not name:
                return
            folder = Path(name)
        if not self.keep_or_discard_changes(f"opening {Path(folder).name}"):
            return
        notice = ""
        try:
            try:
                recovered = recover(Path(folder))
            except AutosaveUnreadable as error:  # the project's own file may be fine: open that
                recovered, notice = None, str(error)
            if recovered is not None and use_autosave is None:
                use_autosave = self._ask(
                    "Recover project", "This timeline has changes from a session that ended unexpectedly. Recover them?"
                )
            self.panel.set_project(recovered if recovered is not None and use_autosave else load_project(folder))
            if notice:
                self.panel.status.setText(notice)
        except ProjectError as error:
            self.panel.status.setText(str(error))

    def save_project(self, folder: Path | None = None) -> Path | None:
        """Save to `folder` or the project's own; a project never saved asks where (Save as).

        A save that fails (full disk, read-only folder) shows why and leaves the timeline
        marked as changed; None is returned then.
        """
        project = self.panel.project
        if folder is None and project.folder is None:
            return self.save_project_as()
        try:
            path = project.save(folder)
        except (OSError, LtxMlxError, ProjectError) as error:
            logger.warning("Saving %s failed: %s", folder or project.folder, error)
            self.show_error(save_failure(project.name, error))
            return None
        self.panel.undo_stack.setClean()
        self.unsaved.discard()
        self.panel.status.setText(f"Saved {path.parent.name}.")
        return path

    def autosave(self) -> Path | None:
        """Autosave edits not yet saved; a project never saved autosaves to this instance's own slot.

        A failure is shown once (and logged), not at every tick, until an autosave succeeds again.
        """
        project = self.panel.project
        if self.panel.undo_stack.isClean() or not project.clips:
            return None
        try:
            path = project.autosave(None if project.folder else self.unsaved.folder)
        except (OSError, LtxMlxError) as error:
            logger.warning("Autosave failed: %s", error)
            if not self._autosave_failing:
                self.show_error(f"Autosave failed: {save_failure(project.name, error)}")
            self._autosave_failing = True
            return None
        self._autosave_failing = False
        return path

    def recover_unsaved(self, use_autosave: bool | None = None) -> bool:
        """After a crash, offer the newest autosave of a never-saved timeline no running instance holds.

        Asked once per start (unless told); a damaged autosave is passed over with a notice.
        """
        if self._recovery_checked:
            return False
        self._recovery_checked = True
        orphans = self.unsaved.orphaned()
        if not orphans:
            return False
        autosave = orphans[0]
        try:
            project = read_autosave(autosave)
        except AutosaveUnreadable as error:
            self.panel.status.setText(str(error))
            return False
        if use_autosave is None:
            use_autosave = self._ask(
                "Recover timeline",
                "A timeline that was never saved was open when the app last closed unexpectedly. Recover it?",
            )
        if use_autosave:
            self.unsaved.adopt(autosave)
            self.panel.set_project(project)
            self.panel.status.setText("Recovered the unsaved timeline; save it to keep it.")
        else:
            self.unsaved.discard(autosave)
        return bool(use_autosave)

    def show_error(self, message: str) -> QMessageBox:
        """A window-modal message that does not block the event loop (a save is often triggered by a timer)."""
        box = QMessageBox(QMessageBox.Icon.Warning, "LTX-MLX", message, QMessageBox.StandardButton.Ok, self.panel)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.error_box = box
        self.panel.status.setText(message)
        return box

    def _ask(self, title: str, question: str) -> bool:
        return QMessageBox.question(self.panel, title, question) == QMessageBox.Yes

    def save_project_as(self, folder: Path | None = None) -> Path | None:
        """Save into a new .ltxproj folder and copy every referenced video into its media/."""
        if folder is None:
            name, _ = QFileDialog.getSaveFileName(
                self.panel,
                "Save timeline as",
                f"{self.panel.project.name}{PROJECT_SUFFIX}",
                f"Timeline (*{PROJECT_SUFFIX})",
            )
            if not name:
                return None
            folder = Path(name)
        if folder.suffix != PROJECT_SUFFIX:
            folder = folder.with_name(folder.name + PROJECT_SUFFIX)
        project = self.panel.project
        # Save as changes the name, the folder and the takes' paths; all of it goes back if any step fails.
        before = (project.name, project.folder, [[t.path for t in c.takes] for c in project.clips])
        previous = project.folder
        project.name = folder.stem
        project.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if previous is not None:  # paths relative to the old folder become absolute, then are copied
                for take in (t for c in project.clips for t in c.takes if not Path(t.path).is_absolute()):
                    take.path = str((previous / take.path).resolve())
            copied = project.collect_media()
            path = project.save(folder)
        except (OSError, LtxMlxError, ProjectError) as error:
            project.name, project.folder = before[0], before[1]
            for clip, paths in zip(project.clips, before[2]):
                for take, old_path in zip(clip.takes, paths):
                    take.path = old_path
            logger.warning("Save as %s failed: %s", folder, error)
            self.show_error(save_failure(folder.name, error))
            return None
        self.panel.undo_stack.setClean()
        self.unsaved.discard()
        self.panel.status.setText(f"Saved {folder.name} ({copied} video(s) copied into it).")
        return path

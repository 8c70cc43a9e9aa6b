"""Project file actions for the timeline: new, open (with crash recovery), save, save as, add media."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu

from desktop.project import Project, ProjectError

if TYPE_CHECKING:
    from desktop.timeline.panel import TimelinePanel

logger = logging.getLogger(__name__)
PROJECT_SUFFIX = ".ltxproj"
MEDIA_FILTER = "Videos and images (*.mp4 *.mov *.m4v *.mkv *.webm *.png *.jpg *.jpeg *.webp)"


class ProjectActions(QObject):
    """QActions a menu or toolbar can share; dialogs open only when no path is given."""

    def __init__(self, panel: "TimelinePanel"):
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
        self.last_generated: Optional[Path] = None

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

    def add_media_files(self, paths: Optional[list[str]] = None) -> None:
        if paths is None:
            paths, _ = QFileDialog.getOpenFileNames(self.panel, "Add to the timeline", "", MEDIA_FILTER)
        if paths:
            self.panel.add_files(list(paths), len(self.panel.project.clips))

    def new_project(self) -> None:
        self.panel.set_project(Project())

    def open_project(self, folder: Optional[Path] = None, use_autosave: Optional[bool] = None) -> None:
        if folder is None:
            name = QFileDialog.getExistingDirectory(self.panel, "Open timeline (a .ltxproj folder)")
            if not name:
                return
            folder = Path(name)
        try:
            self.panel.open_project(Path(folder), use_autosave)
        except ProjectError as error:
            self.panel.status.setText(str(error))

    def save_project(self) -> Optional[Path]:
        if self.panel.project.folder is None:
            return self.save_project_as()
        return self.panel.save_project()

    def save_project_as(self, folder: Optional[Path] = None) -> Optional[Path]:
        """Save into a new .ltxproj folder and copy every referenced video into its media/."""
        if folder is None:
            name, _ = QFileDialog.getSaveFileName(self.panel, "Save timeline as", f"{self.panel.project.name}"
                                                  f"{PROJECT_SUFFIX}", f"Timeline (*{PROJECT_SUFFIX})")
            if not name:
                return None
            folder = Path(name)
        if folder.suffix != PROJECT_SUFFIX:
            folder = folder.with_name(folder.name + PROJECT_SUFFIX)
        project = self.panel.project
        previous = project.folder
        project.name = folder.stem
        project.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if previous is not None:  # paths relative to the old folder become absolute, then are copied
                for take in (t for c in project.clips for t in c.takes if not Path(t.path).is_absolute()):
                    take.path = str((previous / take.path).resolve())
            copied = project.collect_media()
        except (OSError, ProjectError) as error:
            project.folder = previous
            self.panel.status.setText(f"Could not save the timeline: {error}")
            return None
        path = self.panel.save_project()
        self.panel.status.setText(f"Saved {folder.name} ({copied} video(s) copied into it).")
        return path

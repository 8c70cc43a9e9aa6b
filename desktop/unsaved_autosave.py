"""Where a timeline that was never saved lives: its autosave (one slot per running app) and its clips.

Each app instance claims a folder `timeline/unsaved/<id>/` under the app's data folder
and holds an exclusive lock (flock) on the `lock` file in it while it runs. The system
drops the lock when the process ends, however it ends, so at start an instance offers
to recover the autosaves of slots nobody holds, and two instances never write the same
file. Clips generated for such a timeline go to `timeline/media/` beside them: the data
folder, not the cache folder that system cleaners empty.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import uuid
import weakref
from pathlib import Path

from desktop.project import AUTOSAVE_FILE
from ltx_mlx_core.paths import data_dir

log = logging.getLogger(__name__)

LOCK_FILE = "lock"


def unsaved_root() -> Path:
    return data_dir() / "timeline" / "unsaved"


def unsaved_media_folder() -> Path:
    """Clips of timelines that were never saved (Save as… copies them into the project)."""
    path = data_dir() / "timeline" / "media"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _try_lock(lock_file: Path) -> int | None:
    """An open descriptor holding the lock, or None when another process holds it."""
    handle = os.open(lock_file, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        return None
    return handle


class UnsavedSlot:
    """This instance's autosave file for a never-saved timeline, and the ones crashed instances left."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else unsaved_root()
        self.folder = self.root / uuid.uuid4().hex[:12]
        self.folder.mkdir(parents=True)
        lock = _try_lock(self.folder / LOCK_FILE)
        # Closed when the slot is released or collected (a test's panels come and go in one process).
        self._release = weakref.finalize(self, os.close, lock) if lock is not None else None

    @property
    def autosave_path(self) -> Path:
        return self.folder / AUTOSAVE_FILE

    def orphaned(self) -> list[Path]:
        """Autosaves no running instance holds, newest first; slots left empty are removed."""
        found = []
        legacy = self.root / AUTOSAVE_FILE  # the one shared file of earlier versions
        if legacy.is_file():
            found.append(legacy)
        for folder in self.root.iterdir() if self.root.is_dir() else ():
            if folder == self.folder or not folder.is_dir():
                continue
            handle = _try_lock(folder / LOCK_FILE)
            if handle is None:
                continue  # its instance is running
            try:
                autosave = folder / AUTOSAVE_FILE
                if autosave.is_file():
                    found.append(autosave)
                else:
                    shutil.rmtree(folder, ignore_errors=True)
            finally:
                os.close(handle)
        return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)

    def adopt(self, autosave: Path) -> Path:
        """Make an orphaned autosave this instance's own (so a second crash still keeps it)."""
        os.replace(autosave, self.autosave_path)
        self.discard(autosave)
        return self.autosave_path

    def discard(self, autosave: Path | None = None) -> None:
        """Remove an orphaned autosave (and its slot), or this instance's own when None."""
        if autosave is None:
            self.autosave_path.unlink(missing_ok=True)
            return
        autosave.unlink(missing_ok=True)
        if autosave.parent != self.root and autosave.parent != self.folder:
            shutil.rmtree(autosave.parent, ignore_errors=True)

    def release(self) -> None:
        """Give up the slot's lock, as the system does when the app ends; the autosave stays."""
        if self._release is not None:
            self._release()

"""Files the system asks the app to open: dropped on the Dock icon, or Finder's Open With.

macOS hands them to the QApplication as QFileOpenEvents (the bundle's Info.plist
registers .ltxproj projects, images and movies), at launch even before the main
window exists. FileOpenRouter, an event filter on the application, queues their
paths and hands them to the window's `open_files(paths)` once `attach(window)`
is called, which start_main_window does after showing it.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtGui import QFileOpenEvent

log = logging.getLogger(__name__)

ROUTER_NAME = "file_open_router"


class FileOpenRouter(QObject):
    def __init__(self, app: QCoreApplication):
        super().__init__(app)
        self.setObjectName(ROUTER_NAME)
        self.pending: list[str] = []
        self.window: QObject | None = None
        app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.FileOpen or not isinstance(event, QFileOpenEvent):
            return False
        path = event.file() or event.url().toLocalFile()
        if path:
            log.info("Asked to open %s%s", path, "" if self.window is not None else " (queued until the window is up)")
            self.pending.append(path)
            if self.window is not None:
                QTimer.singleShot(0, self.deliver)
        return True

    def attach(self, window: QObject) -> None:
        """Hand queued and later files to `window.open_files`; call once the window is shown."""
        self.window = window
        window.destroyed.connect(self._detach)
        QTimer.singleShot(0, self.deliver)  # after what the window queued on its first show (crash recovery)

    def deliver(self) -> None:
        if self.window is None or not self.pending:
            return
        paths, self.pending = self.pending, []
        self.window.open_files(paths)

    def _detach(self) -> None:
        self.window = None

    def uninstall(self) -> None:
        QCoreApplication.instance().removeEventFilter(self)
        self.setParent(None)


def file_open_router(app: QCoreApplication) -> FileOpenRouter:
    """The application's router, installed on first use."""
    router = app.findChild(FileOpenRouter, ROUTER_NAME)
    return router if router is not None else FileOpenRouter(app)

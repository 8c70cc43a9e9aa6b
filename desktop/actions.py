"""The window's QActions: one object per command, shared by menus, buttons and shortcuts."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget


def _action(parent: QWidget, text: str, shortcut=None, tip: str = "") -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    return action


class WindowActions:
    def __init__(self, parent: QWidget):
        # "Ctrl" is Cmd on macOS: Qt maps it to the platform's command key.
        self.generate = _action(parent, "&Generate", "Ctrl+Return", "Generate a video from the prompt")
        self.cancel = _action(parent, "&Cancel Generation", "Esc", "Stop at the next step and free memory")
        self.cancel.setEnabled(False)
        self.choose_output_folder = _action(
            parent, "Choose &Output Folder…", None, "Where videos and their request JSON files are saved"
        )
        self.open_output_folder = _action(parent, "Show Output &Folder", None)
        self.open_request = _action(
            parent,
            "&Open Request JSON…",
            QKeySequence.StandardKey.Open,
            "Load the settings of a past generation from its JSON file",
        )
        self.settings = _action(parent, "&Settings…", "Ctrl+,", "Output folder and video quality")
        self.settings.setMenuRole(QAction.MenuRole.PreferencesRole)  # the app menu on macOS
        self.quit = _action(parent, "&Quit", QKeySequence.StandardKey.Quit)
        self.paste_image = _action(
            parent,
            "&Paste as Conditioning",
            QKeySequence.StandardKey.Paste,
            "An image, or files copied in a file manager (images, clips, a sound)",
        )
        self.clear_conditioning = _action(parent, "Clear Conditioning", None)
        self.add_to_timeline = _action(
            parent, "Add Last Video to &Timeline", "Ctrl+T", "Append the last finished video to the timeline as a clip"
        )
        self.add_to_timeline.setEnabled(False)
        self.model_manager = _action(parent, "&Model Manager…", "Ctrl+Shift+M")
        self.make_tiny = _action(
            parent,
            "Make &Tiny Test Model",
            None,
            "A small random-weight model for offline trials (its output is noise)",
        )
        self.make_tiny_ltx2 = _action(
            parent,
            "Make Tiny &LTX-2 Model",
            None,
            "A small random-weight LTX-2 model, video with sound, for offline trials (its output is noise)",
        )
        self.about = _action(parent, "&About LTX-MLX", None)
        # On macOS these move to the application menu, where users look for them.
        self.about.setMenuRole(QAction.MenuRole.AboutRole)
        self.quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.open_log_folder = _action(parent, "Open &Log Folder", None)


def build_menus(
    window: QMainWindow, a: WindowActions, undo_stack: QUndoStack, history_dock: QDockWidget
) -> tuple[QAction, QAction, QMenu]:
    """File, Edit, View, Models, Help; returns (undo, redo, the View menu for later docks)."""

    def fill(menu: QMenu, actions) -> None:
        for action in actions:
            menu.addSeparator() if action is None else menu.addAction(action)

    bar = window.menuBar()
    fill(
        bar.addMenu("&File"),
        (
            a.generate,
            a.cancel,
            None,
            a.open_request,
            a.choose_output_folder,
            a.open_output_folder,
            None,
            a.settings,
            None,
            a.quit,
        ),
    )
    undo = undo_stack.createUndoAction(window, "&Undo")
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    redo = undo_stack.createRedoAction(window, "&Redo")
    redo.setShortcut(QKeySequence.StandardKey.Redo)
    fill(bar.addMenu("&Edit"), (undo, redo, None, a.paste_image, a.clear_conditioning, None, a.add_to_timeline))
    view = bar.addMenu("&View")
    # The dock's own toggle action (checked while it is shown), with the shortcut.
    history = history_dock.toggleViewAction()
    history.setText("&History")
    history.setShortcut(QKeySequence("Ctrl+Shift+H"))
    view.addAction(history)
    fill(bar.addMenu("&Models"), (a.model_manager, a.make_tiny, a.make_tiny_ltx2))
    fill(bar.addMenu("&Help"), (a.about, a.open_log_folder))
    return undo, redo, view

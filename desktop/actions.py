"""The window's QActions: one object per command, shared by menus, buttons and shortcuts."""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


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
        self.choose_output_folder = _action(parent, "Choose &Output Folder…", None,
                                            "Where videos and their request JSON files are saved")
        self.open_output_folder = _action(parent, "Show Output &Folder", None)
        self.open_request = _action(parent, "&Open Request JSON…", QKeySequence.StandardKey.Open,
                                    "Load the settings of a past generation from its JSON file")
        self.quit = _action(parent, "&Quit", QKeySequence.StandardKey.Quit)
        self.paste_image = _action(parent, "&Paste Image as Conditioning", QKeySequence.StandardKey.Paste)
        self.clear_conditioning = _action(parent, "Clear Conditioning", None)
        self.show_history = _action(parent, "&History", "Ctrl+Shift+H")
        self.show_history.setCheckable(True)
        self.model_manager = _action(parent, "&Model Manager…", "Ctrl+Shift+M")
        self.make_tiny = _action(parent, "Make &Tiny Test Model", None,
                                 "A small random-weight model for offline trials (its output is noise)")
        self.about = _action(parent, "&About ltx-mlx", None)
        self.open_log_folder = _action(parent, "Open &Log Folder", None)

"""View → Appearance: follow the system's light/dark setting (the default), or force light or dark.

Where the platform can switch its own colour scheme (macOS, Windows, Linux
desktops with the settings portal) Qt does it natively. Elsewhere (a bare X
server, the offscreen platform) forcing a scheme falls back to Fusion with a
palette of our own, so the choice still takes effect.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QMenu

from desktop.settings import AppSettings
from desktop.style import install_app_style, style_name

log = logging.getLogger(__name__)

APPEARANCES = {
    "system": ("Follow the System", Qt.ColorScheme.Unknown),
    "light": ("Light", Qt.ColorScheme.Light),
    "dark": ("Dark", Qt.ColorScheme.Dark),
}


def dark_palette() -> QPalette:
    palette = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    for name, colour in (
        (role.Window, "#2b2b2d"),
        (role.WindowText, "#e6e6e6"),
        (role.Base, "#1e1e20"),
        (role.AlternateBase, "#2f2f33"),
        (role.Text, "#e6e6e6"),
        (role.Button, "#3a3a3d"),
        (role.ButtonText, "#e6e6e6"),
        (role.Highlight, "#2f6fd0"),
        (role.HighlightedText, "#ffffff"),
        (role.ToolTipBase, "#3a3a3d"),
        (role.ToolTipText, "#e6e6e6"),
        (role.PlaceholderText, "#8a8a8a"),
        (role.Link, "#6ea8ff"),
        (role.Mid, "#505054"),
        (role.Dark, "#161618"),
        (role.Light, "#505054"),
        (role.Midlight, "#444448"),
        (role.Shadow, "#000000"),
    ):
        palette.setColor(name, QColor(colour))
    for name in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(group.Disabled, name, QColor("#7c7c80"))
    return palette


def apply_appearance(app: QApplication, appearance: str) -> None:
    if appearance not in APPEARANCES:
        log.warning("Unknown appearance %r; following the system", appearance)
        appearance = "system"
    scheme = APPEARANCES[appearance][1]
    hints = QGuiApplication.styleHints()
    hints.setColorScheme(scheme)
    if appearance == "system" or hints.colorScheme() == scheme:
        app.setPalette(QPalette())  # the platform's own palette for its (possibly switched) scheme
        return
    # The platform cannot switch: Fusion draws our palette the same way everywhere.
    if style_name(app) != "fusion":
        install_app_style(app, "Fusion")
    app.setPalette(dark_palette() if appearance == "dark" else app.style().standardPalette())


def appearance_menu(parent_menu: QMenu, settings: AppSettings) -> QActionGroup:
    """A submenu of exclusive choices; picking one applies and saves it."""
    menu = parent_menu.addMenu("&Appearance")
    group = QActionGroup(menu)
    current = settings.get("appearance")
    for key, (label, _) in APPEARANCES.items():
        action = QAction(label, menu, checkable=True)
        action.setData(key)
        action.setChecked(key == current)
        group.addAction(action)
        menu.addAction(action)

    def chosen(action: QAction) -> None:
        settings.set("appearance", action.data())
        settings.save()
        apply_appearance(QApplication.instance(), action.data())

    group.triggered.connect(chosen)
    return group

"""The main window fits a 13-inch MacBook (1440 or 1470 points wide): at 1280 px the timeline's
controls that do not fit move into its More menu, and every one stays reachable, none cut off."""

from __future__ import annotations

from operator import attrgetter

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QWidget

NARROW = 1280
CONTROLS = (
    "project_button",
    "play",
    "extend",
    "extend_count",
    "extend_n",
    "bridge",
    "retake",
    "regenerate",
    "take",
    "transition",
    "fade_frames",
    "delete",
    "clip_mute",
    "clip_gain",
    "zoom_out",
    "zoom_in",
    "crf",
    "preset",
    "format",
    "export",
    "prompt",
    "seed",
    "frames",
)
INPUTS = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit)


def whole_inside(widget: QWidget, container: QWidget) -> bool:
    """Shown, wholly inside `container`, and at least as wide as it asks (no clipped or squeezed text)."""
    rect = QRect(widget.mapTo(container, QPoint(0, 0)), widget.size())
    wanted = max(widget.minimumSizeHint().width(), widget.minimumWidth())
    return widget.isVisible() and container.rect().contains(rect) and widget.width() >= wanted


def in_menu(row, widget: QWidget) -> bool:
    return any(widget is item or item.isAncestorOf(widget) for item in row.collapsed())


@pytest.fixture
def narrow(qtbot, window):
    def resize(width: int, history: bool) -> None:
        window.history_dock.setVisible(history)
        window.resize(width, 900)
        qtbot.waitUntil(lambda: window.width() == width, timeout=5000)
        qtbot.wait(50)

    return resize


@pytest.mark.parametrize("history", [False, True], ids=["timeline only", "with history"])
def test_the_main_window_can_be_1280_px_wide_with_every_timeline_control_reachable(qtbot, window, narrow, history):
    narrow(NARROW, history)
    assert window.minimumSizeHint().width() <= NARROW
    assert window.minimumSize().width() <= NARROW
    controls = window.timeline_panel.controls
    row = controls.actions_row
    assert row.collapsed() and row.more.isVisible(), "at 1280 px some controls wait in the More menu"
    widgets = {name: attrgetter(name)(controls) for name in CONTROLS}
    found = {
        w
        for w in controls.findChildren(QWidget) + row.overflow.findChildren(QWidget)
        if isinstance(w, INPUTS) and not isinstance(w.parentWidget(), INPUTS)
    }  # a spin box's own line edit
    assert found - {row.more} == set(widgets.values()), "a timeline control this test does not know of"

    in_row = [name for name, w in widgets.items() if not in_menu(row, w)]
    cut = [name for name in in_row if not whole_inside(widgets[name], window)]
    assert not cut, f"cut off or squeezed in the window: {cut}"
    assert whole_inside(row.more, window)
    row.menu.popup(row.more.mapToGlobal(row.more.rect().bottomLeft()))
    qtbot.waitUntil(row.menu.isVisible, timeout=5000)
    hidden = [name for name, w in widgets.items() if in_menu(row, w) and not whole_inside(w, row.menu)]
    assert not hidden, f"in the More menu but not shown there whole: {hidden}"
    row.menu.close()


def test_controls_collapse_least_needed_first_and_return_in_order_when_wide(qtbot, window, narrow):
    controls = window.timeline_panel.controls
    row = controls.actions_row
    narrow(1700, False)
    assert row.collapsed() == [] and not row.more.isVisible()
    layout_order = [row.layout().itemAt(i).widget() for i in range(row.layout().count())]
    narrow(NARROW, True)
    menu = row.collapsed()
    assert controls.zoom_in.parentWidget() in menu and controls.crf.parentWidget() in menu  # first to go
    for kept in (controls.project_button, controls.play, controls.extend, controls.export, controls.delete):
        assert not in_menu(row, kept) and kept.isVisible()
    narrow(1700, False)
    assert row.collapsed() == [] and not row.more.isVisible()
    assert [row.layout().itemAt(i).widget() for i in range(row.layout().count())] == layout_order
    assert controls.zoom_in.isVisible()


def test_a_command_in_the_more_menu_works_there(qtbot, window, narrow):
    narrow(NARROW, True)
    panel = window.timeline_panel
    row = panel.controls.actions_row
    assert in_menu(row, panel.controls.zoom_in)
    row.menu.popup(row.more.mapToGlobal(row.more.rect().bottomLeft()))
    qtbot.waitUntil(row.menu.isVisible, timeout=5000)
    before = panel.view.pixels_per_frame
    qtbot.mouseClick(panel.controls.zoom_in, Qt.LeftButton)
    assert panel.view.pixels_per_frame == pytest.approx(before * 1.25)
    assert row.menu.isVisible(), "zoom steps leave the menu open for the next click"
    panel.controls.regenerate.setEnabled(True)
    if in_menu(row, panel.controls.regenerate):
        qtbot.mouseClick(panel.controls.regenerate, Qt.LeftButton)  # a command closes the menu
        qtbot.waitUntil(lambda: not row.menu.isVisible(), timeout=5000)
    row.menu.close()

"""The app's style gives a tool button's popup-menu arrow its own room, beside the text instead of over it."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMenu, QStyle, QStyleFactory, QToolButton

from desktop.style import AppStyle


def menu_button(qtbot, style) -> QToolButton:
    button = QToolButton(text="Timeline", popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
    menu = QMenu(button)
    menu.addAction("Open…")
    button.setMenu(menu)
    button.setStyle(style)
    qtbot.addWidget(button)
    button.resize(button.sizeHint())
    return button


def ink(button: QToolButton) -> np.ndarray:
    """True where the button's inside (its frame left out) is drawn darker than its background."""
    image = button.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    width, height = image.width(), image.height()
    grey = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * height)
    grey = grey.reshape(height, image.bytesPerLine())[:, :width].astype(int)
    inside = grey[3:-3, 3:-3]
    return inside < np.median(inside) - 60


def column_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) columns of each run of columns holding ink."""
    columns = np.flatnonzero(mask.any(axis=0))
    runs, start = [], columns[0]
    for previous, column in zip(columns, columns[1:]):
        if column != previous + 1:
            runs.append((start, previous))
            start = column
    return runs + [(start, columns[-1])]


def test_a_menu_tool_button_is_widened_for_its_arrow(qtbot):
    fusion = QStyleFactory.create("Fusion")
    plain, styled = menu_button(qtbot, fusion), menu_button(qtbot, AppStyle("Fusion"))
    indicator = fusion.pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator)
    assert styled.sizeHint().width() == plain.sizeHint().width() + indicator
    assert styled.sizeHint().height() == plain.sizeHint().height()


def test_the_arrow_is_drawn_right_of_the_text_with_a_gap_and_vertically_centred(qtbot):
    button = menu_button(qtbot, AppStyle("Fusion"))
    button.show()
    qtbot.waitExposed(button)
    mask = ink(button)
    runs = column_runs(mask)
    text_end = max(last for first, last in runs[:-1])
    arrow_first, arrow_last = runs[-1]
    assert arrow_last - arrow_first <= 9, f"the last ink is a small arrow, not text: {runs}"
    assert arrow_first - text_end >= 2, f"text and arrow touch: {runs}"
    rows = np.flatnonzero(mask[:, arrow_first : arrow_last + 1].any(axis=1))
    assert abs((rows[0] + rows[-1]) / 2 - (mask.shape[0] - 1) / 2) <= 2, "the arrow sits in the corner"


def test_buttons_without_a_popup_arrow_are_left_alone(qtbot):
    fusion, styled = QStyleFactory.create("Fusion"), AppStyle("Fusion")
    for mode in (QToolButton.ToolButtonPopupMode.MenuButtonPopup, None):
        plain_button, styled_button = QToolButton(text="Play"), QToolButton(text="Play")
        for button, style in ((plain_button, fusion), (styled_button, styled)):
            if mode is not None:
                button.setPopupMode(mode)
                button.setMenu(QMenu(button))
            button.setStyle(style)
            qtbot.addWidget(button)
        assert styled_button.sizeHint() == plain_button.sizeHint()

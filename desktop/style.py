"""The app's style: the platform's own (or Fusion), with one fix for tool buttons that open a menu.

Qt draws the arrow of a tool button with an instant (or delayed) popup menu in
the button's bottom-right corner, on top of its text, and sizes the button for
the text alone: "Timeline" with a menu reads "Timelin▾". AppStyle gives those
buttons room for the arrow and draws it beside the text, centred. Everything
else is the base style's.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtWidgets import (
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleOption,
    QStyleOptionToolButton,
)

Feature = QStyleOptionToolButton.ToolButtonFeature


def _arrow_in_corner(option: QStyleOption) -> bool:
    """A tool button showing text, whose menu arrow the base style would draw over that text."""
    if not isinstance(option, QStyleOptionToolButton) or not option.text:
        return False
    shows_text = option.toolButtonStyle != Qt.ToolButtonStyle.ToolButtonIconOnly or option.icon.isNull()
    return shows_text and bool(option.features & Feature.HasMenu) and not option.features & Feature.MenuButtonPopup


class AppStyle(QProxyStyle):
    def __init__(self, base: str):
        super().__init__(QStyleFactory.create(base))
        self.base_name = self.baseStyle().name()

    def _indicator(self, option: QStyleOption, widget) -> int:
        return self.pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, option, widget)

    def sizeFromContents(self, contents: QStyle.ContentsType, option: QStyleOption, size: QSize, widget=None) -> QSize:
        result = super().sizeFromContents(contents, option, size, widget)
        if contents == QStyle.ContentsType.CT_ToolButton and _arrow_in_corner(option):
            result.setWidth(result.width() + self._indicator(option, widget))
        return result

    def drawComplexControl(self, control: QStyle.ComplexControl, option: QStyleOption, painter, widget=None) -> None:
        if control != QStyle.ComplexControl.CC_ToolButton or not _arrow_in_corner(option):
            super().drawComplexControl(control, option, painter, widget)
            return
        indicator = self._indicator(option, widget)
        # The button's panel, without its text or corner arrow...
        panel = QStyleOptionToolButton(option)
        panel.features = option.features & ~Feature.HasMenu
        panel.text = ""
        super().drawComplexControl(control, panel, painter, widget)
        # ...its text in the part left of the arrow...
        frame = self.pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, option, widget)
        label = QStyleOptionToolButton(option)
        label.rect = option.rect.adjusted(frame, frame, -frame - indicator // 2, -frame)
        self.drawControl(QStyle.ControlElement.CE_ToolButtonLabel, label, painter, widget)
        # ...and the arrow, vertically centred, at the right.
        arrow = QStyleOptionToolButton(option)
        side = max(6, indicator // 2 + 1)
        rect = option.rect
        arrow.rect = QRect(
            rect.right() - frame - indicator + (indicator - side) // 2, rect.center().y() - side // 2 + 1, side, side
        )
        self.drawPrimitive(QStyle.PrimitiveElement.PE_IndicatorArrowDown, arrow, painter, widget)


def install_app_style(app: QApplication, base: str | None = None) -> AppStyle:
    """Make AppStyle over the named style (e.g. "Fusion"), or over the current one, the app's style."""
    style = AppStyle(base or style_name(app))
    app.setStyle(style)
    return style


def style_name(app: QApplication) -> str:
    """The base style's name ("fusion", "macos", ...), lower case."""
    current = app.style()
    return (current.base_name if isinstance(current, AppStyle) else current.name()).lower()

"""A row of controls that narrows by moving what does not fit into a "More" menu.

Items (widgets, or small groups of them) are added left to right, each with a
priority; no priority keeps an item in the row at any width. When the row is
narrower than all of its items want, items leave it lowest priority first and
show, in row order, in the popup of a "More" button at the row's end. They stay
the same widgets (signals, enabled state, tests' references); only their parent
changes. The row's minimum width is that of the items always shown plus the
button, so a window holding it can be narrow.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)


class OverflowRow(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._items: list[tuple[QWidget, int | None]] = []
        self._stretch_at: int | None = None
        self._collapsed: frozenset[int] = frozenset()
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self.more = QToolButton(self, text="More", popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        self.more.setToolTip("The controls that do not fit at this width")
        self.menu = QMenu(self.more)
        self.more.setMenu(self.menu)
        self.overflow = QWidget()  # the menu's one entry: the collapsed items, one per line
        self._overflow_layout = QVBoxLayout(self.overflow)
        self._overflow_layout.setContentsMargins(6, 6, 6, 6)
        entry = QWidgetAction(self.menu)
        entry.setDefaultWidget(self.overflow)
        self.menu.addAction(entry)
        self._relayout(frozenset())

    # Building ---------------------------------------------------------------------------------

    def add(self, widget: QWidget, priority: int | None = None) -> QWidget:
        """Append an item; the lower its priority, the sooner it moves to the menu (None: never)."""
        self._items.append((widget, priority))
        # A command run from the menu closes it; tool buttons (zoom steps) leave it open to click again.
        for button in ([widget] if isinstance(widget, QPushButton) else []) + widget.findChildren(QPushButton):
            button.clicked.connect(self.menu.close)
        self._relayout(self._collapsed)
        self.updateGeometry()
        return widget

    def add_group(self, *widgets: QWidget, priority: int | None = None) -> QWidget:
        """Several widgets that stay together (a label and its buttons, a value and its unit)."""
        group = QWidget()
        layout = QHBoxLayout(group)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in widgets:
            layout.addWidget(widget)
        return self.add(group, priority)

    def add_stretch(self) -> None:
        """Room between the items before and after, at widths where all fit."""
        self._stretch_at = len(self._items)
        self._relayout(self._collapsed)

    # Queries ----------------------------------------------------------------------------------

    def collapsed(self) -> list[QWidget]:
        """The items in the menu now, in row order."""
        return [widget for index, (widget, _) in enumerate(self._items) if index in self._collapsed]

    def width_for(self, widgets: list[QWidget], with_more: bool) -> int:
        """The width the row needs to show `widgets` (and the More button) at their size hints."""
        widths = [w.sizeHint().width() for w in widgets] + ([self.more.sizeHint().width()] if with_more else [])
        return sum(widths) + self._row.spacing() * max(0, len(widths) - 1)

    def sizeHint(self) -> QSize:
        return QSize(self.width_for([w for w, _ in self._items], False), self._height())

    def minimumSizeHint(self) -> QSize:
        kept = [w for w, priority in self._items if priority is None]
        return QSize(self.width_for(kept, any(p is not None for _, p in self._items)), self._height())

    def _height(self) -> int:
        return max([w.sizeHint().height() for w, _ in self._items] + [self.more.sizeHint().height()])

    # Fitting ----------------------------------------------------------------------------------

    def resizeEvent(self, event) -> None:
        self._fit(event.size().width())
        super().resizeEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:  # an item's size hint changed
            self._fit(self.width())
        return super().event(event)

    def _fit(self, width: int) -> None:
        """Collapse items, lowest priority (then rightmost) first, until the rest fit in `width`."""
        order = sorted((p, -i) for i, (_, p) in enumerate(self._items) if p is not None)
        collapsed: set[int] = set()
        for _, negative_index in order:
            kept = [w for i, (w, _) in enumerate(self._items) if i not in collapsed]
            if self.width_for(kept, bool(collapsed)) <= width:
                break
            collapsed.add(-negative_index)
        if frozenset(collapsed) != self._collapsed:
            self._relayout(frozenset(collapsed))

    def _relayout(self, collapsed: frozenset[int]) -> None:
        self._collapsed = collapsed
        for layout in (self._row, self._overflow_layout):
            while layout.takeAt(0) is not None:
                pass
        for index, (widget, _) in enumerate(self._items):
            if index == self._stretch_at:
                self._row.addStretch(1)
            (self._overflow_layout if index in collapsed else self._row).addWidget(widget)
        if self._stretch_at == len(self._items):
            self._row.addStretch(1)
        self._row.addWidget(self.more)
        self.more.setVisible(bool(collapsed))
        if not collapsed:
            self.menu.close()

"""The main window's first size shows the whole form; smaller windows scroll it; the app installs its style."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication, QStyleFactory

from desktop.app import make_application
from desktop.settings import DEFAULT_WINDOW_SIZE, default_window_size
from desktop.style import AppStyle, install_app_style, style_name
from desktop.widgets.appearance import apply_appearance


def visible_in_form(window, widget) -> bool:
    """The widget lies wholly inside the form's scroll viewport (as scrolled now)."""
    viewport = window.form.scroll.viewport()
    top_left = widget.mapTo(viewport, QPoint(0, 0))
    return viewport.rect().contains(QRect(top_left, widget.size()))


def important_controls(window) -> list:
    g, a = window.gen_settings, window.advanced
    return [
        window.prompt_panel.prompt_edit,
        window.prompt_panel.negative_edit,
        g.model_combo,
        g.preset_combo,
        g.width_spin,
        g.seconds_spin,
        g.fps_combo,
        g.seed_spin,
        g.randomise_button,
        a.config_combo,
        a.guidance_spin,
        a.stg_spin,
        a.residency_combo,
        a.quantize_combo,
    ]


def test_default_size_is_the_design_size_on_a_big_screen_and_shrinks_on_a_small_one():
    assert default_window_size(1920, 1200) == DEFAULT_WINDOW_SIZE
    assert default_window_size(1440, 900) == (int(1440 * 0.92), int(900 * 0.92))


def test_at_the_default_size_every_form_control_is_on_screen_without_scrolling(qtbot, window):
    window.resize(*DEFAULT_WINDOW_SIZE)  # what a 1920x1200 screen gets (the test screen is smaller)
    window.history_dock.show()
    qtbot.waitUntil(lambda: window.height() == DEFAULT_WINDOW_SIZE[1], timeout=5000)
    qtbot.wait(50)
    assert window.form.scroll.verticalScrollBar().maximum() == 0, "the form column scrolls at the default size"
    hidden = [w.objectName() or type(w).__name__ for w in important_controls(window) if not visible_in_form(window, w)]
    assert not hidden, hidden
    assert window.generate_button.isVisible() and window.cancel_button.isVisible()
    assert window.preview.screen.height() >= 300, "the preview keeps a usable size"


def test_a_short_window_scrolls_the_form_and_keeps_generate_in_view(qtbot, window):
    window.resize(DEFAULT_WINDOW_SIZE[0], 700)
    qtbot.waitUntil(lambda: window.height() == 700, timeout=5000)
    qtbot.wait(50)
    bar = window.form.scroll.verticalScrollBar()
    assert bar.maximum() > 0
    assert not visible_in_form(window, window.advanced.quantize_combo)
    window.form.scroll.ensureWidgetVisible(window.advanced.quantize_combo)
    assert visible_in_form(window, window.advanced.quantize_combo)
    # Generate and Cancel sit below the scrolled column, always in view.
    button = QRect(window.generate_button.mapTo(window, QPoint(0, 0)), window.generate_button.size())
    assert window.centralWidget().geometry().contains(button)


def test_make_application_installs_the_app_style_and_forcing_dark_keeps_it(qtbot):
    app = QApplication.instance()
    before = style_name(app)
    try:
        assert make_application([]) is app
        assert isinstance(app.style(), AppStyle) and style_name(app) == before
        install_app_style(app, "Windows")
        apply_appearance(app, "dark")  # where the platform cannot switch, Fusion with our palette...
        if style_name(app) == "fusion":
            assert isinstance(app.style(), AppStyle)  # ...still with the tool-button fix
    finally:
        apply_appearance(app, "system")
        app.setStyle(QStyleFactory.create(before))

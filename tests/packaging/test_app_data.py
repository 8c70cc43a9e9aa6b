"""App data lives in platformdirs' locations (config, cache, data, logs); the desktop app logs to a
rotating file there, and Help → Open Log Folder shows it."""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

import platformdirs
import pytest

import desktop.main_window as main_window
from desktop.app import setup_logging
from desktop.settings import AppSettings, settings_path
from ltx_mlx_core import paths


@pytest.fixture
def platform_home(tmp_path, monkeypatch):
    """No LTX_MLX_HOME: the OS's locations, redirected (XDG on Linux) into tmp_path."""
    monkeypatch.delenv("LTX_MLX_HOME", raising=False)
    for variable in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_config_cache_data_and_logs_are_platformdirs_locations(platform_home):
    expected = {
        paths.config_dir: platformdirs.user_config_dir("ltx-mlx", appauthor=False),
        paths.cache_dir: platformdirs.user_cache_dir("ltx-mlx", appauthor=False),
        paths.data_dir: platformdirs.user_data_dir("ltx-mlx", appauthor=False),
        paths.log_dir: platformdirs.user_log_dir("ltx-mlx", appauthor=False),
    }
    for function, location in expected.items():
        folder = function()
        assert folder == Path(location) and folder.is_dir(), function.__name__
        assert str(folder).startswith(str(platform_home)), "the test's redirection was not honoured"
    if sys.platform.startswith("linux"):
        assert paths.config_dir() == platform_home / "xdg_config_home" / "ltx-mlx"
        assert paths.cache_dir() == platform_home / "xdg_cache_home" / "ltx-mlx"
        assert paths.log_dir() == platform_home / "xdg_state_home" / "ltx-mlx" / "log"

    assert settings_path().parent == paths.config_dir()


def test_the_desktop_log_is_a_rotating_file_in_the_log_folder(platform_home):
    root = logging.getLogger()
    before_handlers, before_level = list(root.handlers), root.level
    log_file = setup_logging()
    handler = next(h for h in root.handlers if h not in before_handlers)
    try:
        assert log_file == paths.log_dir() / "desktop.log"
        assert isinstance(handler, RotatingFileHandler)
        assert Path(handler.baseFilename) == log_file
        assert 0 < handler.maxBytes <= 50_000_000 and handler.backupCount >= 1
        logging.getLogger("ltx_mlx_core.test").info("a line for the log file")
        handler.flush()
        assert "a line for the log file" in log_file.read_text()
        handler.doRollover()
        assert (log_file.parent / "desktop.log.1").is_file() and log_file.is_file()
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(before_level)


def test_help_menu_opens_the_log_folder(qtbot, isolated_app_home, monkeypatch):
    opened = []
    monkeypatch.setattr(main_window.QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    window = main_window.MainWindow(settings=AppSettings(), show_model_manager_if_empty=False)
    qtbot.addWidget(window)
    try:
        help_menu = next(
            action.menu() for action in window.menuBar().actions() if action.text().replace("&", "") == "Help"
        )
        (open_log,) = [a for a in help_menu.actions() if a.text().replace("&", "") == "Open Log Folder"]
        open_log.trigger()
        assert [Path(url.toLocalFile()) for url in opened] == [paths.log_dir()]
    finally:
        window.service.shutdown()

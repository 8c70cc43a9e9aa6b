"""Desktop test fixtures: the real tiny models (LTX-Video's and LTX-2's), each made once per session and
linked into each test's home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from desktop.main_window import MainWindow
from desktop.settings import AppSettings
from ltx_mlx_core.weights.registry import LTX2, TINY_LTX2_ID, tiny_model_dir
from ltx_mlx_core.weights.tiny import make_tiny_model
from ltx_mlx_core.weights.tiny_ltx2 import make_tiny_ltx2_model


@pytest.fixture(scope="session")
def tiny_model_source(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny_model") / "tiny")


@pytest.fixture
def tiny_model(isolated_app_home, tiny_model_source) -> Path:
    """The tiny model installed under this test's LTX_MLX_HOME (a symlink: no copy per test)."""
    target = tiny_model_dir()
    if not target.exists():
        os.symlink(tiny_model_source, target, target_is_directory=True)
    return target


@pytest.fixture(scope="session")
def tiny_ltx2_source(tmp_path_factory) -> Path:
    return make_tiny_ltx2_model(tmp_path_factory.mktemp("tiny_ltx2_model") / TINY_LTX2_ID)


@pytest.fixture
def tiny_ltx2_model(isolated_app_home, tiny_ltx2_source) -> Path:
    """The tiny LTX-2 model (video with sound) installed under this test's LTX_MLX_HOME (a symlink)."""
    target = tiny_model_dir(LTX2)
    if not target.exists():
        os.symlink(tiny_ltx2_source, target, target_is_directory=True)
    return target


@pytest.fixture
def app_settings(isolated_app_home, tmp_path) -> AppSettings:
    """Small, fast defaults: the tiny model at 128x96, 9 frames, outputs in the test's folder."""
    settings = AppSettings()
    settings.update(
        {
            "model": "tiny",
            "width": 128,
            "height": 96,
            "fps": 8.0,
            "seconds": 1.0,
            "seed": 7,
            "seed_locked": True,
            "output_dir": str(tmp_path / "outputs"),
        }
    )
    settings.save()
    return settings


@pytest.fixture
def window(qtbot, tiny_model, app_settings):
    win = MainWindow(settings=app_settings, show_model_manager_if_empty=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.service.shutdown()

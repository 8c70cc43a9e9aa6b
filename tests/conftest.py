"""Shared test setup: headless Qt, deterministic MLX on CPU, temp caches."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.fixture(autouse=True)
def isolated_app_home(tmp_path_factory, monkeypatch):
    """Every test gets its own LTX_MLX_HOME and HF cache: nothing touches the user's."""
    home = tmp_path_factory.mktemp("ltx_home")
    monkeypatch.setenv("LTX_MLX_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


def pytest_collection_modifyitems(config, items):
    """Parity and end-to-end tests form the slow tier: `./dev test -m "not slow"` skips them."""
    slow = pytest.mark.slow
    for item in items:
        parts = item.path.parts
        if "parity" in parts or "e2e" in parts or "perf" in parts:
            item.add_marker(slow)

"""Fixtures the command-line tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli import run_cli


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """One LTX_MLX_HOME with the tiny model made by the CLI, shared by a module's tests."""
    home = tmp_path_factory.mktemp("cli_home")
    made = run_cli("models", "make-tiny", env_home=home)
    assert made.returncode == 0, made.stderr
    return home

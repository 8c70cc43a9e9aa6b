"""The tiny model the two-process tests generate with, made once per module by the CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.distributed.launching import REPO, cli, environment


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("dist_home")
    made = subprocess.run(
        cli("models", "make-tiny"), cwd=REPO, env=environment(home), capture_output=True, text=True, timeout=600
    )
    assert made.returncode == 0, made.stderr
    return home

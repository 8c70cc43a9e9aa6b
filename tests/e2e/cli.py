"""Run `ltx-mlx` as a script would: a subprocess with its own LTX_MLX_HOME and no hub access."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env_home: Path, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LTX_MLX_MEMORY_LIMIT_BYTES"}  # a user's cap stays out
    env.update(LTX_MLX_HOME=str(env_home), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO), **extra_env)
    return subprocess.run(
        [sys.executable, "-m", "ltx_mlx_core.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

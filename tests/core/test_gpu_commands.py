"""MLX's ops per command buffer: our default is in force from the first import, a user's value is kept."""

from __future__ import annotations

import os
import subprocess
import sys

from ltx_mlx_core.gpu_commands import DEFAULT_OPS_PER_BUFFER, OPS_PER_BUFFER_ENV

PROBE = (
    f"import sys, os, ltx_mlx_core.pipeline\nprint(os.environ.get('{OPS_PER_BUFFER_ENV}'), 'mlx.core' in sys.modules)\n"
)


def _probe(extra_env: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != OPS_PER_BUFFER_ENV} | extra_env
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_importing_the_engine_sets_the_default_before_mlx_is_used():
    value, mlx_loaded = _probe({})
    assert value == str(DEFAULT_OPS_PER_BUFFER)
    assert mlx_loaded == "True"  # the pipeline imports MLX: the default was set on the way in


def test_a_value_the_user_set_is_kept():
    assert _probe({OPS_PER_BUFFER_ENV: "7"})[0] == "7"

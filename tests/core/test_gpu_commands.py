"""MLX's GPU settings: our defaults are in force from the first import, a user's values are kept."""

from __future__ import annotations

import os
import subprocess
import sys

from ltx_mlx_core.gpu_commands import CONV_CACHE_ENV, GPU_DEFAULTS, OPS_PER_BUFFER_ENV

NAMES = list(GPU_DEFAULTS)
PROBE = f"import sys, os, ltx_mlx_core.pipeline\nprint(*[os.environ.get(n) for n in {NAMES!r}], 'mlx.core' in sys.modules)\n"


def _probe(extra_env: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in GPU_DEFAULTS} | extra_env
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_importing_the_engine_sets_the_defaults_before_mlx_is_used():
    *values, mlx_loaded = _probe({})
    assert values == [str(GPU_DEFAULTS[name]) for name in NAMES]
    assert {OPS_PER_BUFFER_ENV, CONV_CACHE_ENV} <= set(NAMES)
    assert mlx_loaded == "True"  # the pipeline imports MLX: the defaults were set on the way in


def test_values_the_user_set_are_kept():
    *values, _ = _probe({OPS_PER_BUFFER_ENV: "7", CONV_CACHE_ENV: "64"})
    assert dict(zip(NAMES, values)) == {OPS_PER_BUFFER_ENV: "7", CONV_CACHE_ENV: "64"}

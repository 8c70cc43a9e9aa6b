"""Shared test setup: headless Qt, deterministic MLX on CPU, temp caches."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

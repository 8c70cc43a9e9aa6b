"""The engine and the app must run without torch (it is a test-only reference)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A meta-path finder that makes any torch import fail loudly in the child.
BLOCK_TORCH = """
import importlib.abc, sys
class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch imported at run time: " + name)
        return None
sys.meta_path.insert(0, BlockTorch())
"""


def _all_modules(package: str) -> list[str]:
    pkg_path = ROOT / package
    names = [package]
    for info in pkgutil.walk_packages([str(pkg_path)], prefix=f"{package}."):
        names.append(info.name)
    return names


def test_engine_and_app_import_without_torch():
    modules = _all_modules("ltx_mlx_core") + _all_modules("desktop")
    code = (
        BLOCK_TORCH
        + "\nimport importlib\n"
        + "".join(f"importlib.import_module({name!r})\n" for name in modules)
        + "print('imported', len(sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "imported" in proc.stdout


def test_blocker_really_blocks_torch():
    proc = subprocess.run([sys.executable, "-c", BLOCK_TORCH + "\nimport torch\n"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "torch imported at run time" in proc.stderr

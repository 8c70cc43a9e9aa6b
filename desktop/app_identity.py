"""The app's name and icon, for the bootstrap (desktop.app) and the windows alike."""

from __future__ import annotations

from pathlib import Path

APP_NAME = "LTX-MLX"
ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "icon.png"

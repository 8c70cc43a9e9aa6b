"""The app's persisted settings: one small JSON file under the config folder.

A JSON file (rather than QSettings) keeps the settings readable, lets tests
point LTX_MLX_HOME at a temporary folder, and is written atomically so a crash
never leaves a half-written file. Unknown keys are kept; missing keys fall
back to DEFAULTS, so older files keep working.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray

from ltx_mlx_core import paths
from ltx_mlx_core.video.atomic import write_json

log = logging.getLogger(__name__)

SETTINGS_FILE = "desktop-settings.json"

DEFAULTS: dict[str, Any] = {
    "model": "tiny",
    "prompt": "",
    "negative_prompt": None,  # None = the core's default negative prompt
    "width": 768,
    "height": 512,
    "seconds": 3.0,
    "fps": 24.0,
    "seed": 42,
    "seed_locked": False,
    "with_audio": True,  # LTX-2 family models make sound with the video
    "loras": [],  # LTX-2 family: [{"path", "strength", "enabled"}], the form's LoRA list
    "control_path": None,  # LTX-2 family: the IC-LoRA control clip
    "control_strength": 1.0,
    "steps_preset": "default",
    "guidance_scale": None,  # None = the pipeline config's value
    "stg_scale": None,
    "residency": "auto",
    "quantize_bits": None,
    "step_cache": "off",  # "off" | "faster" | "fastest" | a threshold such as "0.05"
    "output_dir": None,  # None = paths.default_output_dir()
    "video_crf": 18,  # libx264 quality of saved videos
    "hosts_file": None,  # an mlx.launch hostfile (File → Settings → Hosts)
    "hosts_enabled": False,  # run generations across those hosts
    "appearance": "system",  # "system" | "light" | "dark" (View → Appearance)
    "window_geometry": None,  # hex of QMainWindow.saveGeometry()
    "window_state": None,
}


def settings_path() -> Path:
    return paths.config_dir() / SETTINGS_FILE


class AppSettings:
    """Dictionary-like settings with defaults, saved explicitly with `save()`."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else settings_path()
        self._values: dict[str, Any] = {}
        self.load()

    def load(self) -> None:
        try:
            self._values = json.loads(self.path.read_text())
            if not isinstance(self._values, dict):
                raise ValueError("the file does not hold a JSON object")
        except FileNotFoundError:
            self._values = {}
        except (OSError, ValueError) as error:
            # A corrupt settings file must not stop the app from starting.
            log.warning("Ignoring unreadable settings file %s: %s", self.path, error)
            self._values = {}

    def get(self, key: str) -> Any:
        if key in self._values:
            return self._values[key]
        return DEFAULTS.get(key)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value

    def update(self, values: dict[str, Any]) -> None:
        self._values.update(values)

    def output_dir(self) -> Path:
        chosen = self.get("output_dir")
        return Path(chosen) if chosen else paths.default_output_dir()

    def save(self) -> None:
        write_json(self.path, self._values, default=str)
        log.debug("Saved settings to %s", self.path)


FORM_KEYS = ("model", "width", "height", "seconds", "fps", "seed", "seed_locked", "with_audio")
ADVANCED_KEYS = ("steps_preset", "guidance_scale", "stg_scale", "residency", "quantize_bits", "step_cache")


# The main window's first size (before a saved geometry exists): room for the whole form column
# beside the preview, with the timeline below; at most this share of the screen.
DEFAULT_WINDOW_SIZE = (1680, 1050)
DEFAULT_SCREEN_SHARE = 0.92


def default_window_size(available_width: int, available_height: int) -> tuple[int, int]:
    """DEFAULT_WINDOW_SIZE, shrunk to fit a smaller screen's available area."""
    width, height = DEFAULT_WINDOW_SIZE
    return (
        min(width, int(available_width * DEFAULT_SCREEN_SHARE)),
        min(height, int(available_height * DEFAULT_SCREEN_SHARE)),
    )


def save_window_settings(window, settings: AppSettings) -> None:
    """The main window's form, prompts, geometry and dock layout -> the settings file."""
    settings.update(window.gen_settings.values())
    settings.update(window.advanced.values())
    settings.set("loras", window.form.loras.values())
    settings.update(window.form.control.values())
    settings.set("prompt", window.prompt_panel.prompt_edit.toPlainText())
    settings.set("negative_prompt", window.prompt_panel.negative_prompt())
    settings.set("window_geometry", bytes(window.saveGeometry().toHex()).decode())
    settings.set("window_state", bytes(window.saveState().toHex()).decode())
    settings.save()


def restore_window_settings(window, settings: AppSettings) -> None:
    window.gen_settings.set_values({key: settings.get(key) for key in FORM_KEYS})
    window.advanced.set_values({key: settings.get(key) for key in ADVANCED_KEYS})
    window.form.loras.set_values(settings.get("loras"))
    window.form.control.set_values({key: settings.get(key) for key in ("control_path", "control_strength")})
    window.prompt_panel.set_prompt(settings.get("prompt") or "")
    window.prompt_panel.set_negative_prompt(settings.get("negative_prompt"))
    window.conditioning.set_max_frame(window.gen_settings.num_frames() - 1)
    if settings.get("window_geometry"):
        window.restoreGeometry(QByteArray.fromHex(settings.get("window_geometry").encode()))
    if settings.get("window_state"):
        window.restoreState(QByteArray.fromHex(settings.get("window_state").encode()))

"""Screenshot of the generation form's LoRA list and IC-LoRA control clip (an LTX-2 model chosen).

Run under a virtual X server so the real platform plugin draws the widgets:
    xvfb-run -a -s "-screen 0 1920x1200x24" .venv/bin/python tools/make_lora_screenshots.py [light|dark]
The window keeps its default size; the form shows its "LoRAs · control clip" tab with the LoRA list (a style LoRA at
0.8, a detail LoRA switched off at -0.5, a depth IC-LoRA) and a depth control clip at strength 0.9.
The LoRA files are placeholders (the list does not read them; the engine does, at Generate). Writes
docs/screenshots/generation-form-loras[-dark].png. It uses a throw-away LTX_MLX_HOME.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["LTX_MLX_HOME"] = tempfile.mkdtemp(prefix="ltx-lora-shots-")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402

from desktop.app import make_application  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402
from desktop.settings import AppSettings  # noqa: E402
from ltx_mlx_core.video.io import write_video  # noqa: E402
from ltx_mlx_core.weights.registry import LTX2, TINY_LTX2_ID, tiny_model_dir  # noqa: E402
from ltx_mlx_core.weights.tiny_ltx2 import make_tiny_ltx2_model  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def depth_clip(path: Path, frames: int = 49, size: tuple[int, int] = (256, 192)) -> Path:
    """A grey depth-map-like clip: a near ball rolling in front of a far wall."""
    width, height = size
    rows, cols = np.mgrid[0:height, 0:width]
    video = np.empty((frames, height, width, 3), np.uint8)
    for f in range(frames):
        wall = (40 + 60 * rows / height).astype(np.uint8)
        x = 40 + (width - 80) * f / frames
        near = np.clip(230 - np.hypot(rows - height * 0.6, cols - x) * 3, 0, 230).astype(np.uint8)
        video[f] = np.maximum(wall, near)[..., None]
    return write_video(path, video, 24.0, crf=20, preset="ultrafast")


def main() -> int:
    app = make_application(sys.argv[:1])
    appearance = sys.argv[1] if len(sys.argv) > 1 else "light"
    suffix = "-dark" if appearance == "dark" else ""
    make_tiny_ltx2_model(tiny_model_dir(LTX2))
    home = Path(os.environ["LTX_MLX_HOME"])
    lora_folder = home / "loras"
    lora_folder.mkdir()
    loras = []
    for name in ("watercolour-style", "fine-detail", "ltx-2.3-ic-lora-depth"):
        path = lora_folder / f"{name}.safetensors"
        path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
        loras.append(str(path))
    settings = AppSettings()
    settings.update(
        {
            "model": TINY_LTX2_ID,
            "width": 256,
            "height": 192,
            "fps": 24.0,
            "seconds": 2.0,
            "seed": 42,
            "seed_locked": True,
            "output_dir": str(home / "videos"),
            "appearance": appearance,
            "prompt": "A glass marble rolls across a sunlit wooden table, soft watercolour look",
            "loras": [
                {"path": loras[0], "strength": 0.8, "enabled": True},
                {"path": loras[1], "strength": -0.5, "enabled": False},
                {"path": loras[2], "strength": 1.0, "enabled": True},
            ],
            "control_path": str(depth_clip(home / "marble-depth.mp4")),
            "control_strength": 0.9,
        }
    )
    settings.save()
    window = MainWindow(settings=settings, show_model_manager_if_empty=False)
    window.show()
    OUT.mkdir(parents=True, exist_ok=True)

    form = window.form

    def show_tab() -> None:
        form.tabs.setCurrentIndex(form.extras_tab)
        QTimer.singleShot(500, grab)  # after the column's layout has settled on the taller tab

    def grab() -> None:
        form.scroll.ensureWidgetVisible(form.control, 0, 8)
        form.grab().save(str(OUT / f"generation-form-loras{suffix}.png"))
        print("wrote", OUT / f"generation-form-loras{suffix}.png")
        app.quit()

    QTimer.singleShot(1500, show_tab)
    app.exec()
    window.service.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

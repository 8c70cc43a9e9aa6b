"""Screenshots for the README: the main window mid-generation (preview visible) and the model manager.

Run under a virtual X server so the real platform plugin draws the widgets:
    xvfb-run -a -s "-screen 0 1920x1200x24" .venv/bin/python tools/make_screenshots.py
The window keeps its default size (settings.DEFAULT_WINDOW_SIZE, which the
1920x1200 screen leaves whole), so the shot shows what a first launch shows.
It uses a throw-away LTX_MLX_HOME with the tiny model and writes
docs/screenshots/main-window.png and docs/screenshots/model-manager.png
(with `dark` as the argument: main-window-dark.png and model-manager-dark.png, View → Appearance → Dark).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["LTX_MLX_HOME"] = tempfile.mkdtemp(prefix="ltx-shots-")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from PySide6.QtCore import QTimer  # noqa: E402

from desktop.app import make_application  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def slowed(delay_s: float):
    from ltx_mlx_core.pipeline import generate

    def run(request):
        for event in generate(request):
            time.sleep(delay_s)
            yield event

    return run


def first_frame_image(path: Path) -> Path:
    """A synthetic conditioning image (a sunrise over snow), so the strip shows a dropped item."""
    import numpy as np
    from PIL import Image

    height, width = 160, 256
    y, x = np.mgrid[0:height, 0:width]
    sky = np.stack([255 - y * 0.6, 170 - y * 0.5, 90 + y * 0.6], axis=-1)
    snow = np.full((height, width, 3), 235.0)
    pixels = np.where((y > 100)[..., None], snow, sky)
    sun = (x - 180) ** 2 + (y - 70) ** 2 < 22**2
    pixels[sun] = (255, 220, 120)
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(path)
    return path


def main() -> int:
    app = make_application(sys.argv[:1])
    appearance = sys.argv[1] if len(sys.argv) > 1 else "system"
    suffix = "" if appearance == "system" else f"-{appearance}"
    from desktop.main_window import MainWindow
    from desktop.settings import AppSettings
    from ltx_mlx_core.weights.registry import LTX2, tiny_model_dir
    from ltx_mlx_core.weights.tiny import make_tiny_model
    from ltx_mlx_core.weights.tiny_ltx2 import make_tiny_ltx2_model

    make_tiny_model()
    make_tiny_ltx2_model(tiny_model_dir(LTX2))  # the manager shows both test models installed
    settings = AppSettings()
    settings.update(
        {
            "model": "tiny",
            "width": 256,
            "height": 160,
            "fps": 24.0,
            "seconds": 2.0,
            "seed": 42,
            "seed_locked": True,
            "output_dir": str(Path(os.environ["LTX_MLX_HOME"]) / "videos"),
            "prompt": "A red fox trots through fresh snow at dawn, low camera following it, "
            "soft golden light, breath visible in the cold air",
            "appearance": appearance,
        }
    )
    settings.save()
    window = MainWindow(settings=settings, show_model_manager_if_empty=False)
    window.conditioning.add_paths([str(first_frame_image(Path(os.environ["LTX_MLX_HOME"]) / "fox.png"))])
    window.history_dock.show()
    window.show()
    OUT.mkdir(parents=True, exist_ok=True)
    shots = {"previews": 0}

    def on_preview(job, frames) -> None:
        shots["previews"] += 1
        if shots["previews"] == 4:  # mid second pass: a preview and a step count are on screen
            QTimer.singleShot(150, grab_main)

    def grab_main() -> None:
        window.grab().save(str(OUT / f"main-window{suffix}.png"))
        print("wrote", OUT / f"main-window{suffix}.png")
        window.cancel()

    def grab_manager() -> None:
        manager = window.open_model_manager()
        manager.select_model("tiny")
        QTimer.singleShot(
            300,
            lambda: (
                manager.grab().save(str(OUT / f"model-manager{suffix}.png")),
                print("wrote", OUT / f"model-manager{suffix}.png"),
                app.quit(),
            ),
        )

    def first_clip_done(path: str) -> None:
        # A finished clip in the history and on the timeline; then the second run is captured mid-way.
        window.generation_finished.disconnect(first_clip_done)
        window.window_actions.add_to_timeline.trigger()
        window.service.set_generate_fn(slowed(0.4))
        window.service.preview.connect(on_preview)
        QTimer.singleShot(300, window.generate_action.trigger)

    window.generation_finished.connect(first_clip_done)
    window.generation_cancelled.connect(lambda: QTimer.singleShot(200, grab_manager))
    window.service.ready.connect(lambda: QTimer.singleShot(200, window.generate_action.trigger))
    app.exec()
    window.service.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

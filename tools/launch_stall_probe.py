"""Launch the app the way `ltx-mlx-desktop` does and measure its event loop from the window's first show.

Run in a fresh process (test_main_window.py does), so that MLX, the core and
transformers are not yet imported, as on a real launch:
    QT_QPA_PLATFORM=offscreen LTX_MLX_HOME=<home with the tiny model> .venv/bin/python \\
        tools/launch_stall_probe.py <output folder>
A 5 ms timer ticks from the moment the main window is shown; a generation on
the tiny model (128x96, 9 frames) starts right away, and the measurement ends
once the finished clip plays in the preview pane. It prints one JSON line:
max_stall_ms, the three longest gaps (ms, seconds after the show), the tick
count, the video, and whether MLX had been imported before the launch began.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIMEOUT_S = 240.0


def main() -> int:
    mlx_before_launch = "mlx.core" in sys.modules
    from PySide6.QtCore import QEvent, QObject, QTimer

    from desktop.app import make_application, start_main_window
    from desktop.settings import AppSettings

    app = make_application(sys.argv[:1])
    settings = AppSettings()
    settings.update(
        {
            "model": "tiny",
            "width": 128,
            "height": 96,
            "fps": 8.0,
            "seconds": 1.0,
            "seed": 3,
            "seed_locked": True,
            "output_dir": sys.argv[1],
            "prompt": "measuring the launch",
        }
    )
    gaps: list[tuple[float, float]] = []  # (gap, seconds after the show)
    clock = {"shown": None, "last": None}

    def tick() -> None:
        now = time.perf_counter()
        gaps.append((now - clock["last"], now - clock["shown"]))
        clock["last"] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)

    class ShowWatcher(QObject):
        """Starts the clock at the main window's Show event (inside start_main_window)."""

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Show and clock["shown"] is None and type(watched).__name__ == "MainWindow":
                clock["shown"] = clock["last"] = time.perf_counter()
                timer.start()
            return False

    watcher = ShowWatcher()
    app.installEventFilter(watcher)
    window = start_main_window(app, settings=settings, show_model_manager_if_empty=False)
    app.removeEventFilter(watcher)
    outcome: dict[str, str] = {}
    window.generation_finished.connect(lambda path: outcome.setdefault("video", path))
    window.generation_failed.connect(lambda message: (outcome.setdefault("error", message), app.quit()))
    window.preview.clip_loaded.connect(lambda path: app.quit())
    QTimer.singleShot(int(TIMEOUT_S * 1000), lambda: (outcome.setdefault("error", "timed out"), app.quit()))
    QTimer.singleShot(0, window.generate_action.trigger)  # right away, as a user pressing ⌘↩ at once
    app.exec()
    timer.stop()
    window.close()
    worst = sorted(gaps, reverse=True)[:3]
    print(
        json.dumps(
            {
                "max_stall_ms": round(worst[0][0] * 1000, 1) if worst else None,
                "worst": [(round(g * 1000, 1), round(at, 2)) for g, at in worst],
                "ticks": len(gaps),
                "video": outcome.get("video"),
                "error": outcome.get("error"),
                "mlx_before_launch": mlx_before_launch,
            }
        )
    )
    return 0 if outcome.get("video") else 1


if __name__ == "__main__":
    sys.exit(main())

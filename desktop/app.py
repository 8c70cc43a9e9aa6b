"""`ltx-mlx-desktop`: QApplication bootstrap (logging to the log folder, icon, palette, window)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Optional

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ltx_mlx_core import paths

log = logging.getLogger(__name__)

APP_NAME = "LTX-MLX"
ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "icon.png"


def setup_logging() -> Path:
    log_file = paths.log_dir() / "desktop.log"
    handler = RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return log_file


def make_application(argv: Optional[list[str]] = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("ltx-mlx")
    app.setApplicationDisplayName(APP_NAME)
    if ICON_PATH.is_file():
        app.setWindowIcon(QIcon(str(ICON_PATH)))
    # The native style on each platform (macOS: "macos"); it follows the system's light/dark palette.
    # On Linux without a desktop theme, Fusion honours the palette Qt reads from the platform.
    if sys.platform.startswith("linux") and app.style().name().lower() == "windows":
        app.setStyle("Fusion")
    return app


def run_self_test(app: QApplication, timeout_s: float = 300.0) -> int:
    """Generate one clip with the tiny model through the real window; 0 when an MP4 was written.

    Packaged builds run this (packaging/build.sh) to prove the bundle holds
    everything a generation needs. It works in a throw-away LTX_MLX_HOME.
    """
    from PySide6.QtCore import QTimer

    from desktop.main_window import MainWindow
    from desktop.settings import AppSettings
    from ltx_mlx_core.weights.tiny import make_tiny_model

    make_tiny_model()
    settings = AppSettings()
    settings.update({"model": "tiny", "width": 128, "height": 96, "fps": 8.0, "seconds": 1.0, "seed": 1,
                     "seed_locked": True, "output_dir": str(paths.data_dir() / "self-test"),
                     "prompt": "self-test: a lighthouse at night"})
    window = MainWindow(settings=settings, show_model_manager_if_empty=False)
    window.show()
    outcome: dict[str, str] = {}
    window.generation_finished.connect(lambda path: (outcome.setdefault("video", path), app.quit()))
    window.generation_failed.connect(lambda message: (outcome.setdefault("error", message), app.quit()))
    QTimer.singleShot(int(timeout_s * 1000), lambda: (outcome.setdefault("error", "timed out"), app.quit()))
    QTimer.singleShot(0, window.generate_action.trigger)
    app.exec()
    window.close()
    video = Path(outcome.get("video", ""))
    if video.is_file() and video.stat().st_size > 0:
        print(f"self-test passed: {video}")
        return 0
    print(f"self-test failed: {outcome.get('error', 'no video')}", file=sys.stderr)
    return 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ltx-mlx-desktop", description="The LTX-MLX desktop app.")
    parser.add_argument("--self-test", action="store_true",
                        help="generate one clip with the tiny model in the real window, then exit")
    return parser.parse_known_args(argv)[0]


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.self_test and not os.environ.get("LTX_MLX_HOME"):
        os.environ["LTX_MLX_HOME"] = tempfile.mkdtemp(prefix="ltx-mlx-self-test-")
    log_file = setup_logging()
    app = make_application([sys.argv[0], *argv])
    log.info("Starting %s (log: %s)", APP_NAME, log_file)
    if args.self_test:
        return run_self_test(app)
    from desktop.main_window import MainWindow

    window = MainWindow()
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

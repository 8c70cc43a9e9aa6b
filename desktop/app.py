"""`ltx-mlx-desktop`: QApplication bootstrap (logging to the log folder, icon, palette, window)."""
from __future__ import annotations

import argparse
import logging
import sys
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


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ltx-mlx-desktop", description="The LTX-MLX desktop app.")
    parser.add_argument("--self-test", action="store_true",
                        help="generate one clip with the tiny model in the real window, then exit")
    return parser.parse_known_args(argv)[0]


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    log_file = setup_logging()
    app = make_application([sys.argv[0], *argv])
    log.info("Starting %s (log: %s)", APP_NAME, log_file)
    if args.self_test:
        from desktop.self_test import run_self_test

        return run_self_test(app)
    from desktop.main_window import MainWindow

    window = MainWindow()
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

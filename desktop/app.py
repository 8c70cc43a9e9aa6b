"""`ltx-mlx-desktop`: QApplication bootstrap (logging to the log folder, icon, palette, window)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QRect, Qt, QThread, QTimer
from PySide6.QtGui import QFont, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QMessageBox, QSplashScreen

from desktop.app_identity import APP_NAME, ICON_PATH
from desktop.blas_threads import limit_blas_threads
from desktop.file_open import file_open_router
from desktop.settings import AppSettings
from desktop.style import install_app_style, style_name
from desktop.warm_up import warm_up
from ltx_mlx_core import paths

log = logging.getLogger(__name__)


def setup_logging() -> Path:
    log_file = paths.log_dir() / "desktop.log"
    handler = RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return log_file


def unexpected_error_message(error: BaseException, log_file: Path) -> str:
    return (
        f"Something went wrong ({type(error).__name__}: {error}). The app keeps running; the details are in {log_file}."
    )


def install_excepthook(log_file: Path) -> None:
    """Unhandled exceptions, a slot's most often, go to the log file with their traceback and to a dialog.

    Qt calls sys.excepthook for an exception a slot raises and carries on; without this
    hook the traceback went only to stderr, which a bundled app does not have.
    """

    def on_exception(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, trace)
            return
        log.critical("Unhandled exception", exc_info=(kind, error, trace))
        app = QApplication.instance()
        if app is not None and QThread.currentThread() is app.thread():
            box = QMessageBox(
                QMessageBox.Icon.Critical,
                APP_NAME,
                unexpected_error_message(error, log_file),
                QMessageBox.StandardButton.Ok,
                QApplication.activeWindow(),
            )
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()  # returns at once: the hook may run inside any slot

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "?"
        log.critical(
            "Unhandled exception in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback)
        )

    sys.excepthook = on_exception
    threading.excepthook = on_thread_exception


def make_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("ltx-mlx")
    app.setApplicationDisplayName(APP_NAME)
    if ICON_PATH.is_file():
        app.setWindowIcon(QIcon(str(ICON_PATH)))
    # The native style on each platform (macOS: "macos"); it follows the system's light/dark palette.
    # On Linux without a desktop theme, Fusion honours the palette Qt reads from the platform.
    linux_fallback = sys.platform.startswith("linux") and style_name(app) == "windows"
    install_app_style(app, "Fusion" if linux_fallback else None)  # with room for tool buttons' menu arrows
    file_open_router(app)  # files dropped on the Dock icon at launch are kept until the window is up
    return app


# What the launch splash says while the generation code is imported (by module name prefix).
SPLASH_MESSAGES = (
    ("ltx_mlx_core.pipeline", "Starting… loading MLX and the pipeline"),
    ("ltx_mlx_core.models", "Starting… loading the models' code"),
    ("ltx_mlx_core.weights", "Starting… loading the weight readers"),
    ("ltx_mlx_core.video", "Starting… loading the video codecs"),
    ("transformers", "Starting… loading the tokenizer"),
)


def splash_message(module: str) -> str:
    return next((text for prefix, text in SPLASH_MESSAGES if module.startswith(prefix)), "Starting…")


def splash_pixmap(app: QApplication) -> QPixmap:
    """The app's icon and name on the window colour, with room below for the message."""
    pixmap = QPixmap(360, 260)
    pixmap.fill(app.palette().color(QPalette.ColorRole.Window))
    painter = QPainter(pixmap)
    if ICON_PATH.is_file():
        painter.drawPixmap(
            120,
            24,
            QPixmap(str(ICON_PATH)).scaled(
                120, 120, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            ),
        )
    font = QFont(app.font())
    font.setPointSizeF(font.pointSizeF() * 1.8)
    painter.setFont(font)
    painter.setPen(app.palette().color(QPalette.ColorRole.WindowText))
    painter.drawText(QRect(0, 150, 360, 50), Qt.AlignmentFlag.AlignCenter, APP_NAME)
    painter.end()
    return pixmap


def start_main_window(app: QApplication, **window_options):
    """Show a "Starting…" splash, import the generation code, then build and show the main window.

    The imports (MLX, the core, transformers) take seconds and hold the GIL the
    whole time, so done in the worker thread while the window runs they would
    freeze its event loop for 200-600 ms at a time. Done here, before the window
    exists, the window's event loop never waits on them. `window_options` go to
    MainWindow; the shown window is returned. Files the system asked the app to
    open meanwhile (QFileOpenEvent) go to it once it is shown.
    """
    splash = QSplashScreen(splash_pixmap(app))
    splash.show()

    def announce(module: str) -> None:
        splash.showMessage(
            splash_message(module),
            Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter,
            app.palette().color(QPalette.ColorRole.WindowText),
        )
        app.processEvents()

    announce("")
    seconds = warm_up(announce)
    log.info("Generation code imported in %.1f s (before the window)", seconds)
    # Imported here, not at the top, to save start-up: desktop.main_window imports MLX and
    # the engine, so importing it with this module would hold the splash back until they
    # load (measured on the 2-core Linux test machine: the splash showed 1.2 s later, at
    # 2.7 s instead of 1.5 s) and load numpy before main() limits its BLAS threads.
    from desktop.main_window import MainWindow

    window = MainWindow(**window_options)
    window.show()
    splash.finish(window)
    file_open_router(app).attach(window)
    return window


def run_self_test(app: QApplication, timeout_s: float = 300.0) -> int:
    """Generate one clip with sound with the tiny LTX-2 model (Gemma on mlx-lm, the audio-video transformer,
    both VAEs and the vocoder) through the real window, then play that clip with its sound in the preview
    player; 0 when an MP4 with a sound track was written and it played.

    Packaged builds run this (packaging/build.sh) to prove the bundle holds
    everything a generation and playback need; it reports whether sound could be
    heard (a machine without a sound output still passes). It works in a
    throw-away LTX_MLX_HOME.
    """
    # Imported here for the reason MainWindow is (above): they import MLX, the models and numpy.
    from desktop.sound_check import SoundCheck
    from ltx_mlx_core.video.probe import probe_media
    from ltx_mlx_core.weights.registry import LTX2, tiny_model_dir
    from ltx_mlx_core.weights.registry_ltx2 import TINY_LTX2_ID
    from ltx_mlx_core.weights.tiny_ltx2 import make_tiny_ltx2_model

    make_tiny_ltx2_model(tiny_model_dir(LTX2))
    settings = AppSettings()
    settings.update(
        {
            "model": TINY_LTX2_ID,
            "width": 128,
            "height": 128,
            "fps": 8.0,
            "seconds": 1.0,
            "seed": 1,
            "seed_locked": True,
            "output_dir": str(paths.data_dir() / "self-test"),
            "prompt": "self-test: a lighthouse at night",
        }
    )
    window = start_main_window(app, settings=settings, show_model_manager_if_empty=False)
    outcome: dict[str, str] = {}
    checks: list[SoundCheck] = []

    def sound_checked(played: bool, report: str) -> None:
        outcome.setdefault("sound" if played else "error", report)
        app.quit()

    def generated(path: str) -> None:
        outcome.setdefault("video", path)
        if probe_media(path).audio_codec is None:
            outcome.setdefault("error", f"the generated clip {path} has no sound track")
            app.quit()
            return
        check = SoundCheck(window.preview, Path(path), window)
        check.finished.connect(sound_checked)
        checks.append(check)
        check.start()

    window.generation_finished.connect(generated)
    window.generation_failed.connect(lambda message: (outcome.setdefault("error", message), app.quit()))
    QTimer.singleShot(int(timeout_s * 1000), lambda: (outcome.setdefault("error", "timed out"), app.quit()))
    QTimer.singleShot(0, window.generate_action.trigger)
    app.exec()
    window.close()
    video = Path(outcome.get("video", ""))
    if video.is_file() and video.stat().st_size > 0 and "sound" in outcome:
        print(f"self-test sound: {outcome['sound']}")
        print(f"self-test passed: {video}")
        return 0
    print(f"self-test failed: {outcome.get('error', 'no video')}", file=sys.stderr)
    return 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ltx-mlx-desktop", description="The LTX-MLX desktop app.")
    parser.add_argument(
        "--self-test", action="store_true", help="generate one clip with the tiny model in the real window, then exit"
    )
    return parser.parse_known_args(argv)[0]


def main(argv: list[str] | None = None) -> int:
    limit_blas_threads()  # before numpy loads, so OpenBLAS never starts its thread pool
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.self_test and not os.environ.get("LTX_MLX_HOME"):
        os.environ["LTX_MLX_HOME"] = tempfile.mkdtemp(prefix="ltx-mlx-self-test-")
    log_file = setup_logging()
    install_excepthook(log_file)
    app = make_application([sys.argv[0], *argv])
    log.info("Starting %s (log: %s)", APP_NAME, log_file)
    if args.self_test:
        return run_self_test(app)
    start_main_window(app)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

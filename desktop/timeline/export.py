"""Exporting the timeline (picture and sound, H.264 + AAC or ProRes + ALAC) on a worker thread: progress
and cancel through signals."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.video.io import VideoWriteCancelled
from ltx_mlx_core.video.stitch import Segment, stitch

logger = logging.getLogger(__name__)


class _StitchWorker(QObject):
    progress = Signal(int, int)
    finished = Signal(str)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(
        self,
        segments: list[Segment],
        output: Path,
        fps: float,
        crf: int,
        preset: str,
        size: tuple[int, int] | None,
        cancel: threading.Event,
        codec: str,
    ):
        super().__init__()
        self.args = (segments, output, fps, crf, preset, size, codec)
        self.cancel = cancel

    @Slot()
    def run(self) -> None:
        segments, output, fps, crf, preset, size, codec = self.args

        def report(done: int, total: int) -> bool:
            if done % 4 == 0 or done == total:
                self.progress.emit(done, total)
            return not self.cancel.is_set()

        try:
            path = stitch(segments, output, fps, crf=crf, preset=preset, progress=report, size=size, codec=codec)
        except VideoWriteCancelled:
            self.cancelled.emit()
        except (LtxMlxError, OSError) as error:
            logger.exception("export failed")
            self.failed.emit(str(error))
        else:
            self.finished.emit(str(path))


class ExportJob(QObject):
    """One export: `start()`, then progress(done, total) and finished(path) / failed(msg) / cancelled()."""

    progress = Signal(int, int)
    finished = Signal(str)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(
        self,
        segments: list[Segment],
        output: Path,
        fps: float,
        crf: int = 18,
        preset: str = "slow",
        size: tuple[int, int] | None = None,
        parent=None,
        codec: str = "h264",
    ):
        super().__init__(parent)
        self._cancel = threading.Event()
        self._thread = QThread()
        self._worker = _StitchWorker(segments, Path(output), fps, crf, preset, size, self._cancel, codec)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self.progress)
        for source, target in (
            (self._worker.finished, self.finished),
            (self._worker.failed, self.failed),
            (self._worker.cancelled, self.cancelled),
        ):
            source.connect(self._thread.quit)
            source.connect(target)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, ms: int = 30000) -> bool:
        return self._thread.wait(ms)

    def is_running(self) -> bool:
        return self._thread.isRunning()

"""The worker that runs one generation off the GUI thread.

`GenerationWorker` lives in a QThread (see generation_service.py). It iterates
the core's event generator and turns each event into a Qt signal; the GUI
thread only ever sees signals. Cancelling sets a threading.Event that the
worker checks after every event (so it stops at the next step) and then closes
the generator, whose GeneratorExit drops the models and frees MLX memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from desktop.hosts_run import WrittenResult
from desktop.warm_up import warm_up
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.pipeline import generate, write_result
from ltx_mlx_core.pipeline.events import Finished, Preview, StageStarted, StepDone
from ltx_mlx_core.pipeline.request import GenerationRequest

log = logging.getLogger(__name__)

GenerateFn = Callable[[GenerationRequest], Iterator[object]]


def user_message(error: BaseException) -> str:
    """Our errors carry a sentence a person can act on; anything else gets its type named."""
    if isinstance(error, LtxMlxError):
        return str(error)
    return f"Unexpected error ({type(error).__name__}): {error}. The log folder has the details."


class GenerationWorker(QObject):
    """Runs jobs one at a time in its thread; talks to the GUI only through signals."""

    stage_started = Signal(str, str, int, int, str)  # job, stage name, index, total, detail
    step = Signal(str, str, int, int, float)  # job, stage, i (1-based), n, eta seconds
    preview = Signal(str, object)  # job, uint8 frames [F, H, W, 3]
    finished = Signal(str, str)  # job, mp4 path
    failed = Signal(str, str)  # job, message
    cancelled = Signal(str)  # job
    ready = Signal(float)  # seconds the warm-up took

    def __init__(self, generate_fn: GenerateFn | None = None, write_fn: Callable | None = None):
        super().__init__()
        self.generate_fn: GenerateFn = generate_fn or generate
        self.write_fn = write_fn  # None: the core's write_result at `video_crf`
        self.video_crf = 18  # set from the GUI thread between jobs (an int assignment is atomic)
        # Job ids asked to stop; a set (not one flag) so a cancel that arrives
        # before its job starts is not lost.
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()

    def request_cancel(self, job_id: str) -> None:
        """Thread-safe: called directly from the GUI thread while `run_job` is busy."""
        with self._lock:
            self._cancelled.add(job_id)

    def _is_cancelled(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._cancelled

    def _write(self, result, output_path: Path) -> list[Path]:
        if isinstance(result, WrittenResult):  # a run across hosts: rank 0 wrote it already
            return result.place(output_path)
        if self.write_fn is None:
            return write_result(result, output_path, crf=self.video_crf)
        return self.write_fn(result, output_path)

    @Slot()
    def warm_up(self) -> None:
        seconds = warm_up()
        log.info("Generation worker ready (imports took %.1f s)", seconds)
        self.ready.emit(seconds)

    @Slot(str, object, str)
    def run_job(self, job_id: str, request: GenerationRequest, output_path: str) -> None:
        events = None
        started = time.monotonic()
        try:
            if self._is_cancelled(job_id):
                self.cancelled.emit(job_id)
                return
            events = self.generate_fn(request)
            for event in events:
                if isinstance(event, StageStarted):
                    self.stage_started.emit(job_id, event.name, event.index, event.total, event.detail)
                elif isinstance(event, StepDone):
                    self.step.emit(job_id, event.stage, event.step, event.total, float(event.eta))
                elif isinstance(event, Preview):
                    self.preview.emit(job_id, event.frames)
                elif isinstance(event, Finished):
                    if self._is_cancelled(job_id):
                        break
                    paths = self._write(event.result, Path(output_path))
                    log.info("Job %s finished in %.1f s: %s", job_id, time.monotonic() - started, paths)
                    self.finished.emit(job_id, str(paths[0]))
                    return
                if self._is_cancelled(job_id):
                    break
            if self._is_cancelled(job_id):
                log.info("Job %s cancelled", job_id)
                self.cancelled.emit(job_id)
            else:
                self.failed.emit(job_id, "The generation ended without a video.")
        except Exception as error:  # the app must survive any failure of a job
            log.exception("Job %s failed", job_id)
            self.failed.emit(job_id, user_message(error))
        finally:
            if events is not None and hasattr(events, "close"):
                # GeneratorExit inside the pipeline drops its models and clears MLX's cache.
                events.close()
            with self._lock:
                self._cancelled.discard(job_id)

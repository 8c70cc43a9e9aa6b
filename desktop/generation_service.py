"""GenerationService: the one owner of the generation thread.

The main window and the timeline (extend, bridge, retake) both submit
`GenerationRequest`s here. Jobs run one at a time, in submission order, on a
single worker thread (one model in memory at a time is the point of the core's
design); the service re-emits the worker's signals on the GUI thread.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from desktop.worker import GenerateFn, GenerationWorker
from ltx_mlx_core.pipeline import generate
from ltx_mlx_core.pipeline.request import GenerationRequest

log = logging.getLogger(__name__)


class GenerationService(QObject):
    """submit() / cancel() from the GUI thread; progress arrives as signals."""

    job_started = Signal(str)  # job
    # job, stage name, the core's detail ('residency: stream_components' for 'load', 'seed 3', ...)
    stage_started = Signal(str, str, str)
    step = Signal(str, int, int, float)  # job, i (1-based), n, eta seconds
    preview = Signal(str, object)  # job, uint8 frames [F, H, W, 3]
    job_finished = Signal(str, str)  # job, mp4 path
    job_failed = Signal(str, str)  # job, user-facing message
    job_cancelled = Signal(str)  # job
    busy_changed = Signal(bool)
    ready = Signal()  # the worker has imported the generation code (jobs submitted before it wait)

    # Carries a job into the worker thread (a queued connection).
    _run = Signal(str, object, str)
    _warm_up = Signal()

    def __init__(
        self, generate_fn: GenerateFn | None = None, parent: QObject | None = None, write_fn: Callable | None = None
    ):
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._pending: deque[tuple[str, GenerationRequest, str]] = deque()
        self._current: str | None = None
        self.last_stage = ""
        self._thread = QThread()
        self._thread.setObjectName("generation-worker")
        self._worker = GenerationWorker(generate_fn, write_fn)
        self._worker.moveToThread(self._thread)
        self._run.connect(self._worker.run_job)
        self._worker.stage_started.connect(self._on_stage)
        self._worker.step.connect(self._on_step)
        self._worker.preview.connect(self.preview)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self._ready = False
        self._warm_up.connect(self._worker.warm_up)
        self._worker.ready.connect(self._on_ready)
        self._thread.start()
        self._warm_up.emit()

    @property
    def worker(self) -> GenerationWorker:
        return self._worker

    @property
    def current_job(self) -> str | None:
        return self._current

    def is_ready(self) -> bool:
        return self._ready

    def _on_ready(self, seconds: float) -> None:
        self._ready = True
        self.ready.emit()

    def is_busy(self) -> bool:
        return self._current is not None

    def set_generate_fn(self, generate_fn: GenerateFn | None) -> None:
        """Swap the generator (tests inject failures); takes effect for the next job."""
        self._worker.generate_fn = generate_fn or generate

    def set_video_quality(self, crf: int) -> None:
        """libx264 CRF of the videos jobs write from now on (File → Settings)."""
        self._worker.video_crf = int(crf)

    def submit(self, request: GenerationRequest, output_path: Path) -> str:
        job_id = f"job-{next(self._ids)}"
        self._pending.append((job_id, request, str(output_path)))
        log.info("Queued %s -> %s", job_id, output_path)
        self._start_next()
        return job_id

    def cancel(self, job_id: str | None = None) -> None:
        """Cancel one job (queued or running), or the running job and the queue when None."""
        if job_id is None:
            dropped = [job for job, _, _ in self._pending]
            self._pending.clear()
            for job in dropped:
                self.job_cancelled.emit(job)
            if self._current is not None:
                self._worker.request_cancel(self._current)
            return
        for entry in list(self._pending):
            if entry[0] == job_id:
                self._pending.remove(entry)
                self.job_cancelled.emit(job_id)
                return
        if job_id == self._current:
            self._worker.request_cancel(job_id)

    def shutdown(self, wait_ms: int = 10000) -> None:
        """Cancel everything and stop the thread (on window close)."""
        self.cancel()
        self._thread.quit()
        if not self._thread.wait(wait_ms):
            log.warning("The generation thread did not stop within %d ms", wait_ms)

    def _start_next(self) -> None:
        if self._current is not None or not self._pending:
            return
        job_id, request, output_path = self._pending.popleft()
        self._current = job_id
        self.last_stage = ""
        self.busy_changed.emit(True)
        self.job_started.emit(job_id)
        self._run.emit(job_id, request, output_path)

    def _job_done(self) -> None:
        self._current = None
        if self._pending:
            self._start_next()
        else:
            self.busy_changed.emit(False)

    def _on_stage(self, job: str, name: str, index: int, total: int, detail: str) -> None:
        self.last_stage = name
        self.stage_started.emit(job, name, detail)

    def _on_step(self, job: str, stage: str, i: int, n: int, eta: float) -> None:
        self.step.emit(job, i, n, eta)

    def _on_finished(self, job: str, path: str) -> None:
        self._job_done()
        self.job_finished.emit(job, path)

    def _on_failed(self, job: str, message: str) -> None:
        self._job_done()
        self.job_failed.emit(job, message)

    def _on_cancelled(self, job: str) -> None:
        self._job_done()
        self.job_cancelled.emit(job)

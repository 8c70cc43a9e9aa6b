"""The worker that runs one generation off the GUI thread.

`GenerationWorker` lives in a QThread (see generation_service.py). It iterates
the core's event generator and turns each event into a Qt signal; the GUI
thread only ever sees signals. Cancelling sets a threading.Event that the
worker checks after every event (so it stops at the next step) and then closes
the generator, whose GeneratorExit drops the models and frees MLX memory.
"""
from __future__ import annotations

import gc
import importlib
import importlib.util
import logging
import pkgutil
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

from PySide6.QtCore import QObject, Signal, Slot

from desktop.blas_threads import limit_blas_threads
from ltx_mlx_core.errors import LtxMlxError
from ltx_mlx_core.pipeline.request import GenerationRequest

log = logging.getLogger(__name__)

GenerateFn = Callable[[GenerationRequest], Iterator[object]]


def default_generate(request: GenerationRequest) -> Iterator[object]:
    """The core's `generate`, imported on first use (in the worker thread: MLX loads there)."""
    from ltx_mlx_core.pipeline import generate

    return generate(request)


def default_write(result, output_path: Path, crf: int = 18) -> list[Path]:
    from ltx_mlx_core.pipeline import write_result

    return write_result(result, output_path, crf=crf)


# Modules a generation imports on first use. Importing them blocks every thread
# (the import machinery and C-extension loading hold the GIL for 100s of ms),
# so they are imported once, before any job: the engine's packages whole (the
# pipeline imports its model, weight and stage modules lazily, inside functions),
# then the third-party modules a job reaches for.
ENGINE_PACKAGES = ("ltx_mlx_core.pipeline", "ltx_mlx_core.models", "ltx_mlx_core.weights", "ltx_mlx_core.video")
WARM_UP_MODULES = ("transformers", "tokenizers", "imageio_ffmpeg", "imageio_ffmpeg.binaries", "PIL.Image")


# transformers resolves its names lazily and not thread-safely: two threads
# importing from it at once can see "cannot import name". Every thread of the
# app that needs these modules goes through import_generation_modules().
_import_lock = threading.Lock()


def generation_module_names() -> list[str]:
    """Every module of ENGINE_PACKAGES (found on disk, not imported yet), then WARM_UP_MODULES."""
    names: list[str] = []
    for package_name in ENGINE_PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        names.extend(info.name for info in pkgutil.walk_packages(package.__path__, package_name + "."))
    return names + list(WARM_UP_MODULES)


def import_generation_modules(progress: Optional[Callable[[str], None]] = None) -> None:
    """Import the generation's modules (idempotent; serialised across threads).

    `progress(module_name)` is called before each import (the launch splash shows it).
    A module that cannot be imported (an optional dependency missing) is logged
    and skipped: the job that needs it reports the error.
    """
    with _import_lock:
        for name in generation_module_names():
            if progress is not None:
                progress(name)
            try:
                if importlib.util.find_spec(name) is not None:
                    importlib.import_module(name)
            except ImportError as error:
                log.info("Not importing %s ahead of use: %s", name, error)
        if importlib.util.find_spec("transformers") is not None:
            from transformers import AutoTokenizer, PreTrainedTokenizerFast  # noqa: F401  (the slow lazy chain)


def warm_up(progress: Optional[Callable[[str], None]] = None) -> float:
    """Import the generation's modules, then freeze the GC heap; returns the seconds taken.

    gc.freeze() moves every object alive now (hundreds of thousands after these
    imports) out of the collector's reach, so the full collection the pipeline
    runs when a job ends scans only that job's objects: without it, that
    collection holds the GIL long enough to stall the GUI by ~300 ms.

    The app calls this on the GUI thread before its window is shown (behind the
    launch splash, see app.start_main_window): imports hold the GIL, so doing
    them in the worker while the window runs stalls its event loop by 200-600 ms.
    The worker calls it again when it starts; by then it costs milliseconds.
    It also keeps numpy's BLAS on one thread (see blas_threads).
    """
    started = time.monotonic()
    limit_blas_threads()
    import_generation_modules(progress)
    gc.collect()
    gc.freeze()
    return time.monotonic() - started


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

    def __init__(self, generate_fn: Optional[GenerateFn] = None,
                 write_fn: Optional[Callable] = None):
        super().__init__()
        self.generate_fn: GenerateFn = generate_fn or default_generate
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
        if self.write_fn is None:
            return default_write(result, output_path, crf=self.video_crf)
        return self.write_fn(result, output_path)

    @Slot()
    def warm_up(self) -> None:
        seconds = warm_up()
        log.info("Generation worker ready (imports took %.1f s)", seconds)
        self.ready.emit(seconds)

    @Slot(str, object, str)
    def run_job(self, job_id: str, request: GenerationRequest, output_path: str) -> None:
        from ltx_mlx_core.pipeline.events import Finished, Preview, StageStarted, StepDone

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

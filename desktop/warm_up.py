"""Importing the generation's code ahead of the first job, in one place (splash, worker, model tasks).

This module imports only the standard library on purpose: the app imports it
before its launch splash is up, and the splash reports what `warm_up` imports.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import logging
import pkgutil
import threading
import time
from collections.abc import Callable

from desktop.blas_threads import limit_blas_threads

log = logging.getLogger(__name__)

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


def import_generation_modules(progress: Callable[[str], None] | None = None) -> None:
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
            transformers = importlib.import_module("transformers")
            for lazy_name in ("AutoTokenizer", "PreTrainedTokenizerFast"):  # the slow lazy chain
                getattr(transformers, lazy_name)


def warm_up(progress: Callable[[str], None] | None = None) -> float:
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

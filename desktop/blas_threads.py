"""Keep numpy's BLAS on one thread in the app, so that its calls never freeze the window.

numpy's linear algebra holds the GIL while it runs. With OpenBLAS (numpy's
wheels on Linux) its thread pool synchronises by waiting: on a busy machine
a thread waits for a sibling the OS has not scheduled, and the 129x129 solve
that fits the live-preview colours (0.4 ms alone) took 100 ms with the GIL
held, stalling the GUI thread just as long. The app's numpy work is small
(preview colours, frame copies; MLX does the heavy lifting), so one thread
costs nothing. A user's own OPENBLAS_NUM_THREADS is respected.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

VARIABLE = "OPENBLAS_NUM_THREADS"
# The thread-count setters of numpy's bundled OpenBLAS (scipy-openblas renames its symbols) and of a plain one.
SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads_64_",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


def limit_blas_threads() -> bool:
    """One BLAS thread (unless the user chose a number); True when a loaded OpenBLAS was told so.

    Before numpy is imported the environment variable is enough; once it is
    loaded, its OpenBLAS is set through its own setter.
    """
    os.environ.setdefault(VARIABLE, "1")
    if os.environ[VARIABLE] != "1" or "numpy" not in sys.modules:
        return False
    numpy_dir = Path(sys.modules["numpy"].__file__).resolve().parent
    folders = (numpy_dir.parent / "numpy.libs", numpy_dir / ".dylibs")  # Linux and macOS wheels
    for library in sorted(lib for folder in folders for lib in folder.glob("*openblas*")):
        try:
            handle = ctypes.CDLL(str(library))
        except OSError as error:
            log.info("Cannot open %s to limit its threads: %s", library.name, error)
            continue
        for name in SETTERS:
            setter = getattr(handle, name, None)
            if setter is not None:
                setter(ctypes.c_int(1))
                log.info("numpy's OpenBLAS limited to one thread (%s)", name)
                return True
    log.debug("numpy bundles no OpenBLAS (another BLAS, e.g. Accelerate): nothing to limit")
    return False

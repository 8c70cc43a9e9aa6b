"""numpy's bundled OpenBLAS runs on one thread once the app (or its generation worker) has started."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest

from desktop.blas_threads import limit_blas_threads


def bundled_openblas():
    numpy_dir = Path(np.__file__).resolve().parent
    found = sorted(
        lib for folder in (numpy_dir.parent / "numpy.libs", numpy_dir / ".dylibs") for lib in folder.glob("*openblas*")
    )
    return ctypes.CDLL(str(found[0])) if found else None


def test_limit_blas_threads_leaves_numpy_openblas_one_thread(monkeypatch):
    library = bundled_openblas()
    if library is None:
        pytest.skip("this numpy uses another BLAS (e.g. Accelerate)")
    getter = next(
        getattr(library, name)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads")
        if hasattr(library, name)
    )
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert limit_blas_threads()
    assert getter() == 1
    # Still correct: the solve the live preview's colour fit does.
    rng = np.random.default_rng(0)
    a = rng.standard_normal((129, 129)).astype(np.float32)
    gram, rhs = a.T @ a + np.eye(129, dtype=np.float32), rng.standard_normal((129, 3)).astype(np.float32)
    solution = np.linalg.solve(gram, rhs)
    assert np.allclose(gram @ solution, rhs, atol=1e-2)


def test_a_users_own_thread_count_is_respected(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert not limit_blas_threads()

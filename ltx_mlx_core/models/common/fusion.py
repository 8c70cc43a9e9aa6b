"""Elementwise chains fused into one kernel with mx.compile where that pays (GPU backends)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TypeVar

import mlx.core as mx

ElementwiseFn = TypeVar("ElementwiseFn", bound=Callable[..., mx.array])

_fuse_on_cpu = False


@contextlib.contextmanager
def fused_on_every_device() -> Iterator[None]:
    """Take the fused forms on the CPU too: to build (and count) the graph a GPU runs, without one.

    Evaluating such a graph on the CPU compiles its fused kernels with the system compiler.
    """
    global _fuse_on_cpu
    previous, _fuse_on_cpu = _fuse_on_cpu, True
    try:
        yield
    finally:
        _fuse_on_cpu = previous


def fusing_here() -> bool:
    """Whether fused kernels run on the default device (a GPU, or any device inside
    `fused_on_every_device`); tools that count a GPU's operations on the CPU may replace this."""
    return _fuse_on_cpu or mx.default_device().type == mx.gpu


def fuse_elementwise_on_gpu(function: ElementwiseFn) -> ElementwiseFn:
    """Run `function` through mx.compile (one fused kernel) when the default device is a GPU.

    On the CPU backend mx.compile builds each fused kernel with the system C++ compiler, which
    costs more than it saves for the small models tests and CPU runs use.
    """
    compiled = mx.compile(function)

    @functools.wraps(function)
    def dispatch(*args: mx.array) -> mx.array:
        return compiled(*args) if fusing_here() else function(*args)

    dispatch.compiled = compiled  # type: ignore[attr-defined]  # tests run the fused form on CPU
    return dispatch  # type: ignore[return-value]

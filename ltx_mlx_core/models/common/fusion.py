"""Elementwise chains fused into one kernel with mx.compile where that pays (GPU backends)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import mlx.core as mx

ElementwiseFn = TypeVar("ElementwiseFn", bound=Callable[..., mx.array])


def fusing_here() -> bool:
    """Whether fused kernels run on the default device (a GPU); tools that count a GPU's operations
    on the CPU replace this."""
    return mx.default_device().type == mx.gpu


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

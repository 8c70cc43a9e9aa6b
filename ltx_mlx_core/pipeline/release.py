"""Giving a freed model's memory back: reference counting first, a full garbage collection only when needed.

Dropping the last reference to a model frees its MLX arrays at once. Only arrays held by a
reference cycle wait for Python's cyclic collector, and a full `gc.collect()` walks every object
in the process: about 220,000 in a pipeline process (imports, the tokenizer), 0.14 s a pass on a
CPU and 0.21-0.26 s on the H200 machine, where an LTX-2 generation made three such passes (0.67 s
of its 5.3 s, docs/PERFORMANCE.md). So the pipeline says how much MLX memory should remain once
its references are gone, and collects only when more remains: whatever holds a model, it is freed
before the next one loads.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Iterable, Iterator
from typing import TypeVar

import mlx.core as mx

log = logging.getLogger(__name__)
EventT = TypeVar("EventT")

# Allocations that may outlive a stage without being a model: previews, small caches, rounding.
SLACK_BYTES = 64 << 20


def nbytes(arrays: Iterable[mx.array | None]) -> int:
    return sum(array.nbytes for array in arrays if array is not None)


def release_memory(expected_active_bytes: int | None = None) -> bool:
    """Return MLX's unused buffers to the system. Collect reference cycles first when more than
    `expected_active_bytes` (plus SLACK_BYTES) is still allocated, or when no expectation is given.
    True when it collected."""
    active = mx.get_active_memory()
    collect = expected_active_bytes is None or active > expected_active_bytes + SLACK_BYTES
    if collect:
        if expected_active_bytes is not None:
            log.debug(
                "%.1f MiB more allocated than expected after release: collecting cycles",
                (active - expected_active_bytes) / 2**20,
            )
        gc.collect()
    mx.clear_cache()
    return collect


@contextlib.contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """While a generation runs, leave the objects that existed before it out of the collector's passes.

    Python also collects on its own as a generation builds its modules, and each full pass walks
    the whole process (0.21 s on the H200 machine). Objects created during the generation (its
    models, their arrays) are still collected; the frozen ones are returned to the collector when
    the generation ends or is closed. A process that froze its heap itself (the app does, once its
    modules are imported: desktop/warm_up.py) keeps it as it is: Python cannot unfreeze a part."""
    frozen_here = gc.get_freeze_count() == 0
    if frozen_here:
        gc.freeze()
    try:
        yield
    finally:
        if frozen_here:
            gc.unfreeze()


def with_long_lived_objects_frozen(events: Iterator[EventT]) -> Iterator[EventT]:
    """`events`, run inside `long_lived_objects_frozen` (from its first event to its end or close)."""
    with long_lived_objects_frozen():
        yield from events

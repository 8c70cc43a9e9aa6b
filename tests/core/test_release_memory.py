"""release_memory: reference counting frees a dropped model at once; a full collection runs only
when arrays held by a reference cycle are still allocated, and then frees them."""

from __future__ import annotations

import gc

import mlx.core as mx
import pytest

from ltx_mlx_core.pipeline import release
from ltx_mlx_core.pipeline.release import (
    SLACK_BYTES,
    long_lived_objects_frozen,
    nbytes,
    release_memory,
    with_long_lived_objects_frozen,
)

BIG = SLACK_BYTES  # float32 elements: four times the slack, in bytes


class _Cycle:
    def __init__(self, array: mx.array):
        self.array = array
        self.me = self


@pytest.fixture
def unfrozen_heap():
    """A heap nobody froze (earlier tests may have run the app's warm-up, which freezes it); restored after."""
    frozen_before = gc.get_freeze_count()
    gc.unfreeze()
    yield
    if frozen_before:
        gc.freeze()


@pytest.fixture
def collections(monkeypatch):
    calls = []
    real = gc.collect
    monkeypatch.setattr(release.gc, "collect", lambda *a: calls.append(a) or real(*a))
    return calls


def test_a_dropped_array_needs_no_collection(collections) -> None:
    before = mx.get_active_memory()
    array = mx.zeros((BIG,))
    mx.eval(array)
    assert mx.get_active_memory() >= before + array.nbytes
    array = None  # noqa: F841
    assert release_memory(before) is False
    assert collections == []
    assert mx.get_active_memory() <= before + SLACK_BYTES


def test_an_array_held_by_a_cycle_is_collected_and_freed(collections) -> None:
    gc.disable()  # no automatic pass may free the cycle before release_memory looks
    try:
        before = mx.get_active_memory()
        holder = _Cycle(mx.zeros((BIG,)))
        mx.eval(holder.array)
        holder = None
        assert mx.get_active_memory() >= before + 4 * SLACK_BYTES
        assert release_memory(before) is True
    finally:
        gc.enable()
    assert len(collections) == 1
    assert mx.get_active_memory() <= before + SLACK_BYTES


def test_what_is_kept_on_purpose_is_expected(collections) -> None:
    before = mx.get_active_memory()
    kept = mx.ones((BIG,))
    mx.eval(kept)
    assert release_memory(before + nbytes([kept, None])) is False
    assert release_memory(before) is True  # the same array, not declared: looked for in cycles
    assert len(collections) == 1


def test_no_expectation_always_collects(collections) -> None:
    assert release_memory() is True
    assert len(collections) == 1


def test_objects_made_while_frozen_are_still_collected(collections, unfrozen_heap) -> None:
    existing = [object()]  # noqa: F841  (a long-lived object: frozen for the duration)
    before = mx.get_active_memory()
    with long_lived_objects_frozen():
        assert gc.get_freeze_count() > 0
        gc.disable()
        try:
            holder = _Cycle(mx.zeros((BIG,)))
            mx.eval(holder.array)
            holder = None
            assert release_memory(before) is True
        finally:
            gc.enable()
        assert mx.get_active_memory() <= before + SLACK_BYTES
    assert gc.get_freeze_count() == 0


def test_a_closed_event_stream_unfreezes(unfrozen_heap) -> None:
    def events():
        yield gc.get_freeze_count()
        yield gc.get_freeze_count()

    stream = with_long_lived_objects_frozen(events())
    assert next(stream) > 0
    stream.close()
    assert gc.get_freeze_count() == 0
    assert list(with_long_lived_objects_frozen(events()))[0] > 0
    assert gc.get_freeze_count() == 0


def test_a_heap_the_process_froze_itself_stays_frozen() -> None:
    # The app freezes its imported modules once (desktop/warm_up.py); a generation must not undo that.
    # The count alone cannot tell: frozen objects that die leave it. An object frozen before the
    # runs must still be outside every generation the collector walks after them.
    imported = ["a long-lived object"]
    gc.freeze()
    try:
        list(with_long_lived_objects_frozen(iter(range(3))))
        with long_lived_objects_frozen():
            pass
        assert gc.get_freeze_count() > 0
        assert all(obj is not imported for obj in gc.get_objects())
    finally:
        gc.unfreeze()
    assert any(obj is imported for obj in gc.get_objects())  # the check above can see it when unfrozen

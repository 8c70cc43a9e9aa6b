"""The background-task helper: results, progress and errors reach the GUI thread, never a deleted receiver."""

from __future__ import annotations

import logging
import threading
import weakref

import pytest
import shiboken6
from PySide6.QtCore import QObject, QThread, QThreadPool
from PySide6.QtWidgets import QApplication, QWidget

from desktop.background import run_in_thread_pool


@pytest.fixture
def pool():
    """One worker thread, so tasks finish in the order they were started."""
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    yield pool
    pool.waitForDone(5000)


def test_progress_then_the_result_arrive_on_the_gui_thread(qtbot, pool):
    receiver = QWidget()
    qtbot.addWidget(receiver)
    seen: list[tuple[str, object, bool]] = []
    gui = QApplication.instance().thread()

    def work(progress):
        assert QThread.currentThread() is not gui
        progress(1)
        progress(2)
        return "done"

    dispatcher = run_in_thread_pool(
        work,
        receiver,
        name="count",
        pool=pool,
        on_progress=lambda value: seen.append(("progress", value, QThread.currentThread() is gui)),
        on_result=lambda value: seen.append(("result", value, QThread.currentThread() is gui)),
    )
    with qtbot.waitSignal(dispatcher.result, timeout=5000):
        pass
    assert seen == [("progress", 1, True), ("progress", 2, True), ("result", "done", True)]


def test_an_error_is_delivered_and_an_unexpected_one_is_logged(qtbot, pool, caplog):
    receiver = QObject()
    errors: list[BaseException] = []

    def fail(progress):
        raise ValueError("no such clip")

    with caplog.at_level(logging.ERROR, logger="desktop.background"):
        expected = run_in_thread_pool(
            fail, receiver, name="expected", pool=pool, on_error=errors.append, expected=(ValueError,)
        )
        with qtbot.waitSignal(expected.error, timeout=5000):
            pass
        assert not caplog.records, "an expected failure is the receiver's to report"
        unexpected = run_in_thread_pool(fail, receiver, name="unexpected", pool=pool, on_error=errors.append)
        with qtbot.waitSignal(unexpected.error, timeout=5000):
            pass
    assert [str(e) for e in errors] == ["no such clip", "no such clip"]
    assert [r.message for r in caplog.records] == ["Background task 'unexpected' failed"]
    assert caplog.records[0].exc_info is not None


def test_nothing_reaches_a_receiver_deleted_before_its_task_finishes(qtbot, pool):
    release = threading.Event()
    doomed, survivor = QWidget(), QWidget()
    qtbot.addWidget(survivor)
    delivered: list[str] = []

    def slow(progress):
        release.wait(5)
        progress("late progress")
        return "late result"

    doomed_dispatcher = run_in_thread_pool(
        slow,
        doomed,
        name="doomed",
        pool=pool,
        on_progress=lambda value: delivered.append(f"doomed {value}"),
        on_result=lambda value: delivered.append(f"doomed {value}"),
    )
    survivor_dispatcher = run_in_thread_pool(
        lambda progress: "on time",
        survivor,
        name="survivor",
        pool=pool,
        on_result=lambda value: delivered.append(f"survivor {value}"),
    )
    shiboken6.delete(doomed)  # the window closed while its work ran
    release.set()
    # One pool thread: the doomed task emitted first, so its signals would be delivered first.
    with qtbot.waitSignal(survivor_dispatcher.result, timeout=5000):
        pass
    assert delivered == ["survivor on time"]
    qtbot.waitUntil(lambda: not shiboken6.isValid(doomed_dispatcher), timeout=2000)


def test_a_dispatcher_is_deleted_once_its_outcome_is_delivered(qtbot, pool):
    receiver = QObject()
    dispatchers = [
        run_in_thread_pool(lambda progress: 1, receiver, name="one", pool=pool),
        run_in_thread_pool(lambda progress: 1 / 0, receiver, name="two", pool=pool, expected=(ZeroDivisionError,)),
    ]
    with qtbot.waitSignals([dispatchers[0].result, dispatchers[1].error], timeout=5000):
        pass
    qtbot.waitUntil(lambda: not any(shiboken6.isValid(d) for d in dispatchers), timeout=2000)


def test_callbacks_holding_the_only_reference_to_their_receiver_are_released_safely(qtbot, pool):
    """A receiver only the callbacks keep alive goes when the task is done (no double delete)."""

    class Receiver(QWidget):
        pass

    outcome: list[object] = []

    def start() -> weakref.ref:
        receiver = Receiver()
        run_in_thread_pool(
            lambda progress: 2,
            receiver,
            name="orphan",
            pool=pool,
            on_result=lambda value: outcome.append((type(receiver).__name__, value)),
        )
        return weakref.ref(receiver)

    receiver = start()
    qtbot.waitUntil(lambda: outcome == [("Receiver", 2)], timeout=5000)
    qtbot.waitUntil(lambda: receiver() is None, timeout=2000)  # released with the dispatcher

"""Background work that is not generation (thumbnails, clip decoding, model downloads), in one helper.

`run_in_thread_pool(work, receiver, ...)` runs `work(progress)` on a QThreadPool
(Qt's global one unless told). What it reports (each value given to `progress`,
what it returns, or what it raises) reaches the GUI thread through the task's
`TaskDispatcher`, and only while `receiver` still exists: a widget closed while
its work runs is never called back, and the pool thread never touches a widget.

The dispatcher is a child of the application, not of the receiver, and deletes
itself once the outcome is delivered. (As the receiver's child it would die with
it, but the callbacks connected to it usually close over the receiver: deleting
the dispatcher can drop the last reference to a receiver that Python owns, which
would then delete its children, the dispatcher among them, a second time.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

Progress = Callable[[object], None]
Work = Callable[[Progress], object]


class TaskDispatcher(QObject):
    """One task's signals; they fire on the GUI thread, and only while the task's receiver exists."""

    result = Signal(object)  # what `work` returned
    error = Signal(object)  # the exception `work` raised
    progress = Signal(object)  # each value `work` passed to its progress callback

    # Emitted on the pool thread; queued to the GUI thread, where the dispatcher lives.
    _result_ready = Signal(object)
    _error_ready = Signal(object)
    _progress_ready = Signal(object)

    def __init__(self, receiver: QObject):
        super().__init__(QCoreApplication.instance())
        self._receiver = receiver
        queued = Qt.ConnectionType.QueuedConnection
        self._result_ready.connect(self._deliver_result, queued)
        self._error_ready.connect(self._deliver_error, queued)
        self._progress_ready.connect(self._deliver_progress, queued)

    def _receiver_exists(self) -> bool:
        return self._receiver is not None and shiboken6.isValid(self._receiver)

    @Slot(object)
    def _deliver_progress(self, value: object) -> None:
        if self._receiver_exists():
            self.progress.emit(value)

    @Slot(object)
    def _deliver_result(self, value: object) -> None:
        if self._receiver_exists():
            self.result.emit(value)
        self._done()

    @Slot(object)
    def _deliver_error(self, error: object) -> None:
        if self._receiver_exists():
            self.error.emit(error)
        self._done()

    def _done(self) -> None:
        self._receiver = None
        self.deleteLater()


class BackgroundTask(QRunnable):
    """Runs `work(progress)` once and reports through `dispatcher` (see the module's docstring).

    `work` runs on a pool thread: it must neither touch nor hold a widget.
    """

    def __init__(self, work: Work, receiver: QObject, name: str, expected: tuple[type[BaseException], ...] = ()):
        super().__init__()
        self.name = name
        self._work = work
        self._expected = expected
        self.dispatcher = TaskDispatcher(receiver)

    def run(self) -> None:
        dispatcher = self.dispatcher
        try:
            value = self._work(dispatcher._progress_ready.emit)
        except Exception as error:  # every failure goes to the receiver; the pool thread carries on
            if not isinstance(error, self._expected):
                log.exception("Background task '%s' failed", self.name)
            dispatcher._error_ready.emit(error)
        else:
            dispatcher._result_ready.emit(value)


def run_in_thread_pool(
    work: Work,
    receiver: QObject,
    *,
    name: str,
    on_result: Callable[[object], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_progress: Callable[[object], None] | None = None,
    expected: tuple[type[BaseException], ...] = (),
    pool: QThreadPool | None = None,
) -> TaskDispatcher:
    """Start `work(progress)` on `pool`; the callbacks run on the GUI thread while `receiver` exists.

    Exceptions of the `expected` types are the receiver's to report; any other is also
    logged with its traceback. Returns the task's dispatcher (connect more to it if needed).
    Call it from the GUI thread.
    """
    task = BackgroundTask(work, receiver, name, expected)
    for signal, callback in (
        (task.dispatcher.result, on_result),
        (task.dispatcher.error, on_error),
        (task.dispatcher.progress, on_progress),
    ):
        if callback is not None:
            signal.connect(callback)
    (pool or QThreadPool.globalInstance()).start(task)
    return task.dispatcher

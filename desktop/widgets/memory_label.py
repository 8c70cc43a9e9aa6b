"""Status-bar label with the memory in use, refreshed every second.

It reads the process's resident memory (what the OS charges the app) and, once
the worker thread has loaded MLX, MLX's own active and peak allocations. It
never imports MLX itself: the GUI thread stays free of model code.
"""

from __future__ import annotations

import os
import resource
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

MIB = 1024 * 1024


def resident_bytes() -> int | None:
    """Current resident set size; None where the platform gives no cheap way to read it."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    if sys.platform == "darwin":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS
    return None


def memory_text() -> str:
    parts = []
    rss = resident_bytes()
    if rss is not None:
        # macOS gives only the peak cheaply; say so rather than pass it off as current.
        label = "Peak memory" if sys.platform == "darwin" else "Memory"
        parts.append(f"{label}: {rss / MIB:,.0f} MiB")
    # The worker thread may be importing MLX right now: a partly initialised module lacks these.
    mx = sys.modules.get("mlx.core")
    active, peak = getattr(mx, "get_active_memory", None), getattr(mx, "get_peak_memory", None)
    if callable(active) and callable(peak):
        parts.append(f"MLX active {active() / MIB:,.0f} MiB, peak {peak() / MIB:,.0f} MiB")
    return " · ".join(parts) or "Memory: unknown"


class MemoryLabel(QLabel):
    def __init__(self, parent: QWidget | None = None, interval_ms: int = 1000):
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(interval_ms)
        self.refresh()

    def refresh(self) -> None:
        self.setText(memory_text())

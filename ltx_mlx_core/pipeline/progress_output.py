"""How `ltx-mlx generate` shows a run's progress: a line for people, JSON lines for programs.

`ProgressLine` redraws one stderr line. `JsonProgress` (--progress-json) writes one object per
line, each written and flushed whole:

    {"event": "stage", "name": "first_pass", "index": 2, "total": 5, "detail": ""}
    {"event": "step", "stage": "first_pass", "step": 3, "total": 8, "elapsed": 1.2, "eta": 2.0, "skipped": 0}
    {"event": "finished", "outputs": ["/path/clip.mp4"], "parallel": {"mode": "tensor", ...}}
    {"event": "error", "kind": "HostLost", "message": "Another machine of the group stopped answering ..."}

Previews are left out (frames do not belong in a text stream). Under `mlx.launch` only rank 0
writes them, so the launcher's merged stderr carries one run's events; a reader skips any line
that is not such an object (the launcher's and the ranks' own messages share the stream).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ltx_mlx_core.pipeline.events import Event, Finished, StageStarted, StepDone, VideoResult

STDERR = "stderr"


def progress_destination(text: str) -> str:
    """argparse type of --progress-json: 'stderr' or an open file descriptor's number."""
    if text == STDERR or (text.isdigit() and int(text) > 2):
        return text
    raise argparse.ArgumentTypeError(f"'{text}' is neither 'stderr' nor a file descriptor number above 2")


def open_destination(destination: str) -> TextIO:
    if destination == STDERR:
        return sys.stderr
    return os.fdopen(int(destination), "w", buffering=1, closefd=False)


class ProgressLine:
    """One stderr line updated with \\r: stage, step i/N, elapsed and ETA."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.stage = ""
        self.stage_detail = ""
        self.started = time.monotonic()
        self._open = False

    def on_event(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            self.end_line()
            self.stage = event.name
            self.stage_detail = event.detail
            self._write(f"[{event.index}/{event.total}] {event.name}" + (f" ({event.detail})" if event.detail else ""))
        elif isinstance(event, StepDone):
            width = 24
            filled = int(width * event.step / max(1, event.total))
            bar = "#" * filled + "-" * (width - filled)
            skipped = f", {event.skipped} skipped" if event.skipped else ""
            self._write(
                f"{event.stage:<12} |{bar}| {event.step}/{event.total} "
                f"{event.elapsed:6.1f}s elapsed, ETA {event.eta:6.1f}s{skipped}"
            )
        elif isinstance(event, Finished):
            self.end_line()
            self.stream.write(f"done in {time.monotonic() - self.started:.1f}s\n")
            self.stream.flush()

    def _write(self, text: str) -> None:
        self.stream.write("\r" + text.ljust(78))
        self.stream.flush()
        self._open = True

    def end_line(self) -> None:
        if self._open:
            self.stream.write("\n")
            self._open = False


class JsonProgress:
    """Writes the events a run yields, then how it ended, one JSON object per line."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def on_event(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            self._write(event="stage", name=event.name, index=event.index, total=event.total, detail=event.detail)
        elif isinstance(event, StepDone):
            self._write(
                event="step",
                stage=event.stage,
                step=event.step,
                total=event.total,
                elapsed=round(event.elapsed, 3),
                eta=round(event.eta, 3),
                skipped=event.skipped,
            )

    def finished(self, outputs: list[Path], result: VideoResult | None) -> None:
        parallel = result.parallel if result is not None else {}
        self._write(event="finished", outputs=[str(path) for path in outputs], parallel=parallel)

    def failed(self, error: BaseException) -> None:
        self._write(event="error", kind=type(error).__name__, message=str(error))

    def _write(self, **fields: Any) -> None:
        # One write per line: the launcher forwards the ranks' output in chunks, never mid-write.
        self.stream.write(json.dumps(fields, default=str) + "\n")
        self.stream.flush()


def parse_progress_line(line: str) -> dict[str, Any] | None:
    """The event a line of the stream holds, or None for any other line."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("event"), str) else None

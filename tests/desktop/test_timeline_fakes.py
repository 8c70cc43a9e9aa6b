"""Helpers for the timeline's GUI tests: coloured clips and a GenerationService stand-in.

The stand-in has the real service's signals and submit/cancel; it "generates"
a clip of the requested length on the next event-loop turn (solid colour from
the seed), so timeline logic is tested without a model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ltx_mlx_core.video.io import write_video


def coloured_clip(path: Path, frames: int, colour, size=(96, 64), fps: float = 24.0) -> Path:
    video = np.empty((frames, size[1], size[0], 3), np.uint8)
    video[...] = colour
    video[:, :, : size[0] // 8] = (np.arange(frames) * 255 // max(1, frames - 1))[:, None, None, None]
    return write_video(path, video, fps, crf=18, preset="ultrafast")


class FakeService(QObject):
    job_finished = Signal(str, str)
    job_failed = Signal(str, str)
    job_cancelled = Signal(str)
    step = Signal(str, int, int, float)

    def __init__(self, folder: Path, produce: bool = False):
        super().__init__()
        self.folder = folder
        self.produce = produce
        self.requests = []
        self.cancelled = []

    def submit(self, request, output_path) -> str:
        self.requests.append(request)
        job = f"job-{len(self.requests)}"
        if self.produce:
            QTimer.singleShot(0, lambda: self._finish(job, request, Path(output_path)))
        return job

    def _finish(self, job: str, request, output: Path) -> None:
        colour = [(request.seed * 53 + k * 91) % 256 for k in range(3)]
        coloured_clip(output, request.num_frames, colour, size=(request.width, request.height), fps=request.fps)
        self.job_finished.emit(job, str(output))

    def cancel(self, job_id=None) -> None:
        self.cancelled.append(job_id)
        self.job_cancelled.emit(job_id)
